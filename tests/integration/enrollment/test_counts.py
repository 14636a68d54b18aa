"""Counts that mean students: distinct students, not enrollment rows; a month counts anyone enrolled in it."""

from __future__ import annotations

import datetime as dt

import pytest

from db.models import OrgLevel, ProgramKind
from domain.enrollment.schemas import EnrollmentTrendQuery, RosterQuery
from domain.enrollment.service import enrollment_trend, query_roster
from tests.factories import create_enrollment, create_offering, create_org, create_student, scope_at


@pytest.fixture()
def campus(session):
    return create_org(session, parent=create_org(session, level=OrgLevel.NETWORK), slug="austin")


def test_a_student_in_the_year_and_a_camp_is_one_student_and_two_enrollments(session, campus):
    year = create_offering(session, campus)
    camp = create_offering(
        session, campus, kind=ProgramKind.CAMP, start_on=dt.date(2025, 9, 1), end_on=dt.date(2025, 12, 15)
    )
    both, only = create_student(session, campus), create_student(session, campus)
    for student in (both, only):
        create_enrollment(session, student, year)
    create_enrollment(session, both, camp)
    scope = scope_at(campus)
    page = query_roster(session, scope, RosterQuery(as_of=dt.date(2025, 10, 1)))
    assert (page.total, page.total_enrollments, page.total_students) == (3, 3, 2)
    # Past the first page the distinct count is counted, not read off the rows.
    second = query_roster(session, scope, RosterQuery(as_of=dt.date(2025, 10, 1), limit=1, offset=1))
    assert (len(second.items), second.total_enrollments, second.total_students) == (1, 3, 2)


def test_a_year_ending_may_29_still_has_its_students_in_may(session, campus):
    year = create_offering(session, campus, start_on=dt.date(2025, 8, 18), end_on=dt.date(2026, 5, 29))
    for _ in range(3):
        create_enrollment(session, create_student(session, campus), year, end_on=dt.date(2026, 5, 29))
    trend = enrollment_trend(
        session,
        scope_at(campus),
        EnrollmentTrendQuery(start_month=dt.date(2026, 4, 1), end_month=dt.date(2026, 6, 1)),
        today=dt.date(2026, 7, 1),
    )
    assert [(p.month, p.period_start, p.measured_on, p.active_students) for p in trend.points] == [
        ("2026-04", dt.date(2026, 4, 1), dt.date(2026, 4, 30), 3),
        ("2026-05", dt.date(2026, 5, 1), dt.date(2026, 5, 31), 3),
        ("2026-06", dt.date(2026, 6, 1), dt.date(2026, 6, 30), 0),
    ]
