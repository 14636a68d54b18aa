"""`sis enrollments advance` run as a user would (a subprocess), and the server's run at start."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import DomainEvent, Enrollment, EnrollmentStatus, OrgLevel
from mcp_server.app import create_app
from mcp_server.enrollment_job import seconds_until_next_midnight
from tests.conftest import ENGINES, fresh_database
from tests.factories import create_enrollment, create_offering, create_org, create_student

START, END = dt.date(2025, 8, 18), dt.date(2026, 5, 29)


@pytest.fixture(params=ENGINES)
def committed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database of its own whose writes commit (another process reads them)."""
    engine = fresh_database(request.param, request, tmp_path_factory, f"job_{uuid.uuid4().hex[:8]}")
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        admin = make_engine(request.getfixturevalue("postgres_server_url"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)'))
        admin.dispose()


def _stints(engine: Engine, *, start_on: dt.date, end_on: dt.date) -> list[uuid.UUID]:
    """Two pending stints of a year and one withdrawn stint, committed."""
    with Session(engine, expire_on_commit=False) as session:
        campus = create_org(session, parent=create_org(session, level=OrgLevel.NETWORK), slug="austin")
        year = create_offering(session, campus, start_on=start_on, end_on=end_on)
        ids = [
            create_enrollment(session, create_student(session, campus), year, status=EnrollmentStatus.PENDING).id
            for _ in range(2)
        ]
        gone = create_enrollment(
            session, create_student(session, campus), year, end_on=start_on, status=EnrollmentStatus.WITHDRAWN
        )
        session.commit()
        return [*ids, gone.id]


def _sis(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    url = engine.url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-c", "from mcp_server.cli import main; main()", *args],
        env={"SIS_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _statuses(engine: Engine, ids: list[uuid.UUID]) -> list[str]:
    with Session(engine) as session:
        return [session.get_one(Enrollment, i).status.value for i in ids]


def _events(engine: Engine, kind: str) -> int:
    with Session(engine) as session:
        return session.execute(
            select(func.count()).select_from(DomainEvent).where(DomainEvent.event_type == kind)
        ).scalar_one()


def test_the_cli_starts_and_completes_stints_once_with_a_summary_line(committed):
    ids = _stints(committed, start_on=START, end_on=END)
    first = _sis(committed, "enrollments", "advance", "--as-of", START.isoformat())
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"enrollments as of {START}: 2 activated, 0 completed (2 stints changed)"
    assert _statuses(committed, ids) == ["active", "active", "withdrawn"]
    again = _sis(committed, "enrollments", "advance", "--as-of", START.isoformat())
    assert "0 activated, 0 completed" in again.stdout and _events(committed, "enrollment.activated") == 2

    after = (END + dt.timedelta(days=1)).isoformat()
    done = _sis(committed, "enrollments", "advance", "--as-of", after)
    assert "0 activated, 2 completed" in done.stdout, done.stderr
    assert _statuses(committed, ids) == ["completed", "completed", "withdrawn"]
    assert _events(committed, "enrollment.completed") == 2


def test_the_cli_refuses_a_bad_date_in_one_line_and_changes_nothing(committed):
    ids = _stints(committed, start_on=START, end_on=END)
    result = _sis(committed, "enrollments", "advance", "--as-of", "2025-13-01")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --as-of is not a date (YYYY-MM-DD): '2025-13-01'"
    assert "Traceback" not in result.stderr
    assert _statuses(committed, ids) == ["pending", "pending", "withdrawn"]


def test_the_server_advances_enrollments_before_its_first_request(committed):
    today = dt.date.today()
    ids = _stints(committed, start_on=today - dt.timedelta(days=1), end_on=today + dt.timedelta(days=60))
    with TestClient(create_app(committed, run_jobs=True)) as client:
        assert _statuses(committed, ids) == ["active", "active", "withdrawn"]
        assert client.get("/healthz").status_code == 200


def test_an_app_built_without_jobs_leaves_statuses_alone(committed):
    today = dt.date.today()
    ids = _stints(committed, start_on=today - dt.timedelta(days=1), end_on=today + dt.timedelta(days=60))
    with TestClient(create_app(committed)):
        assert _statuses(committed, ids) == ["pending", "pending", "withdrawn"]


def test_the_daily_run_waits_until_just_after_local_midnight():
    tz = dt.timezone(dt.timedelta(hours=-6))
    assert seconds_until_next_midnight(dt.datetime(2026, 3, 1, 23, 59, 0, tzinfo=tz)) == 65
    assert seconds_until_next_midnight(dt.datetime(2026, 3, 1, 0, 0, 10, tzinfo=tz)) == 24 * 3600 - 5
