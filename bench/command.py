"""`sis bench`: every benchmark of issue 17 in one run, shown as it goes, printed, and written to docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import text

from bench.databases import (
    SeedRun,
    Size,
    bench_keys,
    campuses,
    create_database,
    ensure_sized,
    postgres_server,
    root_of,
    sqlite_beside,
)
from bench.databases import seed as seed_database
from bench.harness import ROOT, LoadSampler, git_commit, machine_facts, package_version, sis_server
from bench.report import Report, Section
from db.engine import make_engine
from db.models import UserKind

Step = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Plan:
    """How much of everything: the data sizes (the last is the network-scale database) and the repeats."""

    sizes: tuple[Size, ...]
    calls: int
    growth_calls: int
    load_seconds: float
    load_clients: int
    oneroster_seconds: float
    oneroster_rounds: int
    authz_decisions: int
    audit_calls: int
    guard_repeat: int
    peer_calls: int

    @classmethod
    def quick(cls) -> Plan:
        sizes = (Size(2, 200, 3), Size(4, 400, 3), Size(8, 800, 3))
        return cls(sizes, 5, 2, 5, 8, 2, 1, 2_000, 100, 3, 5)

    @classmethod
    def full(cls, campuses: int, students: int, attendance_days: int) -> Plan:
        sizes = tuple(Size(c, students * c // campuses, attendance_days) for c in (campuses // 10, campuses // 2))
        return cls((*sizes, Size(campuses, students, attendance_days)), 30, 3, 60, 32, 15, 2, 20_000, 2_000, 30, 20)


SECTIONS = ("typed", "peers", "growth", "load", "units")
TITLES = {
    "typed": "1. Typed tools against bare SQL, over streamable HTTP",
    "peers": "2. Side by side with the generic PostgreSQL MCP servers",
    "growth": "3. Cost as the work grows",
    "load": "4. Load across processes",
    "units": "5. Unit costs",
}


def bench_command(
    quick: Annotated[
        bool, typer.Option("--quick", help="A small data set: proves the harness in about a minute.")
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="A PostgreSQL server (any database on it); the bench makes its own databases there. "
            "Default: a throwaway cluster on loopback."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where the report is written.")] = ROOT / "docs" / "benchmarks.md",
    campuses: Annotated[int, typer.Option(min=10, help="Campuses of the largest data size (full run).")] = 200,
    students: Annotated[int, typer.Option(min=100, help="Students of the largest data size (full run).")] = 100_000,
    attendance_days: Annotated[int, typer.Option(min=0, help="School days of attendance generated.")] = 20,
    only: Annotated[list[str] | None, typer.Option(help=f"Run only these sections: {', '.join(SECTIONS)}.")] = None,
) -> None:
    """Benchmark this server against bare SQL and the generic PostgreSQL MCP servers; write docs/benchmarks.md."""
    unknown = set(only or ()) - set(SECTIONS)
    if unknown:
        raise typer.BadParameter(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    plan = Plan.quick() if quick else Plan.full(campuses, students, attendance_days)
    console = Console(width=None if sys.stdout.isatty() else 160)
    given = sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "bench" else []
    command = " ".join(["sis bench", shlex.join(given)]).strip()
    report = run_bench(plan, database_url=database_url, sections=tuple(only or SECTIONS), command=command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.markdown())
    report.print(console)
    console.print(f"report written to {out}")


def run_bench(plan: Plan, *, database_url: str | None, sections: tuple[str, ...], command: str) -> Report:
    """Everything the plan asks, in one report; a section that fails says so and the rest still run."""
    from mcp_server.cli_progress import progress_bars

    started_at = dt.datetime.now(dt.UTC)
    report = Report("Benchmarks")
    report.preamble.append(
        "Written by `sis bench` (bench/command.py); do not edit by hand: run it again. Each figure is the median "
        "and p99 of calls measured in this run, next to a baseline measured in the same run, contenders "
        "alternating call by call. None of this is a test assertion."
    )
    made: dict[str, Section] = {key: Section(key, TITLES[key]) for key in SECTIONS}
    seeds: list[SeedRun] = []
    with tempfile.TemporaryDirectory(prefix="sis-bench-") as tmp, LoadSampler() as load, progress_bars() as step:
        workdir = Path(tmp)
        with postgres_server(database_url) as (server_url, where):
            step("databases", 0, len(plan.sizes) + 1)
            urls: list[str] = []
            for i, size in enumerate(plan.sizes):
                url, seeded = ensure_sized(server_url, size)
                urls.append(url)
                seeds += [seeded] if seeded else []
                step("databases", i + 1, len(plan.sizes) + 1)
            demo_url, _ = create_database(server_url, "sis_bench_demo", fresh=True)
            subprocess.run(
                [sys.executable, "-c", "from mcp_server.cli import main; main()", "seed", "demo"],
                cwd=ROOT,
                env={**_env(), "SIS_DATABASE_URL": demo_url},
                check=True,
                capture_output=True,
            )
            step("databases", len(plan.sizes) + 1, len(plan.sizes) + 1)
            pg_version = _server_version(server_url)
            context = Context(plan, server_url, urls, demo_url, workdir, step, seeds)
            for key in sections:
                mark = len(load.samples)
                began = time.perf_counter()
                try:
                    RUNNERS[key](context, made[key])
                except Exception as err:  # a failed section is reported, and the others still run
                    made[key].notes.append(f"**This section failed:** `{type(err).__name__}: {err}`")
                    made[key].notes.append("```\n" + traceback.format_exc()[-3000:] + "\n```")
                mean, peak = load.since(mark)
                made[key].notes.append(
                    f"Section time {time.perf_counter() - began:.0f} s; 1-min load average during it: "
                    f"mean {mean:.2f}, max {peak:.2f}."
                )
                report.sections.append(made[key])
    facts = machine_facts()
    report.facts = [
        ("date", started_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("command", f"`{command}`"),
        ("commit", git_commit()),
        (
            "machine",
            f"{facts.get('cores')} cores ({facts.get('cpu', '?')}), {facts.get('memory', '?')} memory; "
            f"{facts.get('os')}",
        ),
        ("load", load.summary() + "; the machine is shared with other engineers' test runs"),
        ("PostgreSQL", f"{pg_version}; {where}"),
        (
            "data sizes",
            "; ".join(f"{s.label}, {s.attendance_days} days of attendance ({s.db_name})" for s in plan.sizes),
        ),
        (
            "versions",
            f"Python {facts['python']}, sis-server {package_version('sis-server')}, mcp "
            f"{package_version('mcp')}, SQLAlchemy {package_version('sqlalchemy')}, psycopg "
            f"{package_version('psycopg')}, sqlglot {package_version('sqlglot')}, uvicorn "
            f"{package_version('uvicorn')}",
        ),
        ("total time", f"{(dt.datetime.now(dt.UTC) - started_at).total_seconds():.0f} s"),
    ]
    return report


@dataclass
class Context:
    plan: Plan
    server_url: str
    urls: list[str]
    demo_url: str
    workdir: Path
    step: Step
    seeds: list[SeedRun]

    @property
    def main_url(self) -> str:
        return self.urls[-1]


def _env() -> dict[str, str]:
    from bench.harness import sis_env

    return sis_env("")


def _server_version(server_url: str) -> str:
    engine = make_engine(server_url)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
        fsync = str(conn.execute(text("SHOW fsync")).scalar_one())
        commit = str(conn.execute(text("SHOW synchronous_commit")).scalar_one())
    engine.dispose()
    return f"{version} (fsync={fsync}, synchronous_commit={commit})"


def _typed(ctx: Context, section: Section) -> None:
    from bench import section_typed

    size = ctx.plan.sizes[-1]
    engine, demo = make_engine(ctx.main_url), make_engine(ctx.demo_url)
    scale_root, demo_root = root_of(engine), root_of(demo, scale=False)
    scale_key = bench_keys(engine, "bench.admin@sis.example", "network_admin", scale_root, ["sis.read"])[0]
    demo_key = bench_keys(demo, "bench.admin@sis.example", "network_admin", demo_root, ["sis.read"])[0]
    ctx.step("1. typed tools", 0, 1)
    with (
        sis_server(ctx.main_url, ctx.workdir, tag="typed") as server,
        sis_server(ctx.demo_url, ctx.workdir, tag="demo") as demo_server,
    ):
        section_typed.run(
            section,
            engine=engine,
            server_url=server.url,
            demo_server_url=demo_server.url,
            scale_key=scale_key,
            demo_key=demo_key,
            campus=campuses(engine)[0],
            scale_root=scale_root,
            demo_root=demo_root,
            calls=ctx.plan.calls,
            label=f"PostgreSQL, {size.label} (list_outstanding_balances: the demo data set, "
            "since scale data carries no ledger)",
        )
    ctx.step("1. typed tools", 1, 1)
    engine.dispose()
    demo.dispose()


def _units(ctx: Context, section: Section) -> None:
    from bench import section_units

    plan, total = ctx.plan, 6
    ctx.step("5. unit costs", 0, total)
    section_units.authorization(
        section,
        decisions=plan.authz_decisions,
        scopes=max(plan.authz_decisions // 10, 100),
        casbin_samples=max(plan.authz_decisions // 60, 30),
    )
    ctx.step("5. unit costs", 1, total)
    section_units.sql_guard(section, repeat=plan.guard_repeat)
    ctx.step("5. unit costs", 2, total)
    section_units.audit(section, calls=plan.audit_calls, server_url=ctx.server_url)
    ctx.step("5. unit costs", 3, total)
    engine = make_engine(ctx.main_url)
    key = bench_keys(
        engine, "bench.oneroster@sis.example", "network_admin", root_of(engine), ["sis.read"], kind=UserKind.CLIENT
    )[0]
    engine.dispose()
    section_units.oneroster(
        section,
        database_url=ctx.main_url,
        key=key,
        seconds=plan.oneroster_seconds,
        rounds=plan.oneroster_rounds,
        concurrency=4,
    )
    ctx.step("5. unit costs", 4, total)
    smallest = plan.sizes[0]
    url, _ = create_database(ctx.server_url, "sis_bench_seed", fresh=True)
    fresh = [seed_database(url, smallest), sqlite_beside(ctx.workdir, smallest)[1]]
    ctx.step("5. unit costs", 5, total)
    section_units.seeding(section, fresh + ctx.seeds)
    ctx.step("5. unit costs", total, total)


def _growth(ctx: Context, section: Section) -> None:
    from bench import section_growth
    from bench.harness import WireClient

    measured = []
    sizes = ctx.plan.sizes
    for i, (size, url) in enumerate(zip(sizes, ctx.urls, strict=True)):
        ctx.step("3. cost as the work grows", i, len(sizes) + 1)
        with sis_server(url, ctx.workdir, tag=f"growth{i}") as server:
            measured.append(section_growth.measure_size(size, url, server.url, ctx.plan.growth_calls))
            if i == len(sizes) - 1:
                engine = make_engine(url)
                root = root_of(engine)
                key = bench_keys(engine, "bench.growth@sis.example", "network_admin", root, ["sis.read"])[0]
                engine.dispose()

                def calls(key: str = key, root: uuid.UUID = root, base: str = server.url) -> None:
                    client = WireClient(base, key)
                    as_of = (dt.date.today() - dt.timedelta(days=401)).isoformat()
                    client.call("find_missing_immunizations", {"org_id": str(root), "as_of": as_of})
                    for offset in (0, 100, 5_000, 20_000):
                        client.call("query_roster", {"org_id": str(root), "limit": 100, "offset": offset})
                    client.close()

                section_growth.fill(section, measured, ctx.plan.growth_calls)
                ctx.step("3. cost as the work grows", len(sizes), len(sizes) + 1)
                section_growth.profile(section, url, ctx.workdir, server.proc.pid, calls)
    ctx.step("3. cost as the work grows", len(sizes) + 1, len(sizes) + 1)


def _load(ctx: Context, section: Section) -> None:
    from bench import section_load

    ctx.step("4. load across processes", 0, 1)
    engine = make_engine(ctx.main_url)
    section_load.run_all(section, database_url=ctx.main_url, engine=engine, workdir=ctx.workdir,
                         seconds=ctx.plan.load_seconds, clients=ctx.plan.load_clients)  # fmt: skip
    engine.dispose()
    ctx.step("4. load across processes", 1, 1)


def _peers(ctx: Context, section: Section) -> None:
    from bench import section_peers

    ctx.step("2. peers", 0, 1)
    engine = make_engine(ctx.main_url)
    with sis_server(ctx.main_url, ctx.workdir, tag="peers") as server:
        section_peers.run(section, url=ctx.main_url, engine=engine, workdir=ctx.workdir, server_url=server.url,
                          calls=ctx.plan.peer_calls)  # fmt: skip
    engine.dispose()
    ctx.step("2. peers", 1, 1)


RUNNERS: dict[str, Callable[[Context, Section], None]] = {
    "typed": _typed,
    "peers": _peers,
    "growth": _growth,
    "load": _load,
    "units": _units,
}
