"""Enrollment status follows dates: pending before the first day, active from it, completed after the end."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from db.models import ChangeEvent, DomainEvent, Enrollment, EnrollmentEvent, EnrollmentStatus, OrgLevel
from domain.enrollment.lifecycle import LIFECYCLE_ACTOR, advance_enrollments, count_due, system_scope
from domain.enrollment.schemas import (
    EnrollStudentInput,
    OfferingQuery,
    RosterQuery,
    TransferStudentInput,
    WithdrawEnrollmentInput,
)
from domain.enrollment.service import (
    enroll_student,
    list_offerings,
    query_roster,
    transfer_student,
    withdraw_enrollment,
)
from domain.errors import OfferingFull
from tests.factories import create_offering, create_org, create_student, scope_at

TODAY = dt.date(2025, 8, 1)
YEAR_START, YEAR_END = dt.date(2025, 8, 18), dt.date(2026, 5, 29)


@pytest.fixture()
def campus(session):
    network = create_org(session, level=OrgLevel.NETWORK)
    return create_org(session, parent=network, slug="austin")


def _events(session, enrollment_id, kind):
    return [
        e
        for e in session.execute(select(DomainEvent).where(DomainEvent.event_type == kind)).scalars()
        if e.payload["enrollment_id"] == str(enrollment_id)
    ]


def _enroll(session, scope, student, offering, **kw):
    data = EnrollStudentInput(student_id=student.id, offering_id=offering.id, **kw)
    return enroll_student(session, scope, data, today=TODAY)


def test_a_stint_starting_later_is_pending_and_holds_its_seat(session, campus):
    scope = scope_at(campus)
    offering = create_offering(session, campus, start_on=YEAR_START, end_on=YEAR_END, capacity=1)
    stint = _enroll(session, scope, create_student(session, campus), offering)
    assert stint.status is EnrollmentStatus.PENDING and stint.start_on == YEAR_START
    assert _events(session, stint.id, "enrollment.created") and not _events(session, stint.id, "enrollment.activated")
    pending = query_roster(session, scope, RosterQuery(as_of=TODAY, status=EnrollmentStatus.PENDING))
    assert [i.enrollment_id for i in pending.items] == [stint.id]
    on_first_day = query_roster(session, scope, RosterQuery(as_of=YEAR_START))
    assert on_first_day.total == 0  # not a member until it is started
    with pytest.raises(OfferingFull):
        _enroll(session, scope, create_student(session, campus), offering)


def test_a_stint_starting_today_is_active_and_announced_once(session, campus):
    scope = scope_at(campus)
    offering = create_offering(session, campus, start_on=TODAY, end_on=YEAR_END)
    stint = _enroll(session, scope, create_student(session, campus), offering)
    assert stint.status is EnrollmentStatus.ACTIVE
    assert len(_events(session, stint.id, "enrollment.activated")) == 1
    advance_enrollments(session, system_scope(), as_of=TODAY)
    assert len(_events(session, stint.id, "enrollment.activated")) == 1


def test_the_job_activates_on_the_first_day_and_completes_after_the_offering_end(session, campus):
    scope = scope_at(campus)
    offering = create_offering(session, campus, start_on=YEAR_START, end_on=YEAR_END)
    stint = _enroll(session, scope, create_student(session, campus), offering)
    job = system_scope()

    assert advance_enrollments(session, job, as_of=YEAR_START - dt.timedelta(days=1)).stints == 0
    assert count_due(session, as_of=YEAR_START) == 1
    first = advance_enrollments(session, job, as_of=YEAR_START)
    assert (first.activated, first.completed) == (1, 0)
    row = session.get_one(Enrollment, stint.id)
    assert row.status is EnrollmentStatus.ACTIVE
    (activated,) = _events(session, stint.id, "enrollment.activated")
    assert activated.payload["status"] == "active" and activated.payload["cause"] == "started"
    again = advance_enrollments(session, job, as_of=YEAR_START)
    assert again.stints == 0 and len(_events(session, stint.id, "enrollment.activated")) == 1

    assert advance_enrollments(session, job, as_of=YEAR_END).completed == 0  # the last day is still a day in it
    done = advance_enrollments(session, job, as_of=YEAR_END + dt.timedelta(days=1))
    assert (done.activated, done.completed) == (0, 1)
    assert (row.status, row.end_on) == (EnrollmentStatus.COMPLETED, YEAR_END)
    assert len(_events(session, stint.id, "enrollment.completed")) == 1
    assert advance_enrollments(session, job, as_of=YEAR_END + dt.timedelta(days=30)).stints == 0
    assert len(_events(session, stint.id, "enrollment.completed")) == 1

    history = session.execute(
        select(EnrollmentEvent.event_type, EnrollmentEvent.from_status, EnrollmentEvent.to_status)
        .where(EnrollmentEvent.enrollment_id == stint.id)
        .order_by(EnrollmentEvent.id)
    ).all()
    assert [tuple(h) for h in history] == [
        ("created", None, "pending"),
        ("activated", "pending", "active"),
        ("completed", "active", "completed"),
    ]
    changes = session.execute(
        select(ChangeEvent.field, ChangeEvent.old_value, ChangeEvent.new_value, ChangeEvent.actor_label).where(
            ChangeEvent.entity_id == str(stint.id), ChangeEvent.actor_label == LIFECYCLE_ACTOR
        )
    ).all()
    assert {(f, o, n) for f, o, n, _ in changes} == {
        ("status", "pending", "active"),
        ("status", "active", "completed"),
        ("end_on", None, YEAR_END.isoformat()),
    }
    # Historic rosters stay true after completion: a member on a day of the year, not after it.
    assert query_roster(session, scope, RosterQuery(as_of=dt.date(2026, 1, 15))).total == 1
    assert query_roster(session, scope, RosterQuery(as_of=dt.date(2026, 6, 15))).total == 0


def test_a_stint_whose_whole_span_passed_unseen_is_activated_then_completed(session, campus):
    scope = scope_at(campus)
    camp = create_offering(session, campus, start_on=dt.date(2025, 8, 4), end_on=dt.date(2025, 8, 8))
    stint = _enroll(session, scope, create_student(session, campus), camp)
    result = advance_enrollments(session, system_scope(), as_of=dt.date(2025, 9, 1))
    assert (result.stints, result.activated, result.completed) == (1, 1, 1)
    assert len(_events(session, stint.id, "enrollment.activated")) == 1
    assert len(_events(session, stint.id, "enrollment.completed")) == 1


def test_withdrawn_and_transferred_stints_never_move(session, campus):
    scope = scope_at(campus)
    other = create_org(session, parent=session.get(type(campus), campus.parent_id), slug="miami")
    both = scope_at(campus, other)
    year = create_offering(session, campus, start_on=TODAY, end_on=YEAR_END)
    there = create_offering(session, other, start_on=TODAY, end_on=YEAR_END)
    left = _enroll(session, scope, create_student(session, campus), year)
    withdraw_enrollment(session, scope, WithdrawEnrollmentInput(enrollment_id=left.id, end_on=TODAY, reason="moved"))
    moved = _enroll(session, scope, create_student(session, campus), year)
    transfer = transfer_student(
        session,
        both,
        TransferStudentInput(enrollment_id=moved.id, to_offering_id=there.id, effective_on=YEAR_START),
        today=TODAY,
    )
    assert transfer.started.status is EnrollmentStatus.PENDING  # it starts at the receiving campus later
    advance_enrollments(session, system_scope(), as_of=YEAR_END + dt.timedelta(days=1))
    assert session.get_one(Enrollment, left.id).status is EnrollmentStatus.WITHDRAWN
    assert session.get_one(Enrollment, moved.id).status is EnrollmentStatus.TRANSFERRED
    assert session.get_one(Enrollment, transfer.started.id).status is EnrollmentStatus.COMPLETED
    assert not _events(session, left.id, "enrollment.completed")


def test_seats_taken_count_pending_stints_as_the_capacity_check_does(session, campus):
    offering = create_offering(session, campus, start_on=YEAR_START, end_on=YEAR_END, capacity=2)
    _enroll(session, scope_at(campus), create_student(session, campus), offering)
    (row,) = list_offerings(session, scope_at(campus), OfferingQuery(as_of=TODAY)).items
    assert (row.seats_taken, row.seats_left) == (1, 1)
