"""Audit overhead: added time per call of one chained query-log entry, committed with the answer.

Each sample is one whole request transaction: a scoped read of a student page, then commit.
The "audited" variant also appends one query-log entry in the same transaction, exactly as the
tool runner does (on PostgreSQL one statement: the head-row UPDATE computes the SHA-256 link and
feeds the INSERT; on SQLite the head UPDATE, the hash in Python, the INSERT). Variants alternate so that drift on a busy machine hits both equally.

Run:  python bench/audit_bench.py [--calls 2000] [--database-url URL]   (an EMPTY database)
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import upgrade
from db.models import Organization, OrgKind, OrgLevel, Student
from db.sequences import STUDENT_NUMBER, allocate_numbers
from domain.audit.chain import Chain, verify_chain
from domain.audit.querylog import record_query
from policies.scope import Actor, DataClass, scope_for_orgs


def run(engine: Engine, calls: int) -> tuple[list[float], list[float]]:
    """(plain, audited) per-call wall times in microseconds."""
    with Session(engine, expire_on_commit=False) as session:
        slug = f"net{uuid.uuid4().hex[:6]}"
        network = Organization(
            id=uuid.uuid4(), slug=slug, name="Bench", level=OrgLevel.NETWORK, kind=OrgKind.FULL_SIS, path=f"/{slug}/"
        )
        campus = Organization(
            id=uuid.uuid4(),
            parent_id=network.id,
            slug="campus",
            name="Campus",
            level=OrgLevel.CAMPUS,
            kind=OrgKind.FULL_SIS,
            path=f"/{slug}/campus/",
        )
        session.add_all([network, campus])
        for i, number in enumerate(allocate_numbers(session, STUDENT_NUMBER, 50)):
            session.add(
                Student(
                    id=uuid.uuid4(),
                    student_number=number,
                    org_id=campus.id,
                    first_name=f"S{i}",
                    last_name="Bench",
                    birth_on=dt.date(2015, 1, 1),
                    grade_level=4,
                )
            )
        session.commit()
    scope = scope_for_orgs(Actor(user_id=None, label="bench@example.org"), [network.id, campus.id])

    def call(audited: bool) -> float:
        start = time.perf_counter_ns()
        with Session(engine) as session, session.begin():
            students = session.execute(
                select(Student.id).where(scope.student_filter(DataClass.DIRECTORY)).limit(25)
            ).scalars()
            ids = list(students)
            if audited:
                record_query(
                    session,
                    scope.actor,
                    capability="search_students",
                    scope=scope,
                    arguments={"text": "S1", "limit": 25, "api_key": "never logged"},
                    purpose="bench",
                    student_ids=ids,
                    row_count=len(ids),
                    duration_us=1234,
                )
        return (time.perf_counter_ns() - start) / 1000

    for _ in range(100):
        call(False)
        call(True)
    plain, audited = [], []
    for _ in range(calls):
        plain.append(call(False))
        audited.append(call(True))
    with Session(engine) as session:
        result = verify_chain(session, Chain.QUERY_LOG)
        assert result.ok, result
    return plain, audited


def main() -> None:
    """Time both variants and print medians and the added cost."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    engine = make_engine(args.database_url or f"sqlite:///{Path(tmp.name) / 'audit.db'}")
    upgrade(engine)
    plain, audited = run(engine, args.calls)
    with engine.connect() as conn:
        trips = []
        for _ in range(500):
            start = time.perf_counter_ns()
            conn.exec_driver_sql("SELECT 1").scalar()
            trips.append((time.perf_counter_ns() - start) / 1000)
    p_med, a_med = statistics.median(plain), statistics.median(audited)
    added = sorted(a - p for a, p in zip(audited, plain, strict=True))
    print(f"{engine.dialect.name}: {args.calls} calls per variant")
    print(f"{'variant':<34}{'median µs':>12}")
    print(f"{'read + commit':<34}{p_med:>12.1f}")
    print(f"{'read + query-log entry + commit':<34}{a_med:>12.1f}")
    print(
        f"{'added by the audit entry':<34}{a_med - p_med:>12.1f}   (median of paired differences: "
        f"{statistics.median(added):.1f})"
    )
    print(f"{'one SELECT 1 round trip':<34}{statistics.median(trips):>12.1f}   (the audit entry adds 1 statement")
    print(f"{'':<34}{'':>12}    on PostgreSQL, 3 in-process on SQLite)")
    print(f"target: <= 1000 µs median -> {'met' if a_med - p_med <= 1000 else 'NOT met'}")
    engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
