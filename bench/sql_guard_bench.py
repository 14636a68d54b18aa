"""Median query-guard overhead per statement (parse, check, rewrite, transpile, re-check; no execution).

Runs every benign query of tests/integration/reporting/test_benign.py through policies.sql_guard.guard.guard_sql
for a campus-level scope and a guide scope, for both engine dialects, and compares with sqlglot's
parse alone as the baseline. Not a timed test: run it by hand.

    python bench/sql_guard_bench.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import sqlglot

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies.scope import Action, Actor, DataClass, Scope, scope_for_orgs
from policies.sql_guard.guard import guard_sql
from tests.integration.reporting.test_benign import CASES

ORGS = [uuid.uuid5(uuid.NAMESPACE_DNS, f"org{i}.example") for i in range(4)]
CAMPUS = scope_for_orgs(Actor(None, "bench@example"), ORGS, actions=(Action.READ,))
GUIDE = Scope(
    actor=Actor(None, "guide@example"),
    grants={(dc, Action.READ): frozenset(ORGS[:1]) for dc in DataClass},
    guide_user_id=uuid.UUID(int=7),
)


def _median_ms(fn: object, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="runs per statement (median taken)")
    args = parser.parse_args()
    compiled = "compiled (sqlglotc)" if sqlglot.parser.__file__.endswith(".so") else "pure Python"
    version = sqlglot.__version__  # type: ignore[attr-defined]
    print(f"sqlglot {version}, {compiled}; {len(CASES)} benign statements x {args.repeat} runs\n")
    rows = []
    for case in CASES:
        parse = _median_ms(lambda sql=case.sql: sqlglot.parse_one(sql, read="postgres"), args.repeat)
        timings = [parse]
        for dialect in ("postgres", "sqlite"):
            for scope in (CAMPUS, GUIDE):
                timings.append(
                    _median_ms(
                        lambda sql=case.sql, d=dialect, s=scope: guard_sql(sql, s, dialect=d, limit=200), args.repeat
                    )
                )
        rows.append((case.name, *timings))
    header = ("statement", "parse", "guard pg", "guard pg guide", "guard sqlite", "guard sqlite guide")
    print(f"{header[0]:<20}" + "".join(f"{h:>20}" for h in header[1:]))
    for name, *values in rows:
        print(f"{name:<20}" + "".join(f"{v:>17.3f} ms" for v in values))
    columns = list(zip(*(r[1:] for r in rows), strict=True))
    print(f"{'median':<20}" + "".join(f"{statistics.median(c):>17.3f} ms" for c in columns))
    guard_all = [v for r in rows for v in r[2:]]
    print(f"\nmedian guard overhead over all statements, dialects and scopes: {statistics.median(guard_all):.3f} ms")
    print(f"median sqlglot parse alone: {statistics.median(columns[0]):.3f} ms")


if __name__ == "__main__":
    main()
