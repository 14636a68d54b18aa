"""Item 4: load across processes, concurrent MCP-over-HTTP clients mixing reads and writes.

Against one `sis serve` process, and against `sis serve --workers 2` when `sis serve --help` lists
--workers (issue 21 adds it; until then the run says so). Each client has its own API key and its own
MCP session and cycles: query_roster, find_missing_immunizations, get_student, enroll_student then
withdraw_enrollment on a (student, offering) pair of its own. Afterwards every acknowledged write is
looked up in the database (lost writes), and `sis audit verify` checks the hash chains.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from bench.databases import bench_keys, campuses, root_of
from bench.harness import ROOT, SIS, McpError, Series, WireClient, rss_mib, serve_help, sis_env, sis_server
from bench.report import Section, ms
from db.models import OfferingStatus, ProgramOffering

CAMPUSES_WRITTEN = 8


@dataclass
class LoadRun:
    label: str
    clients: int
    seconds: float
    latencies: Series = field(default_factory=Series)
    by_tool: dict[str, Series] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    enrolled: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    rss_before: float = 0.0
    rss_after: float = 0.0
    elapsed: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.latencies.values)


def workers_available() -> bool:
    return "--workers" in serve_help()


def bench_offerings(engine: Engine, tag: str) -> dict[uuid.UUID, uuid.UUID]:
    """campus -> a new open camp offering there (any grade, no cap) for the load's enroll/withdraw pairs."""
    today = dt.date.today()
    made: dict[uuid.UUID, uuid.UUID] = {}
    with Session(engine) as session, session.begin():
        for campus in campuses(engine)[:CAMPUSES_WRITTEN]:
            template = (
                session.execute(
                    select(ProgramOffering).where(ProgramOffering.org_id == campus, ProgramOffering.name.like("%Camp%"))
                )
                .scalars()
                .first()
                or session.execute(select(ProgramOffering).where(ProgramOffering.org_id == campus)).scalars().first()
            )
            if template is None:
                continue
            offering = ProgramOffering(
                id=uuid.uuid4(), program_id=template.program_id, org_id=campus, name=f"Bench load {tag}",
                session_label=f"bench-{tag}", start_on=today - dt.timedelta(days=1),
                end_on=today + dt.timedelta(days=200), status=OfferingStatus.OPEN, capacity=None,
                tuition_cents=0, grade_min=-1, grade_max=12,
            )  # fmt: skip
            session.add(offering)
            made[campus] = offering.id
    return made


def pairs_for(engine: Engine, offerings: dict[uuid.UUID, uuid.UUID]) -> list[tuple[str, str]]:
    """(student, offering) pairs: students enrolled at each campus today, with that campus's bench offering."""
    out: list[tuple[str, str]] = []
    with engine.connect() as conn:
        for campus, offering in offerings.items():
            for (student,) in conn.execute(
                text("SELECT DISTINCT student_id FROM enrollment WHERE org_id = :c AND status = 'active' LIMIT 2000"),
                {"c": str(campus)},
            ):
                out.append((str(student), str(offering)))
    return out


