"""School dates: the school year turns on August 1, month steps clamp, month ends know leap years."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import add_months, month_end, school_year, school_year_start


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (dt.date(2026, 11, 20), dt.date(2026, 8, 1)),
        (dt.date(2026, 8, 1), dt.date(2026, 8, 1)),
        (dt.date(2026, 7, 31), dt.date(2025, 8, 1)),
        (dt.date(2027, 1, 1), dt.date(2026, 8, 1)),
    ],
)
def test_the_school_year_starts_on_the_latest_august_first(today, start):
    assert school_year_start(today) == start


def test_a_school_year_runs_from_august_first_to_july_thirty_first():
    assert school_year(2025) == (dt.date(2025, 8, 1), dt.date(2026, 7, 31))


@pytest.mark.parametrize(
    ("day", "months", "moved"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)),
        (dt.date(2026, 11, 20), -12, dt.date(2025, 11, 20)),
        (dt.date(2026, 12, 15), 1, dt.date(2027, 1, 15)),
        (dt.date(2026, 1, 15), -1, dt.date(2025, 12, 15)),
    ],
)
def test_adding_months_keeps_the_day_or_clamps_it_to_the_month_end(day, months, moved):
    assert add_months(day, months) == moved


def test_month_end_handles_leap_february():
    assert month_end(dt.date(2028, 2, 10)) == dt.date(2028, 2, 29)
    assert month_end(dt.date(2027, 2, 1)) == dt.date(2027, 2, 28)
    assert month_end(dt.date(2026, 12, 31)) == dt.date(2026, 12, 31)


@given(day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)))
def test_the_day_after_a_month_end_is_the_first_of_a_month(day):
    assert (month_end(day) + dt.timedelta(days=1)).day == 1
    assert month_end(day).month == day.month
