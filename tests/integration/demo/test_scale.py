"""The network-scale generator: a small run on each engine, checked through the ORM for invariants."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, aliased

from db.demo.calendar import DEMO_TODAY, school_year_containing
from db.demo.scale import ROOT_PATH, ScaleAlreadySeeded, ScaleSummary, seed_scale
from db.demo.seed import seed_demo
from db.engine import make_engine
from db.migrate import upgrade
from db.models import (
    ABSENT_STATUSES,
    AttendanceRecord,
    AttendanceStatus,
    BehaviorIncident,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    GuideAssignment,
    Household,
    HouseholdStudent,
    ImmunizationRecord,
    Organization,
    OrgKind,
    OrgLevel,
    ProgramOffering,
    RoleGrant,
    SchoolDay,
    Student,
    User,
    UserKind,
)

CAMPUSES, STUDENTS, DAYS = 5, 2000, 3
CURRENT = school_year_containing(DEMO_TODAY)


def _sqlite(tmp: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp / 'scale.db'}")
    upgrade(engine)
    return engine


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scale_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, ScaleSummary]]:
    """A fresh database (not the shared `engine`) holding one small scale run."""
    admin = None
    name = f"sis_scale_{os.getpid()}"
    if request.param == "sqlite":
        engine = _sqlite(tmp_path_factory.mktemp("scale"))
    else:
        server = request.getfixturevalue("postgres_server_url")
        admin = make_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(f"{server.rpartition('/')[0]}/{name}")
        upgrade(engine)
    stages: list[tuple[str, int, int]] = []
    summary = seed_scale(
        engine,
        campuses=CAMPUSES,
        students=STUDENTS,
        attendance_days=DAYS,
        today=DEMO_TODAY,
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    assert stages[-1] == ("students", STUDENTS, STUDENTS)
    yield engine, summary
    engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def scale_session(scale_run: tuple[Engine, ScaleSummary]) -> Iterator[Session]:
    with Session(scale_run[0]) as session:
        yield session


def _count(session: Session, model: Any) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_scale_writes_the_requested_network(scale_run, scale_session):
    _, summary = scale_run
    campuses = scale_session.execute(
        select(Organization.kind, Organization.path).where(Organization.level == OrgLevel.CAMPUS)
    ).all()
    full = [path for kind, path in campuses if kind is OrgKind.FULL_SIS]
    assert len(full) == summary.campuses == CAMPUSES
    assert summary.roster_only_schools >= 1
    assert all(path.startswith(ROOT_PATH) and path.count("/") == 4 for _, path in campuses)
    assert "/scale/b01/c001/" in full
    assert _count(scale_session, Student) == summary.students == STUDENTS
    for model, expected in (
        (Enrollment, summary.enrollments),
        (EnrollmentEvent, summary.enrollment_events),
        (Household, summary.households),
        (GuideAssignment, summary.guide_assignments),
        (SchoolDay, summary.school_days),
        (AttendanceRecord, summary.attendance_records),
        (ImmunizationRecord, summary.immunization_records),
        (BehaviorIncident, summary.behavior_incidents),
        (RoleGrant, summary.role_grants),
    ):
        assert _count(scale_session, model) == expected, model.__name__


def test_every_scale_student_has_one_current_year_stint(scale_session):
    current = Counter(
        scale_session.execute(
            select(Enrollment.student_id)
            .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
            .where(ProgramOffering.session_label == CURRENT.label)
        ).scalars()
    )
    assert len(current) == STUDENTS and set(current.values()) == {1}
    statuses = Counter(scale_session.execute(select(Enrollment.status)).scalars())
    assert statuses[EnrollmentStatus.COMPLETED] >= 0.5 * STUDENTS
    assert statuses[EnrollmentStatus.ACTIVE] >= 0.9 * STUDENTS


def test_returning_scale_students_continue_last_years_stint(scale_session):
    previous = aliased(Enrollment)
    rows = scale_session.execute(
        select(Enrollment.grade_level, previous.grade_level, previous.status, Enrollment.org_id, previous.org_id).join(
            previous, previous.id == Enrollment.previous_enrollment_id
        )
    ).all()
    assert rows
    for grade, previous_grade, status, org, previous_org in rows:
        assert previous_grade == grade - 1 and status is EnrollmentStatus.COMPLETED and org == previous_org


def test_scale_stints_respect_offering_dates_grades_and_capacity(scale_session):
    rows = scale_session.execute(select(Enrollment, ProgramOffering).join(ProgramOffering)).all()
    taken = Counter(offering.id for _, offering in rows)
    for enrollment, offering in rows:
        assert offering.start_on <= enrollment.start_on <= offering.end_on
        assert enrollment.end_on is None or enrollment.start_on <= enrollment.end_on < DEMO_TODAY + dt.timedelta(1)
        assert offering.grade_min <= enrollment.grade_level <= offering.grade_max
        assert taken[offering.id] <= offering.capacity


def test_every_scale_student_shares_sum_to_10000(scale_session):
    totals = scale_session.execute(
        select(HouseholdStudent.student_id, func.sum(HouseholdStudent.billing_share_bp)).group_by(
            HouseholdStudent.student_id
        )
    ).all()
    assert len(totals) == STUDENTS and {total for _, total in totals} == {10_000}


def test_scale_attendance_rows_are_non_present_on_the_recent_school_days(scale_session):
    days = scale_session.execute(select(SchoolDay.org_id, SchoolDay.day_on)).all()
    per_org = Counter(org for org, _ in days)
    assert set(per_org.values()) == {DAYS}
    school_days = set(days)
    rows = scale_session.execute(
        select(AttendanceRecord.org_id, AttendanceRecord.day_on, AttendanceRecord.status)
    ).all()
    assert rows
    assert all((org, day) in school_days and status is not AttendanceStatus.PRESENT for org, day, status in rows)
    assert max(day for _, day in school_days) <= DEMO_TODAY
    absent = sum(1 for *_, status in rows if status in ABSENT_STATUSES)
    assert 0.02 * STUDENTS * DAYS <= absent <= 0.12 * STUDENTS * DAYS


def test_scale_staff_hold_one_grant_and_guides_coach_their_own_campus(scale_session):
    grants = Counter(
        scale_session.execute(
            select(RoleGrant.user_id).join(User, User.id == RoleGrant.user_id).where(User.kind != UserKind.GUARDIAN)
        ).scalars()
    )
    assert set(grants.values()) == {1}
    mismatched = scale_session.execute(
        select(func.count())
        .select_from(GuideAssignment)
        .join(Student, Student.id == GuideAssignment.student_id)
        .join(RoleGrant, (RoleGrant.user_id == GuideAssignment.guide_user_id) & (RoleGrant.role == "guide"))
        .where((RoleGrant.org_id != GuideAssignment.org_id) | (Student.org_id != GuideAssignment.org_id))
    ).scalar_one()
    assert mismatched == 0
    guides = scale_session.execute(select(func.count()).where(RoleGrant.role == "guide")).scalar_one()
    assert STUDENTS / 40 <= guides <= STUDENTS / 15


def test_scale_immunization_histories_are_realistic_with_gaps(scale_session):
    per_student = Counter(scale_session.execute(select(ImmunizationRecord.student_id)).scalars())
    assert 8 <= sum(per_student.values()) / len(per_student) <= 18
    with_hepa = set(
        scale_session.execute(
            select(ImmunizationRecord.student_id).where(ImmunizationRecord.vaccine_group == "HepA")
        ).scalars()
    )
    assert 0.02 * len(per_student) <= len(set(per_student) - with_hepa) <= 0.2 * len(per_student)
    roster_only = select(Organization.id).where(Organization.kind == OrgKind.ROSTER_ONLY)
    assert not scale_session.execute(
        select(ImmunizationRecord.id).where(ImmunizationRecord.org_id.in_(roster_only)).limit(1)
    ).first()


def test_scale_values_read_back_as_the_orm_writes_them(scale_session):
    """Raw COPY/executemany rows compare equal to typed ORM values (dates, UTC timestamps, enums)."""
    first_day = scale_session.execute(
        select(func.count()).where(
            Enrollment.start_on == CURRENT.start_on, Enrollment.status == EnrollmentStatus.ACTIVE
        )
    ).scalar_one()
    assert first_day > 0
    enrollment = scale_session.execute(select(Enrollment).limit(1)).scalar_one()
    assert enrollment.created_at.tzinfo is not None
    student = scale_session.get_one(Student, enrollment.student_id)
    assert student.org_id == enrollment.org_id


def test_scale_is_deterministic_for_the_same_seed(tmp_path):
    dumps = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        engine = _sqlite(folder)
        seed_scale(engine, campuses=2, students=300, attendance_days=2, seed=5, today=DEMO_TODAY)
        with engine.connect() as conn:
            dumps.append(
                [
                    list(conn.execute(select(model.__table__).order_by(*model.__table__.primary_key.columns)))
                    for model in (Organization, User, Student, Enrollment, ImmunizationRecord, AttendanceRecord)
                ]
            )
        engine.dispose()
    assert dumps[0] == dumps[1]


def test_scale_data_coexists_with_the_demo_and_runs_once(tmp_path):
    engine = _sqlite(tmp_path)
    demo = seed_demo(engine)
    seed_scale(engine, campuses=2, students=300, attendance_days=2, today=DEMO_TODAY)
    with Session(engine) as session:
        numbers = sorted(session.execute(select(Student.student_number)).scalars())
        assert len(numbers) == demo.students + 300
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        demo_students = session.execute(
            select(func.count())
            .select_from(Student)
            .join(Organization, Organization.id == Student.org_id)
            .where(Organization.path.startswith("/alpha/"))
        ).scalar_one()
        assert demo_students == demo.students
    with pytest.raises(ScaleAlreadySeeded):
        seed_scale(engine, campuses=1, students=10, today=DEMO_TODAY)
    engine.dispose()
