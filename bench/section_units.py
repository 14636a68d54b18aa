"""Item 5: the unit costs the README tracks, each against its baseline in the same run.

Reuses the scripts beside this file: authz_bench.measure, sql_guard_bench's statements and scopes,
audit_bench.run, oneroster_bench's two servers and load loop; the seed figures come from the
`sis seed scale` subprocesses `databases.seed` ran.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import sqlglot

from bench import audit_bench, authz_bench, oneroster_bench, sql_guard_bench
from bench.databases import SeedRun, create_database
from bench.harness import Series, alternate, percentile
from bench.report import Section, ms, ratio
from db.engine import make_engine
from db.migrate import upgrade
from policies.scope import Scope
from policies.sql_guard.guard import guard_sql
from policies.sql_guard.refusals import EngineDialect
from tests.integration.reporting.test_benign import CASES


def authorization(section: Section, *, decisions: int, scopes: int, casbin_samples: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'authz.db'}")
        upgrade(engine)
        rows = authz_bench.measure(engine, decisions=decisions, scopes=scopes, casbin_samples=casbin_samples)
        engine.dispose()
    baseline = rows[-2][1]  # naive Casbin over every grant
    table = section.table(
        "path",
        "median µs",
        "p99 µs",
        "ratio to naive Casbin",
        "notes",
        title="Authorization decision (811 orgs, 5,000 grants; python bench/authz_bench.py)",
    )
    for name, med, p99, note in rows:
        table.add(name, f"{med:,.1f}", f"{p99:,.1f}", ratio(med, baseline), note)


def sql_guard(section: Section, *, repeat: int) -> None:
    """The guard against a bare sqlglot parse of the same statement, alternating call by call."""
    guard, parse = Series(), Series()
    pairs: list[tuple[Scope, EngineDialect]] = [(sql_guard_bench.CAMPUS, "postgres"), (sql_guard_bench.GUIDE, "sqlite")]
    for case in CASES:
        for scope, dialect in pairs:
            timed = alternate({"guard": _guard(case.sql, scope, dialect), "parse": _parse(case.sql)}, repeat)
            guard.values += timed["guard"].values
            parse.values += timed["parse"].values
    compiled = "sqlglotc" if sqlglot.parser.__file__.endswith(".so") else "pure-Python sqlglot"
    table = section.table(
        "step",
        "median ms",
        "p99 ms",
        "ratio to parse",
        title=f"SQL guard per statement ({len(CASES)} benign statements × 2 scopes "
        f"× {repeat}; {compiled}; goal median 3 ms)",
    )
    table.add(
        "guard_sql (parse, check, rewrite, transpile, re-check)",
        ms(guard.median),
        ms(guard.p99),
        ratio(guard.median, parse.median),
    )
    table.add("sqlglot parse alone (baseline)", ms(parse.median), ms(parse.p99), "1.00×")


def _guard(sql: str, scope: Scope, dialect: EngineDialect) -> Callable[[int], object]:
    return lambda i: guard_sql(sql, scope, dialect=dialect, limit=200)


def _parse(sql: str) -> Callable[[int], object]:
    return lambda i: sqlglot.parse_one(sql, read="postgres")


def audit(section: Section, *, calls: int, server_url: str) -> None:
    """Added time per call of one chained query-log entry, on SQLite and on an empty PostgreSQL database."""
    table = section.table(
        "engine",
        "read + commit median µs",
        "p99 µs",
        "with audit entry median µs",
        "p99 µs",
        "added median µs",
        "ratio",
        title=f"Audit entry per call ({calls} calls per variant, alternating; goal 1,000 µs added)",
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, url in (
            ("SQLite", f"sqlite:///{Path(tmp) / 'audit.db'}"),
            ("PostgreSQL", create_database(server_url, "sis_bench_audit", fresh=True)[0]),
        ):
            engine = make_engine(url)
            upgrade(engine)
            plain, audited = audit_bench.run(engine, calls)
            engine.dispose()
            p, a = Series([v for v in plain]), Series([v for v in audited])
            table.add(
                label,
                f"{p.median:,.0f}",
                f"{p.p99:,.0f}",
                f"{a.median:,.0f}",
                f"{a.p99:,.0f}",
                f"{a.median - p.median:,.0f}",
                ratio(a.median, p.median),
            )


def oneroster(section: Section, *, database_url: str, key: str, seconds: float, rounds: int, concurrency: int) -> None:
    """OneRoster users pages: the SIS against a bare FastAPI + psycopg endpoint, rounds alternating."""
    headers = {"Authorization": f"Bearer {key}"}
    servers = {kind: oneroster_bench.start(kind, database_url) for kind in ("sis", "bare")}
    try:
        import httpx

        pages = [
            httpx.get(servers[k][1] + oneroster_bench.PATH, params={"limit": 100}, headers=headers, timeout=120)
            for k in ("sis", "bare")
        ]
        same = all(p.status_code == 200 for p in pages) and oneroster_bench.normalized(
            pages[0]
        ) == oneroster_bench.normalized(pages[1])
        latencies: dict[str, list[float]] = {"sis": [], "bare": []}
        rates: dict[str, list[float]] = {"sis": [], "bare": []}
        errors = {"sis": 0, "bare": 0}
        for kind in ("sis", "bare"):
            oneroster_bench.throughput(servers[kind][1], headers, 2, concurrency)
        for round_no in range(rounds):
            for kind in ("sis", "bare") if round_no % 2 == 0 else ("bare", "sis"):
                rps, errs = oneroster_bench.throughput(servers[kind][1], headers, seconds, concurrency, latencies[kind])
                rates[kind].append(rps)
                errors[kind] += errs
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=20)
    table = section.table(
        "server",
        "req/s per round",
        "median ms",
        "p99 ms",
        "errors",
        "throughput ratio to bare",
        title=f"OneRoster GET /users?limit=100, {concurrency} clients, {rounds} × {seconds:.0f} s "
        f"per server (goal ratio ≥ 0.7)",
    )
    mean = {k: sum(v) / len(v) for k, v in rates.items()}
    for kind, name in (("sis", "SIS (whole path)"), ("bare", "bare FastAPI + psycopg (baseline)")):
        table.add(
            name,
            ", ".join(f"{r:.1f}" for r in rates[kind]),
            ms(_median(latencies[kind])),
            ms(percentile(latencies[kind], 0.99)),
            errors[kind],
            f"{mean[kind] / mean['bare']:.2f}",
        )
    section.notes.append(
        "Both servers answered the same first page (same users, same X-Total-Count)."
        if same
        else "WARNING: the two servers did not answer the same first page; the ratio compares unlike work."
    )


def seeding(section: Section, runs: list[SeedRun]) -> None:
    table = section.table(
        "engine",
        "data",
        "seconds",
        "students/s",
        "peak RSS MiB",
        "rows written",
        title="Seed (bulk import: COPY on PostgreSQL, executemany on SQLite), one run each",
    )
    for run in runs:
        table.add(
            run.engine,
            run.size.label + f", {run.size.attendance_days} days of attendance",
            f"{run.seconds:.1f}",
            f"{run.size.students / run.seconds:,.0f}",
            f"{run.peak_mib:.0f}",
            run.summary,
        )
    section.notes.append(
        "There is no `sis import` in this tree; the seed's COPY path is the bulk import. A database reused "
        "from an earlier run was not re-seeded, so only the seeds this run made appear."
    )


def _median(values: list[float]) -> float:
    return Series(values).median
