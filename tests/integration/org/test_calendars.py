"""set_school_calendar and get_school_calendar through the runner, on both engines; attendance counts the days."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from db.models import ChangeEvent, DomainEvent, SchoolCalendar, SchoolDay
from tests.integration.org.conftest import read_only

ACADEMY, AUSTIN, MIAMI = "/alpha/academy/", "/alpha/academy/austin/", "/alpha/academy/miami/"
YEAR = "2026-27"
THANKSGIVING = {"start": "2026-11-23", "end": "2026-11-27", "label": "Thanksgiving week"}


def _campus(call, org_id, name="Tampa"):
    return call("network_admin", "create_organization", {"parent_id": org_id(ACADEMY), "name": name, "level": "campus"})


def _days(demo_deps, campus_id, start=dt.date(2000, 1, 1), end=dt.date(2100, 1, 1)):
    with demo_deps.session_factory() as s:
        return list(
            s.execute(
                select(SchoolDay.day_on)
                .where(SchoolDay.org_id == uuid.UUID(str(campus_id)), SchoolDay.day_on.between(start, end))
                .order_by(SchoolDay.day_on)
            ).scalars()
        )


def _expected_days(first, last, off):
    days, day = [], first
    while day <= last:
        if day.weekday() < 5 and day not in off:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def test_a_calendar_writes_the_campus_school_days_a_header_and_their_change_events(call, org_id, demo_deps):
    campus = _campus(call, org_id)
    answer = call(
        "network_admin",
        "set_school_calendar",
        {
            "org_id": campus["id"],
            "school_year": YEAR,
            "first_day": "2026-08-17",
            "last_day": "2027-05-28",
            "closures": ["2026-09-07", THANKSGIVING, {"start": "2026-12-21", "end": "2027-01-01"}],
        },
    )
    off = {dt.date(2026, 9, 7)} | {dt.date(2026, 11, 23) + dt.timedelta(days=i) for i in range(5)}
    off |= {dt.date(2026, 12, 21) + dt.timedelta(days=i) for i in range(12)}
    expected = _expected_days(dt.date(2026, 8, 17), dt.date(2027, 5, 28), off)
    assert _days(demo_deps, campus["id"]) == expected
    assert (answer["school_days"], answer["days_added"], answer["days_removed"]) == (len(expected), len(expected), 0)
    assert answer["weekdays"] == [1, 2, 3, 4, 5] and answer["set_by_tool"] is True
    assert answer["closures"][1] == THANKSGIVING
    with demo_deps.session_factory() as s:
        header = s.execute(select(SchoolCalendar).where(SchoolCalendar.org_id == uuid.UUID(campus["id"]))).scalar_one()
        assert (header.school_year, header.first_day, header.school_days) == (YEAR, dt.date(2026, 8, 17), len(expected))
        day_events = s.execute(
            select(ChangeEvent.new_value).where(
                ChangeEvent.entity_type == "school_day", ChangeEvent.org_id == header.org_id
            )
        ).scalars()
        assert sorted(day_events) == [d.isoformat() for d in expected]
        header_fields = set(
            s.execute(select(ChangeEvent.field).where(ChangeEvent.entity_id == str(header.id))).scalars()
        )
        assert {"first_day", "last_day", "closures", "weekdays", "school_days", "school_year"} <= header_fields
        [event] = s.execute(
            select(DomainEvent).where(
                DomainEvent.event_type == "organization.calendar_set", DomainEvent.org_id == header.org_id
            )
        ).scalars()
        assert event.payload["school_days"] == len(expected)
    assert call("network_admin", "get_school_calendar", {"org_id": campus["id"], "school_year": YEAR})[
        "school_days"
    ] == len(expected)


def test_setting_the_year_again_replaces_only_that_years_days(call, org_id, demo_deps):
    campus = _campus(call, org_id)
    base = {"org_id": campus["id"], "first_day": "2026-08-17", "last_day": "2027-05-28"}
    call("network_admin", "set_school_calendar", base | {"school_year": YEAR})
    call(
        "network_admin",
        "set_school_calendar",
        {"org_id": campus["id"], "school_year": "2027-28", "first_day": "2027-08-16", "last_day": "2028-05-26"},
    )
    next_year = _days(demo_deps, campus["id"], dt.date(2027, 8, 1))
    answer = call(
        "network_admin",
        "set_school_calendar",
        base | {"school_year": YEAR, "last_day": "2027-05-21", "weekdays": ["mon", "tue", "wed", "thu"]},
    )
    this_year = _days(demo_deps, campus["id"], dt.date(2026, 8, 1), dt.date(2027, 7, 31))
    expected = [d for d in _expected_days(dt.date(2026, 8, 17), dt.date(2027, 5, 21), set()) if d.weekday() < 4]
    assert this_year == expected
    assert (answer["school_days"], answer["days_added"], answer["weekdays"]) == (len(expected), 0, [1, 2, 3, 4])
    assert answer["days_removed"] == len(_expected_days(dt.date(2026, 8, 17), dt.date(2027, 5, 28), set())) - len(
        expected
    )
    assert _days(demo_deps, campus["id"], dt.date(2027, 8, 1)) == next_year
    with demo_deps.session_factory() as s:
        assert len(s.execute(select(SchoolCalendar).where(SchoolCalendar.org_id == uuid.UUID(campus["id"]))).all()) == 2


def test_attendance_rates_count_the_school_days_of_the_new_calendar(call, org_id, demo_deps):
    austin = org_id(AUSTIN)
    roster = call("registrar_austin", "query_roster", {"org_id": austin, "as_of": "2026-11-02", "grade": 5})
    student = next(e for e in roster["items"] if e["start_on"] <= "2026-10-01" and e["end_on"] is None)["student_id"]
    call(
        "registrar_austin",
        "record_attendance",
        {"student_id": student, "day_on": "2026-11-12", "status": "unexcused_absence"},
    )

    def summary(start, end):
        page = call(
            "registrar_austin",
            "attendance_summary",
            {"org_id": austin, "student_id": student, "start_on": start, "end_on": end},
        )
        [row] = page["items"]
        return row

    before, first_week = summary("2026-11-02", "2026-11-13"), summary("2026-11-02", "2026-11-06")
    assert before["membership_days"] == 10 and before["absent_days"] >= 1
    answer = call(
        "network_admin",
        "set_school_calendar",
        {
            "org_id": austin,
            "school_year": YEAR,
            "first_day": "2026-08-12",
            "last_day": "2027-05-28",
            "closures": [{"start": "2026-11-09", "end": "2026-11-13", "label": "storm closure"}],
        },
    )
    assert answer["attendance_records_off_calendar"] >= 1
    after = summary("2026-11-02", "2026-11-13")
    assert after["membership_days"] == 5
    assert after["absent_days"] == first_week["absent_days"]
    chronic = call(
        "registrar_austin",
        "find_chronic_absence",
        {
            "org_id": austin,
            "grade": 5,
            "start_on": "2026-11-02",
            "end_on": "2026-11-13",
            "min_membership_days": 1,
            "threshold": 1,
            "limit": 500,
        },
    )
    [judged] = [r for r in chronic["items"] if r["student_id"] == student]
    assert judged["membership_days"] == 5


def test_a_campus_without_a_calendar_header_is_described_from_its_days(call, org_id):
    calendar = call("registrar_austin", "get_school_calendar", {"org_id": org_id(AUSTIN), "school_year": YEAR})
    assert calendar["set_by_tool"] is False and calendar["school_days"] > 50
    assert calendar["first_day"].startswith("2026-08")


def test_bad_calendars_are_refused_with_their_field_and_write_nothing(call, refused, org_id, counts):
    campus = _campus(call, org_id)
    program = call(
        "network_admin", "create_organization", {"parent_id": campus["id"], "name": "Camp", "level": "program"}
    )
    base = {"org_id": campus["id"], "school_year": YEAR, "first_day": "2026-08-17", "last_day": "2027-05-28"}
    cases = {
        "first_day": base | {"first_day": "2026-07-31"},
        "last_day": base | {"last_day": "2027-08-02"},
        "closures": base | {"closures": ["2026-08-10"]},
        "school_year": base | {"school_year": "2026-28"},
        "weekdays": base | {"weekdays": [0]},
    }
    before = counts()
    for field, args in cases.items():
        error = refused("network_admin", "set_school_calendar", args)
        assert (error.code, error.field) == ("invalid_input", field), args
    backwards = refused(
        "network_admin", "set_school_calendar", base | {"first_day": "2027-05-28", "last_day": "2026-08-17"}
    )
    assert (backwards.code, backwards.field) == ("invalid_input", "last_day")
    reversed_range = refused(
        "network_admin", "set_school_calendar", base | {"closures": [{"start": "2026-10-09", "end": "2026-10-05"}]}
    )
    assert (reversed_range.code, reversed_range.field) == ("invalid_input", "closures")
    for not_a_campus in (program["id"], org_id(ACADEMY)):
        error = refused("network_admin", "set_school_calendar", base | {"org_id": not_a_campus})
        assert (error.code, error.field) == ("invalid_input", "org_id")
        assert "belong to campuses" in error.message
    assert counts() == before


def test_who_may_set_and_read_calendars(call, refused, org_id, persona, counts):
    austin = {"org_id": org_id(AUSTIN), "school_year": YEAR, "first_day": "2026-08-12", "last_day": "2027-05-28"}
    before = counts()
    registrar = refused("registrar_austin", "set_school_calendar", austin)
    key = refused(read_only(persona("network_admin")), "set_school_calendar", austin)
    hidden = refused("director_miami", "set_school_calendar", austin)
    nurse = refused("nurse_austin", "get_school_calendar", {"org_id": org_id(AUSTIN), "school_year": YEAR})
    other_campus = refused("registrar_austin", "get_school_calendar", {"org_id": org_id(MIAMI), "school_year": YEAR})
    assert (registrar.code, key.code, nurse.code) == ("permission_denied",) * 3
    assert (hidden.code, hidden.field) == ("not_found", "org_id")
    assert (other_campus.code, other_campus.field) == ("not_found", "org_id")
    assert counts() == before
    miami = austin | {"org_id": org_id(MIAMI)}
    assert call("director_miami", "set_school_calendar", miami)["campus"] == "Miami"
    empty = refused("network_admin", "get_school_calendar", {"org_id": org_id(MIAMI), "school_year": "2030-31"})
    assert (empty.code, empty.field) == ("not_found", "school_year")
