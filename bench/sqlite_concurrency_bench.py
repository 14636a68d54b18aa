"""SQLite as the embedded default under real use (#15): concurrent clients and two processes on one file.

A real `sis serve` (uvicorn, its own process) on a free loopback port over a demo SQLite file, and
a second process on the same file the way a desktop client uses it: `sis mcp` over stdio, driven by
an MCP client calling tools in a loop. Against the server, C HTTP clients, each with its own API
key, call REST tools in a fixed mix until the time is up: reads (query_roster, search_students,
find_missing_immunizations) and writes (record_attendance on rotating student-days, a behavior
incident, update_student). Reported: calls, errors by status, p50/p95/p99/max; first with one
client (the baseline, same run), then with C. Goal: 8 clients for 60 s, zero errors, p99 < 1 s.

Run:  python bench/sqlite_concurrency_bench.py [--seconds 60] [--clients 8] [--database PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import upgrade
from db.models import AttendanceRecord as Attendance
from db.models import Student, User

ADMIN_EMAIL = "admin@sis.example"
SIS = [sys.executable, "-c", "from mcp_server.cli import main; main()"]
READS = ("query_roster", "search_students", "find_missing_immunizations")
WRITES = ("record_attendance", "record_behavior_incident", "update_student")
# One client's turn through the mix: three reads to each write, as a school's day looks.
MIX = ("query_roster", "record_attendance", "search_students", "find_missing_immunizations",
       "record_behavior_incident", "query_roster", "update_student", "search_students")  # fmt: skip
MAX_CALLS_PER_CLIENT = 100_000  # bounded in count as well as in time


@dataclass
class Targets:
    """The student-days the writes rotate over, and the students they touch."""

    student_days: list[tuple[str, str]]
    students: list[str]


@dataclass
class Run:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    by_tool: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    mcp_calls: int = 0
    mcp_errors: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "seconds": self.seconds,
            "calls": len(self.latencies_ms),
            "calls_per_s": round(len(self.latencies_ms) / self.seconds, 1),
            "statuses": dict(self.statuses),
            # Where the time goes: calls, median and p99 ms per tool (writes queue on SQLite's one write lock).
            "by_tool": {
                tool: [len(ms), round(statistics.median(ms), 1), round(sorted(ms)[int(0.99 * (len(ms) - 1))], 1)]
                for tool, ms in sorted(self.by_tool.items())
            },
            "p50_ms": round(statistics.median(self.latencies_ms), 1) if self.latencies_ms else 0.0,
            "p95_ms": round(self.percentile(0.95), 1),
            "p99_ms": round(self.percentile(0.99), 1),
            "max_ms": round(max(self.latencies_ms, default=0.0), 1),
            "mcp_stdio_calls": self.mcp_calls,
            "mcp_stdio_errors": len(self.mcp_errors),
            "first_failures": self.failures[:5] + self.mcp_errors[:5],
        }


def prepare(path: Path, clients: int) -> tuple[list[str], Targets]:
    """Migrate and seed `path` when it is new, then one fresh API key per client (plus one for stdio)."""
    from mcp_server.auth import create_api_key

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with Session(engine) as session:
        seeded = session.execute(select(User.id).where(User.email == ADMIN_EMAIL)).first() is not None
    if not seeded:
        from mcp_server.demo import seed_full_demo

        seed_full_demo(engine, seed=7, today=dt.date.today())
    keys = []
    with Session(engine) as session, session.begin():
        admin = session.execute(select(User).where(User.email == ADMIN_EMAIL)).scalar_one()
        stamp = int(time.time() * 1000)
        for n in range(clients + 1):
            _, key = create_api_key(session, admin, f"bench-{stamp}-{n}", ["sis.read", "sis.write"])
            keys.append(key)
    targets = _targets(engine)
    engine.dispose()
    return keys, targets


def _targets(engine: Engine) -> Targets:
    with Session(engine) as session:
        days = list(session.execute(select(Attendance.day_on).distinct().order_by(Attendance.day_on.desc()).limit(5)))
        students = list(
            session.execute(
                select(Student.id).where(Student.is_active.is_(True)).order_by(Student.id).limit(200)
            ).scalars()
        )
        pairs = session.execute(
            select(Attendance.student_id, Attendance.day_on)
            .where(Attendance.day_on.in_([d for (d,) in days]))
            .order_by(Attendance.day_on, Attendance.student_id)
            .limit(400)
        ).all()
    return Targets([(str(s), d.isoformat()) for s, d in pairs], [str(s) for s in students])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "VIRTUAL_ENV")}
    return env | {"SIS_DATABASE_URL": f"sqlite:///{path}", **extra}


def start_server(path: Path, port: int) -> subprocess.Popen[bytes]:
    """`sis serve` in its own process on loopback; returns once /healthz answers (at most 60 s)."""
    server = subprocess.Popen(
        [*SIS, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"sis serve exited: {server.stderr.read().decode()[-2000:] if server.stderr else ''}")
        with contextlib.suppress(httpx2.HTTPError):  # not listening yet
            if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        time.sleep(0.2)
    server.kill()
    raise RuntimeError("sis serve did not answer /healthz within 60 s")


class Mix:
    """The arguments of each call: writes rotate over student-days and students, shared by all clients."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self._days = itertools.count()
        self._students = itertools.count()
        self.statuses = ("present", "tardy")

    def arguments(self, tool: str) -> dict[str, Any]:
        t = self.targets
        if tool == "query_roster":
            return {"limit": 50}
        if tool == "search_students":
            return {"text": "an", "limit": 20}
        if tool == "find_missing_immunizations":
            return {"limit": 50}
        if tool == "record_attendance":
            n = next(self._days)
            student, day = t.student_days[n % len(t.student_days)]
            status = self.statuses[(n // len(t.student_days)) % 2]
            return {"student_id": student, "day_on": day, "status": status, "purpose": "bench"}
        student = t.students[next(self._students) % len(t.students)]
        if tool == "record_behavior_incident":
            day = t.student_days[0][1]
            return {"student_id": student, "occurred_on": day, "category": "bench", "severity": "low",
                    "description": "benchmark incident", "reason": "bench"}  # fmt: skip
        if tool == "update_student":
            return {"student_id": student, "reason": "bench", "preferred_name": f"B{int(time.time()) % 1000}"}
        raise ValueError(tool)


async def http_client(base: str, key: str, mix: Mix, offset: int, deadline: float, run: Run) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        for n in range(MAX_CALLS_PER_CLIENT):
            if time.monotonic() >= deadline:
                return
            tool = MIX[(n + offset) % len(MIX)]
            body = mix.arguments(tool)
            started = time.perf_counter()
            try:
                response = await http.post(f"/api/v1/tools/{tool}", json=body)
                status = str(response.status_code)
            except httpx2.HTTPError as err:
                status, response = f"connection:{type(err).__name__}", None
            run.latencies_ms.append((time.perf_counter() - started) * 1000)
            run.statuses[status] += 1
            run.by_tool.setdefault(tool, []).append(run.latencies_ms[-1])
            if status != "200":
                run.failures.append(f"{tool} {status} {response.text[:200] if response is not None else ''}")


async def stdio_calls(client: Client, mix: Mix, deadline: float, run: Run) -> None:
    """The second process on the file: `sis mcp` over stdio, calling reads and writes in turn."""
    for n in range(MAX_CALLS_PER_CLIENT):
        if time.monotonic() >= deadline:
            return
        tool = ("query_roster", "record_attendance", "search_students", "update_student")[n % 4]
        result = await client.call_tool(tool, mix.arguments(tool))
        run.mcp_calls += 1
        if result.is_error:
            run.mcp_errors.append(f"stdio {tool}: {str(result.content)[:200]}")


async def drive(path: Path, base: str, keys: list[str], targets: Targets, clients: int, seconds: float) -> Run:
    """`clients` HTTP clients (keys[0..clients-1]) and one stdio MCP process (keys[-1]) for `seconds`,
    counted from when the stdio process has started and shaken hands."""
    run, mix = Run(clients, seconds), Mix(targets)
    params = StdioServerParameters(command=SIS[0], args=[*SIS[1:], "mcp"], env=_env(path, SIS_API_KEY=keys[-1]))
    async with Client(params) as client:
        deadline = time.monotonic() + seconds
        tasks = [http_client(base, keys[i], mix, i, deadline, run) for i in range(clients)]
        await asyncio.gather(*tasks, stdio_calls(client, mix, deadline, run))
    return run


def measure(path: Path, *, clients: int, seconds: float, baseline: bool = True) -> list[Run]:
    """Seed (when new), serve, and drive: the 1-client baseline first (when asked), then `clients`."""
    keys, targets = prepare(path, clients)
    port = free_port()
    server = start_server(path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        plan = ([1] if baseline else []) + [clients]
        return [asyncio.run(drive(path, base, keys, targets, c, seconds)) for c in plan]
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database", type=Path, default=None, help="SQLite file (default: a new temporary one)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 0 < args.seconds <= 600:
        parser.error("--clients 1..64 and --seconds up to 600")
    with tempfile.TemporaryDirectory() as scratch:
        path = args.database or Path(scratch) / "bench.db"
        runs = measure(path, clients=args.clients, seconds=args.seconds)
    for run in runs:
        print(json.dumps(run.summary(), indent=2))
    one, many = runs[0], runs[-1]
    ratio = many.percentile(0.99) / one.percentile(0.99) if one.percentile(0.99) else float("nan")
    met = many.errors == 0 and not many.mcp_errors and many.percentile(0.99) < 1000
    print(f"p99({many.clients})/p99(1) = {ratio:.2f}; goal (zero errors, p99 < 1 s): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
