"""find_chronic_absence: missing 10% or more of membership days, over enough days to judge."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from db.models import AttendanceStatus
from domain.attendance.rules import is_chronically_absent
from domain.attendance.schemas import ChronicAbsenceQuery
from domain.attendance.service import find_chronic_absence
from domain.errors import NotFound
from tests.factories import assign_guide, create_enrollment, create_student, create_user, scope_at
from tests.integration.attendance.conftest import PERIOD_END, PERIOD_START, SCHOOL_DAYS, add_school_days, mark, weekdays

UNEXCUSED = AttendanceStatus.UNEXCUSED_ABSENCE
EXCUSED = AttendanceStatus.EXCUSED_ABSENCE


def query(**kw):
    kw.setdefault("start_on", PERIOD_START)
    kw.setdefault("end_on", PERIOD_END)
    return ChronicAbsenceQuery(**kw)


def enrolled_with_absences(session, net, absences, *, campus=None, start_on=None, status=UNEXCUSED):
    campus = campus or net.austin
    offering = net.austin_year if campus is net.austin else net.miami_year
    student = create_student(session, campus)
    create_enrollment(session, student, offering, start_on=start_on)
    days = [d for d in SCHOOL_DAYS if start_on is None or d >= start_on]
    for day in days[:absences]:
        mark(session, student, day, status)
    return student


def test_missing_exactly_10_percent_of_days_is_chronic_absence(session, net):
    student = enrolled_with_absences(session, net, 1)  # 1 of 10 days

    page = find_chronic_absence(session, scope_at(net.austin), query())

    assert [i.student_id for i in page.items] == [student.id]
    assert page.items[0].attendance_rate == pytest.approx(0.9)


def test_missing_less_than_10_percent_is_not_chronic_absence(session, net):
    add_school_days(session, net.austin, weekdays(dt.date(2025, 9, 15), dt.date(2025, 9, 19)))
    enrolled_with_absences(session, net, 1)  # 1 of 15 days

    page = find_chronic_absence(session, scope_at(net.austin), query(end_on=dt.date(2025, 9, 19)))

    assert page.items == []
    assert page.total == 0


def test_excused_absences_count_and_tardies_do_not(session, net):
    excused = enrolled_with_absences(session, net, 2, status=EXCUSED)
    enrolled_with_absences(session, net, 5, status=AttendanceStatus.TARDY)

    page = find_chronic_absence(session, scope_at(net.austin), query())

    assert [i.student_id for i in page.items] == [excused.id]


def test_student_with_too_few_membership_days_is_not_flagged(session, net):
    newcomer = enrolled_with_absences(session, net, 3, start_on=SCHOOL_DAYS[5])  # 3 of 5 days

    assert find_chronic_absence(session, scope_at(net.austin), query()).items == []
    flagged = find_chronic_absence(session, scope_at(net.austin), query(min_membership_days=5))
    assert [i.student_id for i in flagged.items] == [newcomer.id]


def test_chronic_absence_is_sorted_by_rate_ascending_and_paginated(session, net):
    students = {n: enrolled_with_absences(session, net, n) for n in (1, 4, 2, 0, 3)}

    first = find_chronic_absence(session, scope_at(net.austin), query(limit=2))
    rest = find_chronic_absence(session, scope_at(net.austin), query(limit=2, offset=2))

    assert first.total == 4
    assert first.next_offset == 2
    assert [i.student_id for i in first.items + rest.items] == [students[n].id for n in (4, 3, 2, 1)]
    assert [i.attendance_rate for i in first.items + rest.items] == pytest.approx([0.6, 0.7, 0.8, 0.9])


def test_threshold_can_be_lowered(session, net):
    enrolled_with_absences(session, net, 1)
    severe = enrolled_with_absences(session, net, 3)

    page = find_chronic_absence(session, scope_at(net.austin), query(threshold=Decimal("0.80")))

    assert [i.student_id for i in page.items] == [severe.id]


def test_sql_filter_agrees_with_the_pure_rule_at_every_absence_count(session, net):
    students = {n: enrolled_with_absences(session, net, n) for n in range(11)}

    for threshold in (Decimal("0.90"), Decimal("0.85"), Decimal("0.7"), Decimal("1")):
        page = find_chronic_absence(session, scope_at(net.austin), query(threshold=threshold, limit=500))
        expected = {s.id for n, s in students.items() if is_chronically_absent(10, n, threshold=threshold)}
        assert {i.student_id for i in page.items} == expected, threshold


# -- scope --------------------------------------------------------------------------------------


def test_chronic_absence_lists_only_students_in_scope(session, net):
    in_austin = enrolled_with_absences(session, net, 5)
    enrolled_with_absences(session, net, 5, campus=net.miami)

    page = find_chronic_absence(session, scope_at(net.austin), query())

    assert [i.student_id for i in page.items] == [in_austin.id]


def test_chronic_absence_for_an_out_of_scope_org_is_not_found(session, net):
    with pytest.raises(NotFound):
        find_chronic_absence(session, scope_at(net.austin), query(org_id=net.miami.id))


def test_guide_sees_only_assigned_chronically_absent_students(session, net):
    guide = create_user(session)
    mine = enrolled_with_absences(session, net, 5)
    enrolled_with_absences(session, net, 5)
    assign_guide(session, guide, mine, start_on=PERIOD_START)

    page = find_chronic_absence(session, scope_at(net.austin, guide_user_id=guide.id), query())

    assert [i.student_id for i in page.items] == [mine.id]
