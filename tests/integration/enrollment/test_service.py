"""Enrollment rules on real databases: stints, capacity, transfers, re-enrollment, rosters, trends."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from db.models import ChangeEvent, Enrollment, EnrollmentEvent, EnrollmentStatus, OfferingStatus, OrgKind, OrgLevel
from domain.enrollment import rules
from domain.enrollment.lifecycle import advance_enrollments, system_scope
from domain.enrollment.schemas import (
    EnrollmentTrendQuery,
    EnrollStudentInput,
    OfferingQuery,
    ReenrollStudentInput,
    RosterQuery,
    TransferStudentInput,
    WithdrawEnrollmentInput,
)
from domain.enrollment.service import (
    enroll_student,
    enrollment_trend,
    list_offerings,
    query_roster,
    reenroll_student,
    transfer_student,
    withdraw_enrollment,
)
from domain.errors import (
    EnrollmentNotActive,
    EnrollmentOverlap,
    GradeNotOffered,
    InvalidInput,
    NotFound,
    OfferingClosed,
    OfferingFull,
    PermissionDenied,
)
from policies.scope import Action, DataClass
from tests.factories import create_offering, create_org, create_student, create_user, scope_at

TODAY = dt.date(2025, 9, 1)


@pytest.fixture()
def tree(session):
    network = create_org(session, level=OrgLevel.NETWORK)
    austin = create_org(session, parent=network, slug="austin")
    miami = create_org(session, parent=network, slug="miami")
    online = create_org(session, parent=network, slug="online", kind=OrgKind.ROSTER_ONLY)
    return {"network": network, "austin": austin, "miami": miami, "online": online}


def enroll(session, scope, student, offering, **kw):
    return enroll_student(
        session, scope, EnrollStudentInput(student_id=student.id, offering_id=offering.id, **kw), today=TODAY
    )


def test_enrolling_creates_an_active_stint_with_event_and_change_events(session, tree):
    scope = scope_at(tree["austin"])
    student = create_student(session, tree["austin"])
    offering = create_offering(session, tree["austin"])
    result = enroll(session, scope, student, offering, reason="new family")
    assert result.status is EnrollmentStatus.ACTIVE
    assert result.start_on == TODAY
    events = session.execute(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == result.id)).scalars().all()
    assert [e.event_type for e in events] == ["created"]
    fields = set(session.execute(select(ChangeEvent.field).where(ChangeEvent.entity_id == str(result.id))).scalars())
    assert {"student_id", "offering_id", "status", "start_on"} <= fields


def test_closed_offering_refuses_enrollment(session, tree):
    scope = scope_at(tree["austin"])
    offering = create_offering(session, tree["austin"], status=OfferingStatus.CLOSED)
    with pytest.raises(OfferingClosed):
        enroll(session, scope, create_student(session, tree["austin"]), offering)


def test_start_outside_the_offering_dates_is_refused(session, tree):
    scope = scope_at(tree["austin"])
    offering = create_offering(session, tree["austin"])
    with pytest.raises(OfferingClosed) as err:
        enroll(session, scope, create_student(session, tree["austin"]), offering, start_on=dt.date(2026, 7, 1))
    assert err.value.field == "start_on"


def test_full_offering_refuses_the_next_student(session, tree):
    scope = scope_at(tree["austin"])
    offering = create_offering(session, tree["austin"], capacity=2)
    for _ in range(2):
        enroll(session, scope, create_student(session, tree["austin"]), offering)
    with pytest.raises(OfferingFull, match="2/2"):
        enroll(session, scope, create_student(session, tree["austin"]), offering)


def test_withdrawn_seat_becomes_available_again(session, tree):
    scope = scope_at(tree["austin"])
    offering = create_offering(session, tree["austin"], capacity=1)
    first = enroll(session, scope, create_student(session, tree["austin"]), offering)
    withdraw_enrollment(session, scope, WithdrawEnrollmentInput(enrollment_id=first.id, end_on=TODAY, reason="moved"))
    second = enroll(
        session, scope, create_student(session, tree["austin"]), offering, start_on=TODAY + dt.timedelta(days=1)
    )
    # It starts tomorrow, so it is pending (and holds the seat) until the daily job starts it.
    assert second.offering_id == offering.id and second.status == "pending"


def test_grade_outside_the_offering_band_is_refused(session, tree):
    scope = scope_at(tree["austin"])
    offering = create_offering(session, tree["austin"], grade_min=6, grade_max=8)
    with pytest.raises(GradeNotOffered):
        enroll(session, scope, create_student(session, tree["austin"], grade=3), offering)


def test_second_active_stint_in_the_same_offering_is_refused(session, tree):
    scope = scope_at(tree["austin"])
    student = create_student(session, tree["austin"])
    offering = create_offering(session, tree["austin"])
    enroll(session, scope, student, offering)
    with pytest.raises(EnrollmentOverlap):
        enroll(session, scope, student, offering, start_on=TODAY + dt.timedelta(days=30))


def test_concurrent_stints_in_different_offerings_are_fine(session, tree):
    scope = scope_at(tree["austin"])
    student = create_student(session, tree["austin"])
    year = create_offering(session, tree["austin"])
    camp = create_offering(session, tree["austin"], start_on=dt.date(2025, 9, 1), end_on=dt.date(2025, 12, 15))
    enroll(session, scope, student, year)
    enroll(session, scope, student, camp)
    roster = query_roster(session, scope, RosterQuery(org_id=tree["austin"].id, as_of=dt.date(2025, 10, 1)))
    assert sum(1 for item in roster.items if item.student_id == student.id) == 2


def test_roster_only_school_enrolls_without_admissions(session, tree):
    scope = scope_at(tree["online"])
    student = create_student(session, tree["online"])
    offering = create_offering(session, tree["online"], tuition_cents=0)
    assert enroll(session, scope, student, offering).org_id == tree["online"].id


def test_withdrawal_ends_the_stint_and_keeps_its_history(session, tree):
    scope = scope_at(tree["austin"])
    enrollment = enroll(
        session, scope, create_student(session, tree["austin"]), create_offering(session, tree["austin"])
    )
    end = dt.date(2025, 10, 15)
    result = withdraw_enrollment(
        session, scope, WithdrawEnrollmentInput(enrollment_id=enrollment.id, end_on=end, reason="moved away")
    )
    assert (result.status, result.end_on, result.exit_reason) == (EnrollmentStatus.WITHDRAWN, end, "moved away")
    events = session.execute(
        select(EnrollmentEvent.event_type, EnrollmentEvent.from_status, EnrollmentEvent.to_status)
        .where(EnrollmentEvent.enrollment_id == enrollment.id)
        .order_by(EnrollmentEvent.id)
    ).all()
    assert events == [("created", None, "active"), ("withdrawn", "active", "withdrawn")]
    old_status = session.execute(
        select(ChangeEvent.old_value, ChangeEvent.new_value).where(
            ChangeEvent.entity_id == str(enrollment.id),
            ChangeEvent.field == "status",
            ChangeEvent.old_value.isnot(None),
        )
    ).one()
    assert tuple(old_status) == ("active", "withdrawn")


def test_withdrawing_twice_is_refused(session, tree):
    scope = scope_at(tree["austin"])
    enrollment = enroll(
        session, scope, create_student(session, tree["austin"]), create_offering(session, tree["austin"])
    )
    data = WithdrawEnrollmentInput(enrollment_id=enrollment.id, end_on=TODAY, reason="moved")
    withdraw_enrollment(session, scope, data)
    with pytest.raises(EnrollmentNotActive):
        withdraw_enrollment(session, scope, data)


def test_transfer_ends_old_stint_and_starts_a_linked_one_at_the_new_campus(session, tree):
    scope = scope_at(tree["network"], descendants=[tree["austin"], tree["miami"]])
    student = create_student(session, tree["austin"])
    old = enroll(session, scope, student, create_offering(session, tree["austin"]))
    miami_year = create_offering(session, tree["miami"])
    result = transfer_student(
        session,
        scope,
        TransferStudentInput(enrollment_id=old.id, to_offering_id=miami_year.id, effective_on=dt.date(2025, 11, 3)),
    )
    assert result.ended.status is EnrollmentStatus.TRANSFERRED
    assert result.ended.end_on == dt.date(2025, 11, 2)
    assert result.started.previous_enrollment_id == old.id
    assert result.started.org_id == tree["miami"].id
    session.refresh(student)
    assert student.org_id == tree["miami"].id
    assert session.execute(select(func.count()).where(Enrollment.student_id == student.id)).scalar_one() == 2


def test_transfer_into_a_campus_without_write_access_is_denied(session, tree):
    scope = scope_at(tree["austin"])
    old = enroll(session, scope, create_student(session, tree["austin"]), create_offering(session, tree["austin"]))
    miami_year = create_offering(session, tree["miami"])
    with pytest.raises(NotFound):
        transfer_student(
            session,
            scope,
            TransferStudentInput(enrollment_id=old.id, to_offering_id=miami_year.id, effective_on=dt.date(2025, 11, 3)),
        )


def test_reenrollment_creates_a_new_stint_and_never_reactivates_the_old_one(session, tree):
    scope = scope_at(tree["austin"])
    student = create_student(session, tree["austin"])
    offering = create_offering(session, tree["austin"])
    first = enroll(session, scope, student, offering)
    withdraw_enrollment(
        session, scope, WithdrawEnrollmentInput(enrollment_id=first.id, end_on=dt.date(2025, 10, 1), reason="travel")
    )
    again = reenroll_student(
        session,
        scope,
        ReenrollStudentInput(student_id=student.id, offering_id=offering.id, start_on=dt.date(2025, 11, 1)),
    )
    assert again.id != first.id
    assert again.previous_enrollment_id == first.id
    assert session.get(Enrollment, first.id).status is EnrollmentStatus.WITHDRAWN


def test_reenrollment_inside_the_withdrawn_period_is_refused(session, tree):
    scope = scope_at(tree["austin"])
    student = create_student(session, tree["austin"])
    offering = create_offering(session, tree["austin"])
    first = enroll(session, scope, student, offering)
    withdraw_enrollment(
        session, scope, WithdrawEnrollmentInput(enrollment_id=first.id, end_on=dt.date(2025, 10, 1), reason="travel")
    )
    with pytest.raises(EnrollmentOverlap):
        reenroll_student(
            session,
            scope,
            ReenrollStudentInput(student_id=student.id, offering_id=offering.id, start_on=dt.date(2025, 9, 15)),
        )


def test_reenrolling_a_student_who_never_left_is_refused(session, tree):
    scope = scope_at(tree["austin"])
    student = create_student(session, tree["austin"])
    with pytest.raises(InvalidInput):
        reenroll_student(
            session,
            scope,
            ReenrollStudentInput(
                student_id=student.id, offering_id=create_offering(session, tree["austin"]).id, start_on=TODAY
            ),
        )


def test_out_of_campus_student_is_reported_as_not_found(session, tree):
    austin_scope = scope_at(tree["austin"])
    miami_student = create_student(session, tree["miami"])
    with pytest.raises(NotFound):
        enroll(session, austin_scope, miami_student, create_offering(session, tree["austin"]))


def test_read_only_caller_is_denied_enrollment_on_a_visible_offering(session, tree):
    scope = scope_at(tree["austin"], actions=[Action.READ])
    with pytest.raises(PermissionDenied):
        enroll(session, scope, create_student(session, tree["austin"]), create_offering(session, tree["austin"]))


def test_registrar_sees_only_own_campus_in_roster(session, tree):
    network_scope = scope_at(tree["network"], descendants=[tree["austin"], tree["miami"]])
    a = create_student(session, tree["austin"])
    m = create_student(session, tree["miami"])
    enroll(session, network_scope, a, create_offering(session, tree["austin"]))
    enroll(session, network_scope, m, create_offering(session, tree["miami"]))
    austin_roster = query_roster(session, scope_at(tree["austin"]), RosterQuery(as_of=dt.date(2025, 10, 1)))
    assert {i.student_id for i in austin_roster.items} == {a.id}
    with pytest.raises(NotFound):
        query_roster(
            session, scope_at(tree["austin"]), RosterQuery(org_id=tree["miami"].id, as_of=dt.date(2025, 10, 1))
        )


def test_guide_sees_only_assigned_students_in_roster(session, tree):
    from tests.factories import assign_guide

    scope = scope_at(tree["austin"])
    guide = create_user(session)
    offering = create_offering(session, tree["austin"])
    mine, other = create_student(session, tree["austin"]), create_student(session, tree["austin"])
    enroll(session, scope, mine, offering)
    enroll(session, scope, other, offering)
    assign_guide(session, guide, mine, start_on=TODAY)
    guide_scope = scope_at(tree["austin"], guide_user_id=guide.id, classes=[DataClass.DIRECTORY])
    roster = query_roster(session, guide_scope, RosterQuery(as_of=dt.date(2025, 10, 1)))
    assert [i.student_id for i in roster.items] == [mine.id]


def test_roster_as_of_a_date_filters_by_grade_status_and_paginates(session, tree):
    scope = scope_at(tree["austin"])
    offering = create_offering(session, tree["austin"], capacity=None)
    fifth = [create_student(session, tree["austin"], grade=5) for _ in range(5)]
    sixth = create_student(session, tree["austin"], grade=6)
    for s in [*fifth, sixth]:
        enroll(session, scope, s, offering)
    leaver = enroll(session, scope, create_student(session, tree["austin"], grade=5), offering)
    withdraw_enrollment(
        session, scope, WithdrawEnrollmentInput(enrollment_id=leaver.id, end_on=dt.date(2025, 9, 30), reason="x1")
    )
    page1 = query_roster(session, scope, RosterQuery(grade=5, as_of=dt.date(2025, 10, 15), limit=3))
    page2 = query_roster(session, scope, RosterQuery(grade=5, as_of=dt.date(2025, 10, 15), limit=3, offset=3))
    assert page1.total == page2.total == 5
    assert page1.next_offset == 3 and page2.next_offset is None
    assert {i.student_id for i in page1.items + page2.items} == {s.id for s in fifth}
    before = query_roster(session, scope, RosterQuery(grade=5, as_of=dt.date(2025, 9, 15)))
    assert before.total == 6  # the leaver was still enrolled then
    withdrawn = query_roster(
        session, scope, RosterQuery(status=EnrollmentStatus.WITHDRAWN, as_of=dt.date(2025, 10, 15))
    )
    assert [i.enrollment_id for i in withdrawn.items] == [leaver.id]


def test_enrollment_trend_counts_distinct_students_enrolled_on_any_day_of_each_month(session, tree):
    # Was "at each month end": a student who left on Sep 10 is now one of September's students,
    # so that a year ending May 29 does not read as zero students in May.
    scope = scope_at(tree["austin"])
    year = create_offering(session, tree["austin"], capacity=None)
    camp = create_offering(session, tree["austin"], start_on=dt.date(2025, 9, 1), end_on=dt.date(2025, 12, 15))
    students = [create_student(session, tree["austin"]) for _ in range(3)]
    for s in students:
        enroll(session, scope, s, year, start_on=dt.date(2025, 8, 18))
    enroll(session, scope, students[0], camp, start_on=dt.date(2025, 9, 1))  # concurrent stint: same student
    late = create_student(session, tree["austin"])
    enroll(session, scope, late, year, start_on=dt.date(2025, 10, 10))
    gone = enroll(session, scope, create_student(session, tree["austin"]), year, start_on=dt.date(2025, 8, 18))
    withdraw_enrollment(
        session, scope, WithdrawEnrollmentInput(enrollment_id=gone.id, end_on=dt.date(2025, 9, 10), reason="x1")
    )
    advance_enrollments(session, system_scope(), as_of=dt.date(2025, 11, 20))  # the late starter began Oct 10
    trend = enrollment_trend(
        session,
        scope,
        EnrollmentTrendQuery(start_month=dt.date(2025, 7, 1), end_month=dt.date(2025, 11, 1)),
        today=dt.date(2025, 11, 20),
    )
    assert [(p.month, p.active_students) for p in trend.points] == [
        ("2025-07", 0),
        ("2025-08", 4),
        ("2025-09", 4),
        ("2025-10", 4),
        ("2025-11", 4),
    ]
    assert trend.points[-1].measured_on == dt.date(2025, 11, 20)


def test_offerings_report_seats_taken_and_left(session, tree):
    scope = scope_at(tree["austin"])
    offering = create_offering(session, tree["austin"], capacity=10)
    for _ in range(3):
        enroll(session, scope, create_student(session, tree["austin"]), offering)
    page = list_offerings(session, scope, OfferingQuery(as_of=dt.date(2025, 10, 1)))
    row = next(i for i in page.items if i.id == offering.id)
    assert (row.seats_taken, row.seats_left) == (3, 7)
    assert all(i.org_id == tree["austin"].id for i in page.items)


ops = st.lists(
    st.tuples(st.sampled_from(["enroll", "withdraw", "reenroll"]), st.integers(min_value=0, max_value=250)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_stints_never_overlap_within_an_offering(session, tree, ops):
    scope = scope_at(tree["austin"])
    nested = session.begin_nested()
    try:
        student = create_student(session, tree["austin"])
        offering = create_offering(session, tree["austin"], capacity=None)
        start = offering.start_on
        for op, day in ops:
            on = start + dt.timedelta(days=day)
            try:
                if op == "enroll":
                    enroll(session, scope, student, offering, start_on=on)
                elif op == "reenroll":
                    reenroll_student(
                        session,
                        scope,
                        ReenrollStudentInput(student_id=student.id, offering_id=offering.id, start_on=on),
                    )
                else:
                    current = session.execute(
                        select(Enrollment.id).where(
                            Enrollment.student_id == student.id, Enrollment.status == EnrollmentStatus.ACTIVE
                        )
                    ).scalar_one_or_none()
                    if current:
                        withdraw_enrollment(
                            session, scope, WithdrawEnrollmentInput(enrollment_id=current, end_on=on, reason="prop")
                        )
            except (EnrollmentOverlap, EnrollmentNotActive, InvalidInput, OfferingClosed):
                continue  # a refused step changes nothing; the invariant below is what is checked
        stints = [
            rules.Stint(s, e)
            for s, e in session.execute(
                select(Enrollment.start_on, Enrollment.end_on).where(Enrollment.student_id == student.id)
            ).all()
        ]
        for i, a in enumerate(stints):
            for b in stints[i + 1 :]:
                assert not rules.overlaps(a, b), (a, b)
        assert sum(1 for s in stints if s.end_on is None) <= 1
    finally:
        nested.rollback()
