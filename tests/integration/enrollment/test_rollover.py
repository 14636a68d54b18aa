"""Year rollover is data entry: cloned offerings, continuing students one grade up, idempotent."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from db.models import Enrollment, OrgLevel, ProgramOffering
from domain.enrollment.rollover import RolloverInput, new_tuition, rollover_year
from domain.enrollment.schemas import EnrollStudentInput, WithdrawEnrollmentInput
from domain.enrollment.service import enroll_student, withdraw_enrollment
from domain.errors import InvalidInput, NotFound
from tests.factories import create_offering, create_org, create_student, scope_at


def test_rollover_clones_offerings_and_continues_students_one_grade_up(session):
    network = create_org(session, level=OrgLevel.NETWORK)
    austin = create_org(session, parent=network, slug="austin")
    scope = scope_at(network, descendants=[austin])
    old = create_offering(session, austin, session_label="2025-26", grade_min=0, grade_max=12, tuition_cents=1_000_000)
    staying = create_student(session, austin, grade=4)
    senior = create_student(session, austin, grade=12)
    leaving = create_student(session, austin, grade=7)
    for s in (staying, senior, leaving):
        enroll_student(session, scope, EnrollStudentInput(student_id=s.id, offering_id=old.id), today=old.start_on)
    left = session.execute(select(Enrollment).where(Enrollment.student_id == leaving.id)).scalar_one()
    withdraw_enrollment(
        session, scope, WithdrawEnrollmentInput(enrollment_id=left.id, end_on=dt.date(2026, 1, 15), reason="moved")
    )

    data = RolloverInput(
        org_id=network.id,
        from_session="2025-26",
        to_session="2026-27",
        start_on=dt.date(2026, 8, 17),
        end_on=dt.date(2027, 5, 28),
        tuition_change_bp=350,
    )
    result = rollover_year(session, scope, data)
    assert (result.offerings_created, result.stints_created, result.students_graduated) == (1, 1, 1)
    clone = session.execute(select(ProgramOffering).where(ProgramOffering.previous_offering_id == old.id)).scalar_one()
    assert clone.session_label == "2026-27" and clone.tuition_cents == 1_035_000
    new_stint = session.execute(select(Enrollment).where(Enrollment.offering_id == clone.id)).scalar_one()
    assert (new_stint.student_id, new_stint.grade_level, new_stint.start_on) == (staying.id, 5, dt.date(2026, 8, 17))
    assert new_stint.previous_enrollment_id is not None

    again = rollover_year(session, scope, data)
    assert (again.offerings_created, again.offerings_reused, again.stints_created, again.students_skipped) == (
        0,
        1,
        0,
        1,
    )


def test_rollover_with_nothing_to_clone_says_so(session):
    austin = create_org(session)
    with pytest.raises(InvalidInput, match="2019-20"):
        rollover_year(
            session,
            scope_at(austin),
            RolloverInput(
                org_id=austin.id,
                from_session="2019-20",
                to_session="2020-21",
                start_on=dt.date(2020, 8, 17),
                end_on=dt.date(2021, 5, 28),
            ),
        )


def test_rollover_outside_scope_is_not_found(session):
    austin, miami = create_org(session), create_org(session)
    with pytest.raises(NotFound):
        rollover_year(
            session,
            scope_at(austin),
            RolloverInput(
                org_id=miami.id,
                from_session="a",
                to_session="b",
                start_on=dt.date(2020, 8, 17),
                end_on=dt.date(2021, 5, 28),
            ),
        )


def test_tuition_change_rounds_half_up_to_the_cent():
    assert new_tuition(999, 500) == 1049  # 1048.95 -> 1049
    assert new_tuition(10, 500) == 11  # 10.5 -> 11
    assert new_tuition(1_000_000, 0) == 1_000_000
