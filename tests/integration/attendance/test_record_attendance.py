"""record_attendance: one student's status on one school day, as an audited upsert."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from db.models import AttendanceRecord, AttendanceStatus, ChangeEvent, EnrollmentStatus
from domain.attendance.schemas import AttendanceSummaryQuery, RecordAttendanceInput
from domain.attendance.service import attendance_summary, record_attendance
from domain.errors import EnrollmentNotActive, NotASchoolDay, NotFound, PermissionDenied
from policies.scope import Action, Actor, scope_for_orgs
from tests.factories import assign_guide, create_enrollment, create_student, create_user, scope_at
from tests.integration.attendance.conftest import PERIOD_END, PERIOD_START, SCHOOL_DAYS

DAY = SCHOOL_DAYS[3]
UNEXCUSED = AttendanceStatus.UNEXCUSED_ABSENCE
EXCUSED = AttendanceStatus.EXCUSED_ABSENCE
PRESENT = AttendanceStatus.PRESENT


@pytest.fixture()
def student(session, net):
    s = create_student(session, net.austin)
    create_enrollment(session, s, net.austin_year)
    return s


def record(session, scope, student, status, day=DAY, **kw):
    return record_attendance(
        session, scope, RecordAttendanceInput(student_id=student.id, day_on=day, status=status, **kw)
    )


def stored(session, student, day=DAY):
    return session.execute(
        select(AttendanceRecord).where(AttendanceRecord.student_id == student.id, AttendanceRecord.day_on == day)
    ).scalar_one_or_none()


def changes(session, scope):
    rows = session.execute(
        select(ChangeEvent.field, ChangeEvent.old_value, ChangeEvent.new_value, ChangeEvent.reason).where(
            ChangeEvent.operation_id == scope.actor.operation_id, ChangeEvent.entity_type == "attendance_record"
        )
    ).all()
    return {field: (old, new, reason) for field, old, new, reason in rows}


def test_recording_an_absence_stores_a_row_with_change_events(session, net, student):
    scope = scope_at(net.austin)

    result = record(session, scope, student, UNEXCUSED, note="no call", reason="front desk log")

    row = stored(session, student)
    assert (row.status, row.note, row.org_id) == (UNEXCUSED, "no call", net.austin.id)
    assert result.record_id == row.id
    assert result.changed is True
    assert changes(session, scope)["status"] == (None, "unexcused_absence", "front desk log")


def test_recording_again_updates_the_same_row_and_logs_old_and_new_status(session, net, student):
    record(session, scope_at(net.austin), student, UNEXCUSED)
    first_id = stored(session, student).id
    scope = scope_at(net.austin)

    record(session, scope, student, EXCUSED, note="doctor's note")

    row = stored(session, student)
    assert (row.id, row.status, row.note) == (first_id, EXCUSED, "doctor's note")
    assert changes(session, scope)["status"][:2] == ("unexcused_absence", "excused_absence")


def test_recording_the_same_status_twice_changes_nothing(session, net, student):
    record(session, scope_at(net.austin), student, UNEXCUSED)
    scope = scope_at(net.austin)

    result = record(session, scope, student, UNEXCUSED)

    assert result.changed is False
    assert changes(session, scope) == {}


def test_recording_present_deletes_the_absence_and_logs_the_change(session, net, student):
    record(session, scope_at(net.austin), student, UNEXCUSED)
    scope = scope_at(net.austin)

    result = record(session, scope, student, PRESENT, reason="arrived late, signed in")

    assert stored(session, student) is None
    assert (result.status, result.record_id, result.changed) == (PRESENT, None, True)
    assert changes(session, scope)["status"] == ("unexcused_absence", "present", "arrived late, signed in")


def test_recording_present_on_a_day_without_a_record_writes_nothing(session, net, student):
    scope = scope_at(net.austin)

    result = record(session, scope, student, PRESENT)

    assert stored(session, student) is None
    assert result.changed is False
    assert changes(session, scope) == {}


def test_recorded_absence_shows_in_the_summary(session, net, student):
    scope = scope_at(net.austin)
    record(session, scope, student, UNEXCUSED)
    record(session, scope, student, AttendanceStatus.TARDY, day=SCHOOL_DAYS[4])

    [row] = attendance_summary(session, scope, AttendanceSummaryQuery(start_on=PERIOD_START, end_on=PERIOD_END)).items

    assert (row.membership_days, row.absent_days, row.tardy_days) == (10, 1, 1)


def test_day_that_is_not_a_school_day_is_rejected(session, net, student):
    saturday = dt.date(2025, 9, 6)

    with pytest.raises(NotASchoolDay):
        record(session, scope_at(net.austin), student, UNEXCUSED, day=saturday)
    assert stored(session, student, saturday) is None


def test_student_not_enrolled_that_day_is_rejected(session, net):
    late = create_student(session, net.austin)
    create_enrollment(session, late, net.austin_year, start_on=SCHOOL_DAYS[5])

    with pytest.raises(EnrollmentNotActive):
        record(session, scope_at(net.austin), late, UNEXCUSED, day=SCHOOL_DAYS[4])


def test_withdrawn_student_cannot_be_marked_after_exit(session, net):
    gone = create_student(session, net.austin)
    create_enrollment(session, gone, net.austin_year, end_on=SCHOOL_DAYS[2], status=EnrollmentStatus.WITHDRAWN)

    record(session, scope_at(net.austin), gone, UNEXCUSED, day=SCHOOL_DAYS[2])
    with pytest.raises(EnrollmentNotActive):
        record(session, scope_at(net.austin), gone, UNEXCUSED, day=SCHOOL_DAYS[3])


def test_pending_enrollment_does_not_allow_attendance(session, net):
    pending = create_student(session, net.austin)
    create_enrollment(session, pending, net.austin_year, status=EnrollmentStatus.PENDING)

    with pytest.raises(EnrollmentNotActive):
        record(session, scope_at(net.austin), pending, UNEXCUSED)


def test_record_is_filed_under_the_campus_of_the_enrollment(session, net):
    visiting = create_student(session, net.austin)  # home campus Austin, enrolled at Miami
    create_enrollment(session, visiting, net.miami_year)

    result = record(session, scope_at(net.austin, net.miami), visiting, UNEXCUSED)

    assert result.org_id == net.miami.id
    assert stored(session, visiting).org_id == net.miami.id


# -- scope --------------------------------------------------------------------------------------


def test_read_only_caller_gets_permission_denied(session, net, student):
    with pytest.raises(PermissionDenied):
        record(session, scope_at(net.austin, actions=(Action.READ,)), student, UNEXCUSED)
    assert stored(session, student) is None


def test_out_of_scope_student_is_not_found_when_recording(session, net):
    in_miami = create_student(session, net.miami)
    create_enrollment(session, in_miami, net.miami_year)

    with pytest.raises(NotFound):
        record(session, scope_at(net.austin), in_miami, UNEXCUSED)


def test_guide_records_attendance_only_for_assigned_students(session, net, student):
    guide = create_user(session)
    unassigned = create_student(session, net.austin)
    create_enrollment(session, unassigned, net.austin_year)
    assign_guide(session, guide, student, start_on=PERIOD_START)
    guide_scope = scope_for_orgs(Actor(user_id=guide.id, label="guide"), [net.austin.id], guide_user_id=guide.id)

    record(session, guide_scope, student, UNEXCUSED)
    with pytest.raises(NotFound):
        record(session, guide_scope, unassigned, UNEXCUSED)
    assert stored(session, student).recorded_by_user_id == guide.id
