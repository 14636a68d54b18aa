import datetime as dt

from domain.calendar import month_end
from domain.enrollment.rules import Stint, months_between, overlaps


def test_stints_sharing_a_day_overlap():
    assert overlaps(Stint(dt.date(2025, 1, 1), dt.date(2025, 1, 31)), Stint(dt.date(2025, 1, 31), None))


def test_back_to_back_stints_do_not_overlap():
    assert not overlaps(Stint(dt.date(2025, 1, 1), dt.date(2025, 1, 30)), Stint(dt.date(2025, 1, 31), None))


def test_months_between_spans_year_end():
    assert months_between(dt.date(2025, 11, 20), dt.date(2026, 2, 3)) == [
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
    ]


def test_month_end_handles_leap_february():
    assert month_end(dt.date(2028, 2, 1)) == dt.date(2028, 2, 29)
