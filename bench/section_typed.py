"""Item 1: typed tools over streamable HTTP against the bare SQL of the same question through psycopg.

The tools go through the whole path a remote agent pays (HTTP, bearer key, scope, domain service,
audit entry, JSON) on a `sis serve` process; the bare SQL is the statements that fetch the same rows
on a pooled psycopg connection (no scope, no audit, no HTTP). Reuses bench/mcp_bench.py's bare SQL
for the roster, the immunization question and the trend.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from bench.harness import Series, WireClient, alternate
from bench.mcp_bench import bare_sql
from bench.report import Section, ms, ratio

GOAL = "median ≤ 1.1 × bare SQL + 2 ms"


def _more_bare_sql(engine: Engine, demo_root: uuid.UUID) -> dict[str, Callable[[uuid.UUID, dt.date], Any]]:
    """get_student and list_outstanding_balances as plain SQL (mcp_bench.py has the other three)."""
    student = text("SELECT s.*, o.name FROM student s JOIN organization o ON o.id = s.org_id WHERE s.id = :s")
    stints = text(
        "SELECT e.*, o.name, po.name, p.name FROM enrollment e JOIN organization o ON o.id = e.org_id"
        " JOIN program_offering po ON po.id = e.offering_id JOIN program p ON p.id = po.program_id"
        " WHERE e.student_id = :s ORDER BY e.start_on DESC"
    )
    households = text("SELECT household_id FROM household_student WHERE student_id = :s ORDER BY household_id")
    identifiers = text("SELECT system, value FROM student_identifier WHERE student_id = :s ORDER BY system, value")
    in_network = (
        "l.org_id IN (SELECT id FROM organization WHERE path LIKE (SELECT path FROM organization WHERE id = :r) || '%')"
    )
    grouped = (
        "SELECT l.household_id, sum(CASE WHEN l.posted_on <= :d THEN l.amount_cents ELSE 0 END) AS balance"
        f" FROM ledger_entry l WHERE {in_network} GROUP BY l.household_id"
        " HAVING sum(CASE WHEN l.posted_on <= :d THEN l.amount_cents ELSE 0 END) > 0"
    )
    totals = text(f"SELECT count(*), coalesce(sum(balance), 0) FROM ({grouped}) g")
    page = text(
        f"SELECT h.*, o.name FROM household h JOIN ({grouped}) g ON g.household_id = h.id"
        " JOIN organization o ON o.id = h.org_id ORDER BY g.balance DESC, h.id LIMIT 100"
    )
    entries = text(f"SELECT l.* FROM ledger_entry l WHERE l.household_id = ANY(:h) AND {in_network}")
    root = str(demo_root)

    def get_student(student_id: uuid.UUID, day: dt.date) -> None:
        with engine.connect() as conn:
            for stmt in (student, stints, households, identifiers):
                conn.execute(stmt, {"s": str(student_id)}).fetchall()

    def balances(_: uuid.UUID, day: dt.date) -> None:
        with engine.connect() as conn:
            conn.execute(totals, {"r": root, "d": day}).fetchall()
            rows = conn.execute(page, {"r": root, "d": day}).fetchall()
            conn.execute(entries, {"h": [r[0] for r in rows], "r": root}).fetchall()

    return {"get_student": get_student, "list_outstanding_balances": balances}


def run(
    section: Section,
    *,
    engine: Engine,
    server_url: str,
    demo_server_url: str,
    scale_key: str,
    demo_key: str,
    campus: uuid.UUID,
    scale_root: uuid.UUID,
    demo_root: uuid.UUID,
    calls: int,
    label: str,
) -> None:
    """Time the five tools and their bare SQL, alternating call by call; fill `section`."""
    today = dt.date.today()
    with engine.connect() as conn:
        student_ids = [
            r[0]
            for r in conn.execute(
                text("SELECT student_id FROM enrollment WHERE org_id = :c ORDER BY student_id LIMIT 200"),
                {"c": str(campus)},
            )
        ]
    bare3 = bare_sql(engine, campus, today)
    bare2 = _more_bare_sql(engine, demo_root)
    scale, demo = WireClient(server_url, scale_key), WireClient(demo_server_url, demo_key)
    asked = {"org_id": str(campus), "grade": 5, "limit": 50}
    start = dt.date(today.year - 1, today.month, 1)
    trend = {"org_id": str(scale_root), "start_month": start.isoformat(), "end_month": today.isoformat()}

    def student_of(i: int) -> uuid.UUID:
        return uuid.UUID(str(student_ids[i % len(student_ids)]))

    questions: dict[str, tuple[Callable[[int], object], Callable[[int], object]]] = {
        "query_roster (one campus, grade 5)": (
            lambda i: scale.call("query_roster", asked),
            lambda i: bare3["query_roster"](today),
        ),
        "find_missing_immunizations (asked again)": (
            lambda i: scale.call("find_missing_immunizations", asked),
            lambda i: bare3["find_missing_immunizations"](today),
        ),
        "find_missing_immunizations (new as_of each call)": (
            lambda i: scale.call(
                "find_missing_immunizations", asked | {"as_of": (today - dt.timedelta(days=i + 3)).isoformat()}
            ),
            lambda i: bare3["find_missing_immunizations"](today - dt.timedelta(days=i + 3)),
        ),
        "enrollment_trend (whole network, 13 months)": (
            lambda i: scale.call("enrollment_trend", trend),
            lambda i: bare3["enrollment_trend"](today),
        ),
        "list_outstanding_balances (demo network)": (
            lambda i: demo.call("list_outstanding_balances", {"org_id": str(demo_root)}),
            lambda i: bare2["list_outstanding_balances"](demo_root, today),
        ),
        "get_student (a different student each call)": (
            lambda i: scale.call("get_student", {"student_id": str(student_of(i))}),
            lambda i: bare2["get_student"](student_of(i), today),
        ),
    }
    section.intro.append(
        f"{label}. Each question {calls} times per contender, the tool call and its bare SQL alternating "
        f"call by call (order rotating), after one warm-up call each. Goal: {GOAL}."
    )
    table = section.table(
        "question", "tool median ms", "tool p99 ms", "bare SQL median ms", "bare p99 ms", "ratio", "goal ms", "met"
    )
    met_all = True
    try:
        for name, (tool, bare) in questions.items():
            timed: dict[str, Series] = alternate({"tool": tool, "bare": bare}, calls)
            t, b = timed["tool"], timed["bare"]
            goal = 1.1 * b.median + 2
            met = t.median <= goal
            met_all &= met
            table.add(
                name,
                ms(t.median),
                ms(t.p99),
                ms(b.median),
                ms(b.p99),
                ratio(t.median, b.median),
                ms(goal),
                "yes" if met else "no",
            )
    finally:
        scale.close()
        demo.close()
    section.notes.append(
        "Every goal met in this run."
        if met_all
        else "Goals missed are marked `no`: the tool pays a fixed cost per call (HTTP, key, scope, audit entry, "
        "JSON) that the bare SQL does not; section 3's profile shows where a call's time goes."
    )
