"""A continuous offering (no fixed end) in the places that used to need an end: terms and tuition."""

from __future__ import annotations

import datetime as dt

from db.models import ProgramOffering
from domain.billing.pricing import billing_period
from domain.oneroster.academic_sessions import shown_end, term_id


def test_a_continuous_term_shows_the_current_school_years_end_and_keeps_its_id():
    start = dt.date(2024, 1, 8)
    assert shown_end(start, None, dt.date(2026, 11, 20)) == dt.date(2027, 7, 31)
    assert shown_end(start, dt.date(2024, 5, 30), dt.date(2026, 11, 20)) == dt.date(2024, 5, 30)
    assert term_id("Rolling", start, None) != term_id("Rolling", start, dt.date(2027, 7, 31))


def test_a_continuous_offering_prices_twelve_months_from_the_students_start():
    rolling = ProgramOffering(start_on=dt.date(2024, 1, 8), end_on=None)
    assert billing_period(rolling, dt.date(2026, 3, 2)) == (dt.date(2026, 3, 2), dt.date(2027, 3, 1))
    dated = ProgramOffering(start_on=dt.date(2026, 8, 10), end_on=dt.date(2027, 5, 28))
    assert billing_period(dated, dt.date(2026, 9, 1)) == (dt.date(2026, 8, 10), dt.date(2027, 5, 28))
