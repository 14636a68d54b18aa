"""Item 3: cost as the work grows, for the network administrator over the whole network.

At each data size: find_missing_immunizations (all 5th graders, then all grades; a new as_of each
call, so no remembered evaluation applies) and a walk of query_roster to its last page (limit 100),
each call alternating with the bare SQL fetching the same rows. Reported per student evaluated and
per page, with the ratio of each per-unit cost to the smallest size's: a flat ratio is linear growth.
Where the time goes at the largest size: py-spy when it can read this interpreter, else cProfile of
the same calls run in-process through the runner.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import pstats
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bench.databases import Size, bench_keys, root_of
from bench.harness import Series, WireClient, alternate
from bench.report import Section, ms, ratio
from db.engine import make_engine

ENROLLED = (
    "SELECT e.student_id FROM enrollment e WHERE e.org_id IN (SELECT id FROM organization WHERE path LIKE '/scale/%')"
    " AND e.start_on <= :d AND (e.end_on IS NULL OR e.end_on >= :d) AND e.status <> 'pending'"
)


def _bare_missing(engine: Engine, grade: int | None) -> Callable[[dt.date], None]:
    """The rows find_missing_immunizations reads for the whole network, as plain SQL."""
    enrolled = ENROLLED + (f" AND e.grade_level = {grade}" if grade is not None else "")
    statements = [
        text("SELECT * FROM immunization_requirement"),
        text(f"SELECT s.id, s.birth_on, s.first_name, s.last_name FROM student s WHERE s.id IN ({enrolled})"),
        text(f"SELECT * FROM immunization_record i WHERE i.student_id IN ({enrolled})"),
        text(f"SELECT * FROM immunization_exemption x WHERE x.student_id IN ({enrolled})"),
        text(f"SELECT * FROM immunity_evidence v WHERE v.student_id IN ({enrolled})"),
        text(f"SELECT * FROM provisional_enrollment pe WHERE pe.student_id IN ({enrolled})"),
    ]

    def go(day: dt.date) -> None:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(statement, {"d": day}).fetchall()

    return go


def _bare_page(engine: Engine) -> Callable[[dt.date, int], None]:
    """One roster page of the whole network as plain SQL: the count and the page at `offset`."""
    where = (
        "e.org_id IN (SELECT id FROM organization WHERE path LIKE '/scale/%') AND e.start_on <= :d"
        " AND (e.end_on IS NULL OR e.end_on >= :d) AND e.status <> 'pending'"
    )
    count = text(f"SELECT count(*) FROM enrollment e WHERE {where}")
    page = text(
        "SELECT e.id, s.id, s.student_number, s.first_name, s.last_name, e.grade_level, o.name, po.name, p.name,"
        " e.status, e.start_on, e.end_on FROM enrollment e JOIN student s ON s.id = e.student_id"
        " JOIN program_offering po ON po.id = e.offering_id JOIN program p ON p.id = po.program_id"
        f" JOIN organization o ON o.id = e.org_id WHERE {where}"
        " ORDER BY s.last_name, s.first_name, s.student_number, e.id LIMIT 100 OFFSET :o"
    )

    def go(day: dt.date, offset: int) -> None:
        with engine.connect() as conn:
            conn.execute(count, {"d": day}).fetchall()
            conn.execute(page, {"d": day, "o": offset}).fetchall()

    return go


@dataclass
class Measured:
    size: Size
    students: dict[str, int] = field(default_factory=dict)  # question -> students evaluated
    missing: dict[str, tuple[Series, Series]] = field(default_factory=dict)  # question -> (tool, bare)
    pages: tuple[Series, Series] = field(default_factory=lambda: (Series(), Series()))
    walk_s: float = 0.0


def measure_size(size: Size, url: str, server_url: str, calls: int) -> Measured:
    """All of item 3's calls at one size, against the server at `server_url` over the database at `url`."""
    engine = make_engine(url)
    root = root_of(engine)
    key = bench_keys(engine, "bench.growth@sis.example", "network_admin", root, ["sis.read"])[0]
    client = WireClient(server_url, key)
    today = dt.date.today()
    out = Measured(size)
    try:
        for label, grade in (("5th graders", 5), ("all grades", None)):
            with engine.connect() as conn:
                enrolled = ENROLLED + (f" AND e.grade_level = {grade}" if grade is not None else "")
                out.students[label] = int(
                    conn.execute(
                        text(f"SELECT count(DISTINCT student_id) FROM ({enrolled}) x"), {"d": today}
                    ).scalar_one()
                )
            args = {"org_id": str(root), "limit": 50} | ({"grade": grade} if grade is not None else {})
            bare = _bare_missing(engine, grade)

            def day(i: int) -> dt.date:
                return today - dt.timedelta(days=i + 3)

            def tool(i: int, args: dict[str, Any] = args) -> object:
                return client.call("find_missing_immunizations", args | {"as_of": day(i).isoformat()})

            def plain(i: int, bare: Callable[[dt.date], None] = bare) -> None:
                bare(day(i))

            timed = alternate({"tool": tool, "bare": plain}, calls)
            out.missing[label] = (timed["tool"], timed["bare"])
        bare_page = _bare_page(engine)
        offset: int | None = 0
        tool_pages, bare_pages = out.pages
        began = time.perf_counter()
        turn = 0
        while offset is not None:
            # Alternate which goes first, page by page.
            for which in ("tool", "bare") if turn % 2 == 0 else ("bare", "tool"):
                started = time.perf_counter()
                if which == "tool":
                    page = client.call("query_roster", {"org_id": str(root), "limit": 100, "offset": offset})
                    tool_pages.add_since(started)
                else:
                    bare_page(today, offset)
                    bare_pages.add_since(started)
            offset = page.get("next_offset")
            turn += 1
        out.walk_s = time.perf_counter() - began
    finally:
        client.close()
        engine.dispose()
    return out