def drive(server_url: str, keys: list[str], run: LoadRun, pairs: list[tuple[str, str]], engine: Engine) -> None:
    """`run.clients` threads, each with its own key and MCP session, calling the mix until the time is up."""
    campus_ids = [str(c) for c in campuses(engine)[:CAMPUSES_WRITTEN]]
    lock = threading.Lock()
    shares = [pairs[i :: run.clients] for i in range(run.clients)]
    stop = time.perf_counter() + run.seconds
    today = dt.date.today().isoformat()

    def client(n: int) -> None:
        try:
            wire = WireClient(server_url, keys[n], timeout=60)
        except (McpError, OSError) as err:
            with lock:
                run.errors[f"initialize: {str(err)[:80]}"] += 1
            return
        mine = iter(shares[n])
        turn = 0
        while time.perf_counter() < stop:
            campus = campus_ids[(n + turn) % len(campus_ids)]
            student, offering = next(mine, (None, None))
            calls: list[tuple[str, dict[str, object]]] = [
                ("query_roster", {"org_id": campus, "limit": 50}),
                ("find_missing_immunizations", {"org_id": campus, "grade": 5, "limit": 50}),
            ]
            if student:
                calls.append(("get_student", {"student_id": student}))
            for name, args in calls:
                _timed(wire, name, args, run, lock)
            if student and offering:
                answer = _timed(wire, "enroll_student", {"student_id": student, "offering_id": offering}, run, lock)
                if answer and "id" in answer:
                    with lock:
                        run.enrolled.append(str(answer["id"]))
                    args = {"enrollment_id": answer["id"], "end_on": today, "reason": "sis bench load"}
                    if _timed(wire, "withdraw_enrollment", args, run, lock) is not None:
                        with lock:
                            run.withdrawn.append(str(answer["id"]))
            turn += 1
        wire.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(run.clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.elapsed = time.perf_counter() - began


def _timed(
    wire: WireClient, name: str, args: dict[str, object], run: LoadRun, lock: threading.Lock
) -> dict[str, object] | None:
    started = time.perf_counter()
    try:
        answer: dict[str, object] | None = wire.call(name, args)
        error = None
    except McpError as err:
        answer, error = None, f"{name}: {str(err)[:90]}"
    except OSError as err:
        answer, error = None, f"{name}: {type(err).__name__}"
    except Exception as err:  # httpx transport errors and the like: counted, never fatal to the run
        answer, error = None, f"{name}: {type(err).__name__}"
    elapsed = (time.perf_counter() - started) * 1000
    with lock:
        run.latencies.values.append(elapsed)
        run.by_tool.setdefault(name, Series()).values.append(elapsed)
        if error:
            run.errors[error] += 1
    return answer


def lost_writes(engine: Engine, run: LoadRun) -> tuple[int, int]:
    """(acknowledged enrollments missing from the database, acknowledged withdrawals not withdrawn)."""
    with engine.connect() as conn:
        found = {
            str(r[0]): r[1]
            for r in conn.execute(
                text("SELECT id, status FROM enrollment WHERE id = ANY(:ids)"),
                {"ids": run.enrolled or [str(uuid.UUID(int=0))]},
            )
        }
    missing = sum(1 for e in run.enrolled if e not in found)
    not_withdrawn = sum(1 for e in run.withdrawn if found.get(e) != "withdrawn")
    return missing, not_withdrawn


def audit_verify(database_url: str) -> str:
    done = subprocess.run(
        [*SIS, "audit", "verify"], cwd=ROOT, env=sis_env(database_url), capture_output=True, text=True
    )
    chains = [line.split(",")[0] for line in done.stdout.strip().splitlines() if ":" in line]
    if done.returncode != 0 or not chains:
        return f"exit {done.returncode}: {(done.stdout + done.stderr).strip()[-200:]}"
    return f"exit 0: {'; '.join(chains)}"


def run_all(
    section: Section, *, database_url: str, engine: Engine, workdir: Path, seconds: float, clients: int
) -> None:
    variants: list[tuple[str, tuple[str, ...]]] = [("one process", ())]
    if workers_available():
        variants.append(("--workers 2", ("--workers", "2")))
    section.intro.append(
        f"{clients} concurrent clients for {seconds:.0f} s over MCP streamable HTTP, each with its own API key "
        "(a network administrator with sis.read and sis.write) and its own MCP session, cycling query_roster "
        "and find_missing_immunizations (one campus, grade 5), get_student, then enroll_student and "
        f"withdraw_enrollment on a student of one of {CAMPUSES_WRITTEN} campuses. The baseline is one client "
        f"for {max(seconds / 6, 2):.0f} s against the same server just before. Goal: 0 errors, 0 lost writes, "
        "p99 under 250 ms with 2 workers on 2 cores, the audit chain intact."
    )
    if len(variants) == 1:
        section.intro.append(
            "`sis serve --help` lists no --workers in this checkout (issue 21 adds it): one server process only. "
            "Run `sis bench --only load` again after it lands; the harness detects the option."
        )
    table = section.table("server", "clients", "calls", "calls/s", "p50 ms", "p99 ms", "p99 ratio to 1 client",
                          "errors", "writes acknowledged", "lost writes", "server RSS before → after MiB",
                          "sis audit verify")  # fmt: skip
    per_tool = section.table("server", "tool", "calls", "p50 ms", "p99 ms", title="per tool, under load")
    error_notes: list[str] = []
    for label, args in variants:
        tag = uuid.uuid4().hex[:6]
        keys = bench_keys(engine, f"bench.load.{tag}@sis.example", "network_admin", root_of(engine),
                          ["sis.read", "sis.write"], count=clients + 1)  # fmt: skip
        offerings = bench_offerings(engine, tag)
        pairs = pairs_for(engine, offerings)
        with sis_server(database_url, workdir, args=args, tag=f"load{tag}") as server:
            baseline = LoadRun(label, 1, max(seconds / 6, 2))
            drive(server.url, keys[-1:], baseline, pairs[-50:], engine)
            run = LoadRun(label, clients, seconds, rss_before=rss_mib(server.proc.pid))
            drive(server.url, keys[:clients], run, pairs[:-50], engine)
            run.rss_after = rss_mib(server.proc.pid)
        missing, not_withdrawn = lost_writes(engine, run)
        verified = audit_verify(database_url)
        for r in (baseline, run):
            table.add(label, r.clients, r.calls, f"{r.calls / max(r.elapsed, 1e-9):.1f}", ms(r.latencies.median),
                      ms(r.latencies.p99), "1.00×" if r is baseline else f"{r.latencies.p99 / baseline.latencies.p99:.2f}×",
                      sum(r.errors.values()), f"{len(r.enrolled)} enrolled, {len(r.withdrawn)} withdrawn",
                      f"{missing} missing, {not_withdrawn} not withdrawn" if r is run else "",
                      f"{r.rss_before:.0f} → {r.rss_after:.0f}" if r is run else "", verified if r is run else "")  # fmt: skip
        for name, series in sorted(run.by_tool.items()):
            per_tool.add(label, name, len(series.values), ms(series.median), ms(series.p99))
        if run.errors:
            top = ", ".join(f"{k} ×{n}" for k, n in run.errors.most_common(6))
            error_notes.append(f"Errors with {label}: {top}.")
    section.notes += error_notes
