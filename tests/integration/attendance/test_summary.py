"""attendance_summary: membership days against the calendar, counts by status, totals and scope."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import event

from db.models import AttendanceStatus, EnrollmentStatus
from domain.attendance.schemas import AttendanceSummaryQuery
from domain.attendance.service import attendance_summary
from domain.errors import NotFound
from policies.scope import DataClass
from tests.factories import assign_guide, create_enrollment, create_offering, create_student, create_user, scope_at
from tests.integration.attendance.conftest import (
    PERIOD_END,
    PERIOD_START,
    SCHOOL_DAYS,
    add_school_days,
    mark,
    weekdays,
)

UNEXCUSED = AttendanceStatus.UNEXCUSED_ABSENCE
EXCUSED = AttendanceStatus.EXCUSED_ABSENCE
TARDY = AttendanceStatus.TARDY


def query(**kw):
    kw.setdefault("start_on", PERIOD_START)
    kw.setdefault("end_on", PERIOD_END)
    return AttendanceSummaryQuery(**kw)


def by_student(page):
    return {item.student_id: item for item in page.items}


def test_missing_row_on_a_school_day_counts_as_present(session, net):
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year)

    page = attendance_summary(session, scope_at(net.austin), query())

    [row] = page.items
    assert (row.membership_days, row.present_days, row.absent_days, row.tardy_days) == (10, 10, 0, 0)
    assert row.attendance_rate == 1.0


def test_each_non_present_status_is_counted_and_tardy_counts_as_present(session, net):
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year)
    for day, status in zip(SCHOOL_DAYS, [UNEXCUSED, UNEXCUSED, EXCUSED, TARDY], strict=False):
        mark(session, student, day, status)

    [row] = attendance_summary(session, scope_at(net.austin), query()).items

    assert row.unexcused_absence_days == 2
    assert row.excused_absence_days == 1
    assert row.tardy_days == 1
    assert row.absent_days == 3
    assert row.present_days == 7
    assert row.attendance_rate == pytest.approx(0.7)


def test_student_enrolled_mid_period_is_measured_only_from_entry(session, net):
    student = create_student(session, net.austin)
    entry = SCHOOL_DAYS[5]
    create_enrollment(session, student, net.austin_year, start_on=entry)
    mark(session, student, SCHOOL_DAYS[0], UNEXCUSED)  # before entry: not a membership day

    [row] = attendance_summary(session, scope_at(net.austin), query()).items

    assert row.membership_days == 5
    assert row.absent_days == 0


def test_withdrawn_student_is_measured_only_until_exit(session, net):
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year, end_on=SCHOOL_DAYS[2], status=EnrollmentStatus.WITHDRAWN)
    mark(session, student, SCHOOL_DAYS[2], UNEXCUSED)
    mark(session, student, SCHOOL_DAYS[3], UNEXCUSED)  # after exit: ignored

    [row] = attendance_summary(session, scope_at(net.austin), query()).items

    assert (row.membership_days, row.absent_days) == (3, 1)


def test_pending_enrollment_grants_no_membership_days(session, net):
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year, status=EnrollmentStatus.PENDING)

    page = attendance_summary(session, scope_at(net.austin), query())

    assert page.items == []
    assert page.total == 0
    assert page.totals.attendance_rate is None


def test_concurrent_enrollments_count_each_school_day_once(session, net):
    student = create_student(session, net.austin)
    camp = create_offering(session, net.austin, session_label="Fall camp")
    create_enrollment(session, student, net.austin_year)
    create_enrollment(session, student, camp, start_on=SCHOOL_DAYS[0], end_on=SCHOOL_DAYS[4])
    mark(session, student, SCHOOL_DAYS[1], UNEXCUSED)

    [row] = attendance_summary(session, scope_at(net.austin), query()).items

    assert (row.membership_days, row.absent_days) == (10, 1)


def test_concurrent_enrollments_at_two_campuses_count_each_school_day_once(session, net):
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year)
    create_enrollment(session, student, net.miami_year, start_on=SCHOOL_DAYS[5])
    mark(session, student, SCHOOL_DAYS[6], EXCUSED)

    [row] = attendance_summary(session, scope_at(net.austin, net.miami), query()).items

    assert (row.membership_days, row.absent_days) == (10, 1)


def test_a_return_after_withdrawal_counts_both_stints(session, net):
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year, end_on=SCHOOL_DAYS[2], status=EnrollmentStatus.WITHDRAWN)
    create_enrollment(session, student, net.austin_year, start_on=SCHOOL_DAYS[6])
    for day in SCHOOL_DAYS[2:8]:
        mark(session, student, day, UNEXCUSED)  # days 3..5 fall between the stints

    [row] = attendance_summary(session, scope_at(net.austin), query()).items

    assert (row.membership_days, row.absent_days) == (7, 3)


def test_only_school_days_of_the_enrolled_campus_count(session, net):
    saturday = dt.date(2025, 9, 6)
    add_school_days(session, net.miami, [saturday])  # a Miami make-up day, not an Austin one
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year)
    mark(session, student, saturday, UNEXCUSED)  # recorded on a non-school day: ignored

    [row] = attendance_summary(session, scope_at(net.austin), query()).items

    assert (row.membership_days, row.absent_days) == (10, 0)


def test_days_outside_the_period_are_not_counted(session, net):
    add_school_days(session, net.austin, [dt.date(2025, 9, 15)])
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year)
    mark(session, student, dt.date(2025, 9, 15), UNEXCUSED)

    [row] = attendance_summary(
        session, scope_at(net.austin), query(start_on=SCHOOL_DAYS[1], end_on=SCHOOL_DAYS[8])
    ).items

    assert (row.membership_days, row.absent_days) == (8, 0)


def test_summary_matches_an_independent_hand_computation(session, net):
    rng = random.Random(20250901)
    start, end = dt.date(2025, 8, 25), dt.date(2025, 9, 26)
    calendar = {
        net.austin.id: set(weekdays(start, end)) - {dt.date(2025, 9, 22)},  # an Austin holiday
        net.miami.id: set(weekdays(start, end)) | {dt.date(2025, 9, 13)},
    }
    add_school_days(session, net.austin, sorted(calendar[net.austin.id] - set(SCHOOL_DAYS)))
    add_school_days(session, net.miami, sorted(calendar[net.miami.id] - set(SCHOOL_DAYS)))
    all_days = [start + dt.timedelta(n) for n in range((end - start).days + 1)]
    statuses = [TARDY, EXCUSED, UNEXCUSED]
    stints = {}  # student id -> [(org id, start, end or None, status)]
    records = {}  # (student id, day) -> status
    offerings = {net.austin.id: net.austin_year, net.miami.id: net.miami_year}

    def random_stint():
        entry = rng.choice(all_days[:20])
        exit_ = rng.choice([None, rng.choice(all_days[10:])])
        if exit_ is not None and exit_ < entry:
            entry, exit_ = exit_, entry
        status = rng.choice([EnrollmentStatus.ACTIVE, EnrollmentStatus.WITHDRAWN, EnrollmentStatus.PENDING])
        return rng.choice([net.austin.id, net.miami.id]), entry, exit_, status

    for n in range(40):
        student = create_student(session, net.austin if n % 2 else net.miami, grade=3 + n % 3)
        # One stint for most; two (overlapping or not, same campus or not) for every third student.
        stints[student.id] = [random_stint() for _ in range(2 if n % 3 == 0 else 1)]
        for org_id, entry, exit_, status in stints[student.id]:
            create_enrollment(session, student, offerings[org_id], start_on=entry, end_on=exit_, status=status)
        for day in rng.sample(all_days, rng.randint(0, 12)):
            records[(student.id, day)] = rng.choice(statuses)
            mark(session, student, day, records[(student.id, day)])

    # By hand: walk every calendar day of the period for every student.
    expected = {}
    for student_id, student_stints in stints.items():
        days = {
            day
            for org_id, entry, exit_, status in student_stints
            for day in calendar[org_id]
            if status is not EnrollmentStatus.PENDING
            and entry <= day
            and (exit_ is None or day <= exit_)
            and start <= day <= end
        }
        if not days:
            continue
        counts = {s: sum(1 for d in days if records.get((student_id, d)) is s) for s in statuses}
        expected[student_id] = (len(days), counts[TARDY], counts[EXCUSED], counts[UNEXCUSED])

    page = attendance_summary(
        session,
        scope_at(net.network, descendants=[net.austin, net.miami]),
        query(start_on=start, end_on=end, limit=500),
    )

    got = {
        i.student_id: (i.membership_days, i.tardy_days, i.excused_absence_days, i.unexcused_absence_days)
        for i in page.items
    }
    # The data covers students with no membership days and students whose stints overlap.
    assert 0 < len(expected) < len(stints)
    assert any(
        a[1] <= (b[2] or end) and b[1] <= (a[2] or end) for pair in stints.values() if len(pair) == 2 for a, b in [pair]
    )
    assert got == expected
    assert page.total == len(expected)
    membership = sum(v[0] for v in expected.values())
    absent = sum(v[2] + v[3] for v in expected.values())
    assert page.totals.membership_days == membership
    assert page.totals.absent_days == absent
    assert page.totals.tardy_days == sum(v[1] for v in expected.values())
    assert page.totals.attendance_rate == pytest.approx((membership - absent) / membership)


def test_org_totals_cover_every_student_not_just_the_page(session, net):
    first, second = create_student(session, net.austin), create_student(session, net.austin)
    for s in (first, second):
        create_enrollment(session, s, net.austin_year)
    mark(session, first, SCHOOL_DAYS[0], UNEXCUSED)
    mark(session, second, SCHOOL_DAYS[0], EXCUSED)
    mark(session, second, SCHOOL_DAYS[1], TARDY)

    page = attendance_summary(session, scope_at(net.austin), query(limit=1))

    assert len(page.items) == 1
    assert page.total == 2
    assert page.next_offset == 1
    t = page.totals
    assert (t.students, t.membership_days, t.absent_days, t.present_days, t.tardy_days) == (2, 20, 2, 18, 1)
    assert (t.excused_absence_days, t.unexcused_absence_days) == (1, 1)
    assert t.attendance_rate == pytest.approx(0.9)


def test_summary_pages_are_ordered_by_name(session, net):
    names = ["Zamora", "Abbott", "Moreno"]
    for last in names:
        create_enrollment(session, create_student(session, net.austin, last_name=last), net.austin_year)

    first = attendance_summary(session, scope_at(net.austin), query(limit=2))
    rest = attendance_summary(session, scope_at(net.austin), query(limit=2, offset=first.next_offset))

    assert [i.last_name for i in first.items + rest.items] == sorted(names)
    assert rest.next_offset is None


def test_grade_filter_counts_days_enrolled_in_that_grade(session, net):
    fifth = create_student(session, net.austin, grade=5)
    sixth = create_student(session, net.austin, grade=6)
    create_enrollment(session, fifth, net.austin_year)
    create_enrollment(session, sixth, net.austin_year)

    page = attendance_summary(session, scope_at(net.austin), query(grade=5))

    assert [i.student_id for i in page.items] == [fifth.id]


def test_student_filter_limits_the_summary_to_one_student(session, net):
    wanted, other = create_student(session, net.austin), create_student(session, net.austin)
    create_enrollment(session, wanted, net.austin_year)
    create_enrollment(session, other, net.austin_year)

    page = attendance_summary(session, scope_at(net.austin), query(student_id=wanted.id))

    assert [i.student_id for i in page.items] == [wanted.id]
    assert page.totals.students == 1


def test_org_filter_includes_the_whole_subtree(session, net):
    in_austin, in_miami = create_student(session, net.austin), create_student(session, net.miami)
    create_enrollment(session, in_austin, net.austin_year)
    create_enrollment(session, in_miami, net.miami_year)
    director = scope_at(net.network, descendants=[net.austin, net.miami])

    whole = attendance_summary(session, director, query(org_id=net.network.id))
    campus = attendance_summary(session, director, query(org_id=net.miami.id))

    assert set(by_student(whole)) == {in_austin.id, in_miami.id}
    assert set(by_student(campus)) == {in_miami.id}


def test_summary_runs_a_fixed_number_of_statements_however_many_students(session, net):
    statements = []
    event.listen(session.connection(), "before_cursor_execute", lambda *args: statements.append(args[2]))

    def count_for(new_students):
        for _ in range(new_students):
            student = create_student(session, net.austin)
            create_enrollment(session, student, net.austin_year)
            mark(session, student, SCHOOL_DAYS[0], UNEXCUSED)
        statements.clear()
        attendance_summary(session, scope_at(net.austin), query(org_id=net.austin.id))
        return len(statements)

    few, many = count_for(2), count_for(20)

    assert few == many <= 3


# -- scope --------------------------------------------------------------------------------------


def test_registrar_sees_only_own_campus_attendance(session, net):
    in_austin, in_miami = create_student(session, net.austin), create_student(session, net.miami)
    create_enrollment(session, in_austin, net.austin_year)
    create_enrollment(session, in_miami, net.miami_year)

    page = attendance_summary(session, scope_at(net.austin), query())

    assert set(by_student(page)) == {in_austin.id}
    assert page.totals.membership_days == 10


def test_parent_org_query_is_limited_to_the_visible_campus(session, net):
    in_austin, in_miami = create_student(session, net.austin), create_student(session, net.miami)
    create_enrollment(session, in_austin, net.austin_year)
    create_enrollment(session, in_miami, net.miami_year)

    page = attendance_summary(session, scope_at(net.austin), query(org_id=net.network.id))

    assert set(by_student(page)) == {in_austin.id}


def test_out_of_scope_org_is_not_found(session, net):
    with pytest.raises(NotFound):
        attendance_summary(session, scope_at(net.austin), query(org_id=net.miami.id))


def test_out_of_scope_student_is_not_found(session, net):
    in_miami = create_student(session, net.miami)
    create_enrollment(session, in_miami, net.miami_year)

    with pytest.raises(NotFound):
        attendance_summary(session, scope_at(net.austin), query(student_id=in_miami.id))


def test_caller_without_attendance_access_sees_no_attendance(session, net):
    student = create_student(session, net.austin)
    create_enrollment(session, student, net.austin_year)
    directory_only = scope_at(net.austin, classes=(DataClass.DIRECTORY,))

    assert attendance_summary(session, directory_only, query()).total == 0
    with pytest.raises(NotFound):
        attendance_summary(session, directory_only, query(org_id=net.austin.id))


def test_guide_sees_only_assigned_students_attendance(session, net):
    guide = create_user(session)
    mine, theirs = create_student(session, net.austin), create_student(session, net.austin)
    for s in (mine, theirs):
        create_enrollment(session, s, net.austin_year)
    assign_guide(session, guide, mine, start_on=PERIOD_START)
    guide_scope = scope_at(net.austin, guide_user_id=guide.id)

    page = attendance_summary(session, guide_scope, query())

    assert set(by_student(page)) == {mine.id}
    with pytest.raises(NotFound):
        attendance_summary(session, guide_scope, query(student_id=theirs.id))