def fill(section: Section, measured: list[Measured], calls: int) -> None:
    """The tables: per student and per page at each size, each per-unit cost against the smallest size's."""
    section.intro.append(
        f"Network administrator over the whole network, over streamable HTTP on a `sis serve` per size. "
        f"find_missing_immunizations: {calls} calls per question and size, each with a new as_of (nothing "
        "remembered applies), alternating with the bare SQL of the same rows. Roster walk: query_roster "
        "limit 100 from offset 0 to the last page, each page alternating with the bare SQL of the same page. "
        "Per-unit ratio: this size's cost per student (or per page) over the smallest size's; about 1.0 at "
        "every size means the cost grows linearly with the work."
    )
    first = measured[0]
    table = section.table("question", "data size", "students", "tool median ms", "tool p99 ms", "bare median ms",
                          "tool/bare", "µs per student (tool)", "per-student ratio to smallest",
                          title="find_missing_immunizations, whole network")  # fmt: skip
    for label in first.missing:
        base = first.missing[label][0].median / max(first.students[label], 1)
        for m in measured:
            t, b = m.missing[label]
            n = max(m.students[label], 1)
            table.add(label, m.size.label, f"{n:,}", ms(t.median), ms(t.p99), ms(b.median), ratio(t.median, b.median),
                      f"{t.median * 1000 / n:,.1f}", ratio(t.median / n, base))  # fmt: skip
    walk = section.table("data size", "pages", "walk s", "tool median ms/page", "tool p99 ms/page",
                         "bare median ms/page", "tool/bare", "first 10% / last 10% of pages (tool median)",
                         "per-page ratio to smallest", title="query_roster walk to the last page, limit 100")  # fmt: skip
    base_page = first.pages[0].median
    for m in measured:
        t, b = m.pages
        tenth = max(len(t.values) // 10, 1)
        head, tail = Series(t.values[:tenth]), Series(t.values[-tenth:])
        walk.add(m.size.label, len(t.values), f"{m.walk_s:.1f}", ms(t.median), ms(t.p99), ms(b.median),
                 ratio(t.median, b.median), f"{ms(head.median)} / {ms(tail.median)}", ratio(t.median, base_page))  # fmt: skip
    verdicts = []
    last = measured[-1]
    for label in first.missing:
        per = [m.missing[label][0].median / max(m.students[label], 1) for m in measured]
        growth = per[-1] / per[0] if per[0] else float("nan")
        verdicts.append(
            f"find_missing_immunizations ({label}): cost per student at the largest size is {growth:.2f}× the "
            f"smallest's: {'linear' if growth <= 1.5 else 'worse than linear'} (fixed per-call costs weigh most "
            "at small sizes, so a ratio below 1 means linear)."
        )
    pages = [m.pages[0].median for m in measured]
    growth = pages[-1] / pages[0] if pages[0] else float("nan")
    whole = [m.walk_s / max(len(m.pages[0].values), 1) for m in measured]
    shape = (
        "linear in the number of pages"
        if growth <= 1.5
        else "worse than linear: every page re-counts and re-sorts the whole network (OFFSET paging)"
    )
    verdicts.append(
        f"Roster walk: a page costs {growth:.2f}× at the largest size what it costs at the smallest, so the "
        f"whole walk is {shape}; mean walk time per page "
        + ", ".join(f"{w * 1000:.0f} ms" for w in whole)
        + f"; {len(last.pages[0].values)} pages at the largest size."
    )
    section.notes += verdicts


def profile(section: Section, url: str, workdir: Path, server_pid: int | None, calls: Callable[[], None]) -> None:
    """Where the time goes at the largest size: py-spy on the server process if it works here, else cProfile."""
    spy = _py_spy_binary()
    spied = _py_spy(spy, server_pid, workdir, calls) if server_pid and spy else None
    if spied:
        section.notes.append(
            "Profile at the largest size: py-spy on the server process during one find_missing_immunizations over "
            "all grades and four roster pages (offsets 0, 100, 5,000, 20,000):\n\n```\n" + spied + "\n```"
        )
        return
    why = 'py-spy is installed but cannot read this interpreter\'s memory ("Failed to find python version")'
    if not spy:
        why = "py-spy is not installed (pip install py-spy)"
    section.notes.append(f"Profile: {why}; cProfile of the same calls through the runner in this process instead.")
    section.notes.append("```\n" + _cprofile(url) + "\n```")


def _py_spy_binary() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _py_spy(binary: str, pid: int | None, workdir: Path, calls: Callable[[], None]) -> str | None:
    out = workdir / "py-spy.txt"
    spy = subprocess.Popen([binary, "record", "--pid", str(pid), "--format", "raw", "-o", str(out), "--rate", "200"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        calls()
    finally:
        spy.send_signal(2)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
    if not out.exists() or not out.read_text().strip():
        return None
    inclusive: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        leaves[leaf] = leaves.get(leaf, 0) + n
        for frame in set(stack.split(";")):
            if any(p in frame for p in ("domain/", "tools/", "policies/", "db/", "mcp_server/")):
                inclusive[frame] = inclusive.get(frame, 0) + n
    top = sorted(inclusive.items(), key=lambda kv: -kv[1])[:20]
    own = sorted(leaves.items(), key=lambda kv: -kv[1])[:10]
    return (
        f"# {total} samples at 200 Hz; inclusive, project frames\n"
        + "\n".join(f"{100 * n / total:5.1f}%  {frame}" for frame, n in top)
        + "\n# self time (the innermost frame, any library)\n"
        + "\n".join(f"{100 * n / total:5.1f}%  {frame}" for frame, n in own)
    )


def _cprofile(url: str) -> str:
    """Top cumulative entries of cProfile over the largest size's calls, run through the runner in-process."""
    from mcp_server.auth import authenticate_api_key
    from mcp_server.settings import Settings
    from mcp_server.wiring import build_deps
    from tools.runner import run_tool

    engine = make_engine(url)
    root = root_of(engine)
    key = bench_keys(engine, "bench.profile@sis.example", "network_admin", root, ["sis.read"])[0]
    deps = build_deps(Settings(), engine)
    with deps.session_factory.begin() as session:
        principal = authenticate_api_key(session, key)
    today = dt.date.today()
    profiler = cProfile.Profile()
    profiler.enable()
    run_tool(deps, principal, "find_missing_immunizations",
             {"org_id": str(root), "as_of": (today - dt.timedelta(days=400)).isoformat()})  # fmt: skip
    for offset in (0, 100, 5_000, 20_000):
        run_tool(deps, principal, "query_roster", {"org_id": str(root), "limit": 100, "offset": offset})
    profiler.disable()
    engine.dispose()
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("cumulative").print_stats(r"(domain|tools|policies|db)/", 25)
    lines = [ln for ln in buffer.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if "ncalls" in ln), 0)
    note = (
        "one find_missing_immunizations over all grades with a new as_of, then query_roster pages at offsets "
        "0, 100, 5,000 and 20,000"
    )
    return f"# {note}\n" + "\n".join(ln[:200] for ln in lines[start : start + 26])
