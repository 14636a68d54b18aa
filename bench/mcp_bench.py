"""Tool latency over streamable HTTP at network scale, next to the bare SQL of the same question.

For query_roster, find_missing_immunizations and enrollment_trend this measures the whole
path a remote agent pays (HTTP, bearer authentication, scope decision, domain service,
audit entry, JSON) against a real uvicorn on loopback, and in the same run the time of the
bare SQL statements that fetch the same rows (SQLAlchemy text statements on the same kind of
engine, no scope, no audit, no HTTP). Goal: median tool time <= 1.5 x bare SQL + 5 ms.

Three latencies per tool, all over the same HTTP connection pool:
- "wire" (judged): the tools/call POST exactly as the MCP SDK client sends it (captured from
  its HTTP client), replayed with a thin HTTP client and its JSON answer parsed: the server's
  latency as an agent's transport sees it, measured with as thin a client as the bare SQL's;
- "request": the same request through the SDK client session (adds its dispatching and
  pydantic parsing of the result, about 1-3 ms of client CPU here);
- "call_tool": `Client.call_tool`, which also validates the structured result against the
  tool's output schema with jsonschema (client CPU that grows with the answer).

find_missing_immunizations is timed twice: asking the same question again (its per-student
evaluations are then remembered, keyed by every input) and with a new as_of date on every
call, where nothing worked out before applies (the cold path).

The database must hold `sis seed scale` data; it is generated when the scale root is absent.

Run:  python bench/mcp_bench.py --database-url postgresql+psycopg://user@127.0.0.1:5432/sis_scale [--calls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from bench.scale_data import admin_key, ensure_scale
from db.engine import make_engine
from db.migrate import upgrade
from db.models import Organization, OrgLevel, UserKind
from mcp_server.app import create_app

BENCH_EMAIL = "bench.admin@sis.example"
ROOT = Path(__file__).resolve().parents[1]


def bench_key(engine: Engine) -> str:
    """A network admin at the scale root and a fresh API key for it."""
    return admin_key(engine, BENCH_EMAIL, "Bench Admin", UserKind.STAFF, "bench")


def pick_campus(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """The scale root and its first FULL_SIS campus."""
    with Session(engine) as session:
        root = session.execute(select(Organization.id).where(Organization.path == "/scale/")).scalar_one()
        campus = (
            session.execute(
                select(Organization.id)
                .where(
                    Organization.path.startswith("/scale/"),
                    Organization.level == OrgLevel.CAMPUS,
                    Organization.kind == "FULL_SIS",
                )
                .order_by(Organization.path)
            )
            .scalars()
            .first()
        )
    assert campus is not None
    return root, campus


def bare_sql(engine: Engine, campus: uuid.UUID, today: dt.date) -> dict[str, Callable[[dt.date], Any]]:
    """The same questions as plain SQL: the rows each tool fetches, without scope, audit or HTTP."""
    # UUIDs are native on PostgreSQL and 32-hex CHAR columns on SQLite.
    c = str(campus) if engine.dialect.name == "postgresql" else campus.hex
    roster = text(
        "SELECT e.id, s.id, s.student_number, s.first_name, s.last_name, e.grade_level, o.name, po.name, p.name,"
        " e.status, e.start_on, e.end_on FROM enrollment e JOIN student s ON s.id = e.student_id"
        " JOIN program_offering po ON po.id = e.offering_id JOIN program p ON p.id = po.program_id"
        " JOIN organization o ON o.id = e.org_id WHERE e.org_id = :c AND e.grade_level = 5 AND e.start_on <= :d"
        " AND (e.end_on IS NULL OR e.end_on >= :d) AND e.status <> 'pending'"
        " ORDER BY s.last_name, s.first_name, s.student_number LIMIT 50"
    )
    roster_count = text(
        "SELECT count(*) FROM enrollment e WHERE e.org_id = :c AND e.grade_level = 5 AND e.start_on <= :d"
        " AND (e.end_on IS NULL OR e.end_on >= :d) AND e.status <> 'pending'"
    )
    enrolled = (
        "SELECT e.student_id FROM enrollment e WHERE e.org_id = :c AND e.grade_level = 5 AND e.start_on <= :d"
        " AND (e.end_on IS NULL OR e.end_on >= :d) AND e.status <> 'pending'"
    )
    students = text(f"SELECT s.id, s.birth_on, s.first_name, s.last_name FROM student s WHERE s.id IN ({enrolled})")
    doses = text(f"SELECT * FROM immunization_record i WHERE i.student_id IN ({enrolled})")
    exemptions = text(f"SELECT * FROM immunization_exemption x WHERE x.student_id IN ({enrolled})")
    evidence = text(f"SELECT * FROM immunity_evidence v WHERE v.student_id IN ({enrolled})")
    provisional = text(f"SELECT * FROM provisional_enrollment pe WHERE pe.student_id IN ({enrolled})")
    requirements = text("SELECT * FROM immunization_requirement")
    months = [
        dt.date(today.year - 1 + (today.month + k - 1) // 12, (today.month + k - 1) % 12 + 1, 1) for k in range(13)
    ]
    ends = [
        min((m.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1), today) for m in months
    ]
    cols = ", ".join(
        f"count(DISTINCT CASE WHEN e.start_on <= :m{i} AND (e.end_on IS NULL OR e.end_on >= :m{i})"
        f" THEN e.student_id END)"
        for i in range(len(ends))
    )
    trend = text(
        f"SELECT {cols} FROM enrollment e WHERE e.status <> 'pending' AND e.org_id IN"
        " (SELECT id FROM organization WHERE path LIKE '/scale/%')"
    )
    trend_params = {f"m{i}": d for i, d in enumerate(ends)}

    def run(*statements: Any) -> Callable[[dt.date], Any]:
        """Run the statements on one connection, with the campus and the day as parameters."""

        def go(day: dt.date) -> None:
            with engine.connect() as conn:
                for stmt in statements:
                    conn.execute(stmt, {"c": c, "d": day, **trend_params}).fetchall()

        return go

    return {
        "query_roster": run(roster_count, roster),
        "find_missing_immunizations": run(requirements, students, doses, exemptions, evidence, provisional),
        "enrollment_trend": run(trend),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Timings:
    """Latencies (ms) of one tool, the four kinds alternating call by call."""

    wire: list[float] = field(default_factory=list)
    request: list[float] = field(default_factory=list)
    call_tool: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)


# A request's arguments for the k-th call: the same question every time, or a new as-of date each
# time (a cold path: nothing an earlier call worked out applies).
ArgsFor = Callable[[int], dict[str, Any]]


async def time_tools(
    url: str,
    key: str,
    requests: dict[str, tuple[str, ArgsFor]],
    bare: dict[str, Callable[[dt.date], Any]],
    calls: int,
) -> dict[str, Timings]:
    """Per request: the wire request, the SDK session request, `Client.call_tool` and the bare SQL.

    The wire request is the SDK's own tools/call POST (headers and body as the SDK sent them,
    captured from its HTTP client), sent again with a new JSON-RPC id and arguments and its JSON
    response parsed. They alternate call by call, so drift on a shared machine hits them alike.
    """
    sent: list[httpx2.Request] = []

    async def capture(request: httpx2.Request) -> None:
        sent.append(request)

    def call(name: str, args: dict[str, Any]) -> types.CallToolRequest:
        return types.CallToolRequest(params=types.CallToolRequestParams(name=name, arguments=args))

    results: dict[str, Timings] = {}
    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {key}"}, timeout=120, event_hooks={"request": [capture]}
        ) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        for label, (name, args_for) in requests.items():
            sent.clear()
            first = await client.session.send_request(call(name, args_for(-1)), types.CallToolResult)
            assert not first.is_error, first.content
            wire_request = next(r for r in sent if r.headers.get("mcp-method") == "tools/call")
            headers = {k: v for k, v in wire_request.headers.items() if k not in ("content-length", "host")}
            envelope = json.loads(wire_request.content)
            times = Timings()
            for i in range(calls):
                # Three calls per round, each with its own arguments (the same ones unless cold).
                wire_args, request_args, tool_args = args_for(3 * i), args_for(3 * i + 1), args_for(3 * i + 2)
                started = time.perf_counter()
                bare[name](dt.date.fromisoformat(wire_args.get("as_of", dt.date.today().isoformat())))
                times.sql.append((time.perf_counter() - started) * 1000)

                envelope["id"] = f"bench-{i}"
                envelope["params"]["arguments"] = wire_args
                body = json.dumps(envelope).encode()
                started = time.perf_counter()
                response = await http.post(url, content=body, headers=headers)
                answer = response.json()
                times.wire.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200 and not answer["result"].get("isError"), answer

                started = time.perf_counter()
                raw = await client.session.send_request(call(name, request_args), types.CallToolResult)
                times.request.append((time.perf_counter() - started) * 1000)
                assert not raw.is_error

                started = time.perf_counter()
                result = await client.call_tool(name, tool_args)
                times.call_tool.append((time.perf_counter() - started) * 1000)
                assert not result.is_error
            results[label] = times
    return results


def serve(database_url: str, port: int) -> None:
    """Run the SIS app under uvicorn in this process (the child side of main)."""
    app = create_app(make_engine(database_url), base_url=f"http://127.0.0.1:{port}")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _wait_until_listening(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the SIS server did not start listening")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_port:
        serve(args.database_url, args.serve_port)
        return
    engine = make_engine(args.database_url)
    upgrade(engine)
    ensure_scale(engine)
    key = bench_key(engine)
    root, campus = pick_campus(engine)
    today = dt.date.today()
    start = dt.date(today.year - 1, today.month, 1)
    asked = {"org_id": str(campus), "grade": 5, "limit": 50}
    trend = {"org_id": str(root), "start_month": start.isoformat(), "end_month": today.isoformat()}
    requests: dict[str, tuple[str, ArgsFor]] = {
        "query_roster": ("query_roster", lambda k: asked),
        "find_missing_immunizations": ("find_missing_immunizations", lambda k: asked),
        # Each call a day earlier: no evaluation remembered from an earlier call applies.
        "  ... a new as_of each call": (
            "find_missing_immunizations",
            lambda k: asked | {"as_of": (today - dt.timedelta(days=k + 2)).isoformat()},
        ),
        "enrollment_trend": ("enrollment_trend", lambda k: trend),
    }
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    # The server runs in its own process, as it does for a remote agent: the client's work (JSON
    # parsing, its own validation) must not share a GIL with the server's.
    server = subprocess.Popen(
        [sys.executable, __file__, "--database-url", args.database_url, "--serve-port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    bare = bare_sql(engine, campus, today)
    try:
        _wait_until_listening(port)
        tool_ms = asyncio.run(time_tools(f"http://127.0.0.1:{port}/mcp/", key, requests, bare, args.calls))
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"\n{engine.dialect.name}, {args.calls} calls each (ms); goal: wire median <= 1.5 x bare SQL + 5")
    print(
        f"{'tool':<28}{'wire':>8}{'p99':>8}{'request':>9}{'call_tool':>11}{'p99':>8}"
        f"{'bare SQL':>10}{'ratio':>7}{'goal':>8}  ok"
    )
    for name, t in tool_ms.items():
        med, p99, sql_med = statistics.median(t.wire), percentile(t.wire, 0.99), statistics.median(t.sql)
        goal = 1.5 * sql_med + 5
        print(
            f"{name:<28}{med:>8.1f}{p99:>8.1f}{statistics.median(t.request):>9.1f}"
            f"{statistics.median(t.call_tool):>11.1f}{percentile(t.call_tool, 0.99):>8.1f}"
            f"{sql_med:>10.1f}{med / sql_med:>7.2f}{goal:>8.1f}  {'yes' if med <= goal else 'NO'}"
        )


if __name__ == "__main__":
    main()
