"""Concurrent writes of one student-day on PostgreSQL: every call answers, one record stands (#15).

Before, 16 concurrent `record_attendance` calls for one student-day gave 500s (a unique violation
from two inserts of the same day). Writes for one student now queue on the student's row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.models import AttendanceRecord, Enrollment, SchoolDay, Student
from mcp_server.settings import Settings
from mcp_server.wiring import build_deps
from policies.principal import load_principal
from tests.conftest import fresh_database
from tests.personas import email_of
from tools.runner import ToolCallError, run_tool


@pytest.fixture()
def committed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A demo database of this test's own whose writes commit (the threads need to see each other's)."""
    engine = fresh_database("postgresql", request, tmp_path_factory, "races", demo=True)
    yield engine
    engine.dispose()


def test_sixteen_concurrent_writes_of_one_student_day_all_answer_and_leave_one_record(committed):
    """PostgreSQL only: SQLite serializes writers itself (its locking is a finding of its own)."""
    with Session(committed) as session:
        registrar = load_principal(session, email=email_of("registrar_austin"))
        student, campus = session.execute(
            select(Student.id, Student.org_id)
            .join(Enrollment, Enrollment.student_id == Student.id)
            .where(Student.org_id.in_([g.org_id for g in registrar.grants]), Enrollment.end_on.is_(None))
            .order_by(Student.student_number)
            .limit(1)
        ).one()
        day = session.execute(
            select(SchoolDay.day_on)
            .where(SchoolDay.org_id == campus, SchoolDay.day_on <= dt.date.today())
            .order_by(SchoolDay.day_on.desc())
            .limit(1)
        ).scalar_one()
    deps = build_deps(Settings(), committed)
    statuses = ["tardy", "excused_absence", "unexcused_absence", "tardy"] * 4

    def write(status: str) -> str:
        arguments = {"student_id": str(student), "day_on": day.isoformat(), "status": status}
        try:
            return run_tool(deps, registrar, "record_attendance", arguments).data["status"]
        except ToolCallError as err:
            return f"error {err.status} {err.code}"

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(write, statuses))

    assert all(not a.startswith("error") for a in answers), answers
    with Session(committed) as session:
        rows = session.execute(
            select(func.count()).where(AttendanceRecord.student_id == student, AttendanceRecord.day_on == day)
        ).scalar_one()
    assert rows == 1
