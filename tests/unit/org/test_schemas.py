"""The organization inputs' pure rules: jurisdictions, timezones, slugs, school years, weekdays."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from domain.org.schemas import (
    SetSchoolCalendarInput,
    check_slug,
    check_timezone,
    normalize_jurisdiction,
    school_year_bounds,
    slug_of,
)


@pytest.mark.parametrize(("given", "stored"), [("US-TX", "TX"), ("us-fl", "FL"), ("TX", "TX"), ("CA-ON", "CA-ON")])
def test_jurisdictions_are_stored_in_the_form_the_requirement_rows_use(given, stored):
    assert normalize_jurisdiction(given) == stored


@pytest.mark.parametrize("given", ["US-ZZ", "Texas", "", "US-"])
def test_a_jurisdiction_that_is_no_state_or_subdivision_is_refused(given):
    with pytest.raises(ValueError, match="jurisdiction"):
        normalize_jurisdiction(given)


def test_timezones_must_be_iana_names():
    assert check_timezone(" America/New_York ") == "America/New_York"
    with pytest.raises(ValueError, match="IANA"):
        check_timezone("EST5EDT-ish")


def test_slugs_are_lower_case_path_segments_and_names_make_them():
    assert check_slug("Miami") == "miami"
    assert slug_of("Alpha Academy: Miami Beach!") == "alpha-academy-miami-beach"
    for bad in ("-miami", "mi ami", "a/b", "x" * 65):
        with pytest.raises(ValueError, match="slug"):
            check_slug(bad)


def test_a_school_year_runs_august_to_july_and_names_consecutive_years():
    assert school_year_bounds("2026-27") == (dt.date(2026, 8, 1), dt.date(2027, 7, 31))
    assert school_year_bounds("2099-00") == (dt.date(2099, 8, 1), dt.date(2100, 7, 31))
    for bad in ("2026-28", "2026/27", "26-27"):
        with pytest.raises(ValueError, match="school_year"):
            school_year_bounds(bad)


def test_weekdays_accept_numbers_and_names_and_default_to_monday_through_friday():
    base = {"org_id": "00000000-0000-0000-0000-000000000001", "school_year": "2026-27"}
    days = {"first_day": "2026-08-10", "last_day": "2027-05-28"}
    assert SetSchoolCalendarInput(**base, **days).weekdays == [1, 2, 3, 4, 5]
    assert SetSchoolCalendarInput(**base, **days, weekdays=["Sat", 1, "monday"]).weekdays == [1, 6]
    with pytest.raises(ValidationError, match="weekday"):
        SetSchoolCalendarInput(**base, **days, weekdays=["funday"])
