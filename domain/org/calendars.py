"""Campus school calendars: the school_day rows of one school year, set from first and last day and closures.

`school_day` is what attendance and chronic absence count membership days against (domain/attendance),
so setting a calendar changes every attendance rate of the campus for that year. A calendar replaces
the year's previous days in one transaction: only the days that differ are deleted or added, each
with its change event, and the calendar header (school_calendar) records what the days came from.
Attendance records on a day that stops being a school day stay stored and stop counting, as any
record off the calendar does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.models import AttendanceRecord, OrgLevel, SchoolCalendar, SchoolDay
from domain.audit.changes import record_changes, record_fields
from domain.errors import InvalidInput, NotFound
from domain.events import emit_event
from domain.org.schemas import (
    ClosureRead,
    DateRange,
    GetSchoolCalendarInput,
    SchoolCalendarRead,
    SchoolCalendarSet,
    SetSchoolCalendarInput,
    school_year_bounds,
)
from domain.org.writes import get_org_for, require_open
from policies.scope import Action, Scope


def _closures(data: SetSchoolCalendarInput) -> list[ClosureRead]:
    """The closures as ranges inside the school days, in date order.

    Raises:
        InvalidInput: a range that ends before it starts or lies outside first_day..last_day.
    """
    found: list[ClosureRead] = []
    for item in data.closures:
        closure = item if isinstance(item, DateRange) else DateRange(start=item)
        end = closure.end or closure.start
        if end < closure.start:
            raise InvalidInput(f"the closure {closure.start}..{end} ends before it starts", field="closures")
        if closure.start < data.first_day or end > data.last_day:
            raise InvalidInput(
                f"the closure {closure.start}..{end} lies outside the school days {data.first_day}..{data.last_day}",
                field="closures",
            )
        found.append(ClosureRead(start=closure.start, end=end, label=closure.label))
    return sorted(found, key=lambda c: (c.start, c.end))


def school_days_of(data: SetSchoolCalendarInput, closures: list[ClosureRead]) -> list[dt.date]:
    """Every taught weekday from first_day to last_day that no closure covers."""
    off = {c.start + dt.timedelta(days=i) for c in closures for i in range((c.end - c.start).days + 1)}
    count = (data.last_day - data.first_day).days + 1
    days = (data.first_day + dt.timedelta(days=i) for i in range(count))
    return [d for d in days if d.isoweekday() in data.weekdays and d not in off]


def set_school_calendar(session: Session, scope: Scope, data: SetSchoolCalendarInput) -> SchoolCalendarSet:
    """Replace a campus's school days of one school year with the days the calendar describes.

    Raises:
        NotFound, PermissionDenied, OrganizationClosed, InvalidInput.
    """
    org = get_org_for(session, scope, data.org_id, Action.WRITE)
    if org.level is not OrgLevel.CAMPUS:
        raise InvalidInput(f"school calendars belong to campuses; '{org.name}' is a {org.level.value}", field="org_id")
    require_open(session, org.id)
    year_start, year_end = school_year_bounds(data.school_year)
    for name, day in (("first_day", data.first_day), ("last_day", data.last_day)):
        if not year_start <= day <= year_end:
            raise InvalidInput(
                f"{name} {day} lies outside school year {data.school_year} ({year_start}..{year_end})", field=name
            )
    if data.last_day < data.first_day:
        raise InvalidInput(f"last_day {data.last_day} is before first_day {data.first_day}", field="last_day")
    closures = _closures(data)
    days = school_days_of(data, closures)
    if not days:
        raise InvalidInput("the calendar has no school day: every taught weekday is closed", field="closures")

    in_year = (SchoolDay.org_id == org.id, SchoolDay.day_on >= year_start, SchoolDay.day_on <= year_end)
    existing = set(session.execute(select(SchoolDay.day_on).where(*in_year)).scalars())
    wanted = set(days)
    removed, added = sorted(existing - wanted), sorted(wanted - existing)
    reason = f"school calendar {data.school_year}"
    if removed:
        session.execute(delete(SchoolDay).where(*in_year, SchoolDay.day_on.in_(removed)))
    session.add_all(SchoolDay(org_id=org.id, day_on=day) for day in added)
    for day, change in [(d, (d, None)) for d in removed] + [(d, (None, d)) for d in added]:
        record_fields(
            session,
            scope,
            table="school_day",
            entity_id=f"{org.id}:{day.isoformat()}",
            org_id=org.id,
            changes={"day_on": change},
            reason=reason,
        )

    header = session.execute(
        select(SchoolCalendar).where(SchoolCalendar.org_id == org.id, SchoolCalendar.school_year == data.school_year)
    ).scalar_one_or_none()
    if header is None:
        header = SchoolCalendar(org_id=org.id, school_year=data.school_year)
        session.add(header)
    header.first_day, header.last_day = data.first_day, data.last_day
    header.weekdays = list(data.weekdays)
    header.closures = [c.model_dump(mode="json") for c in closures]
    header.school_days = len(days)
    record_changes(session, scope, header, reason=reason)
    off_calendar = 0
    if removed:
        off_calendar = session.execute(
            select(func.count()).where(AttendanceRecord.org_id == org.id, AttendanceRecord.day_on.in_(removed))
        ).scalar_one()
    emit_event(
        session,
        event_type="organization.calendar_set",
        org_id=org.id,
        payload={
            "org_id": org.id,
            "school_year": data.school_year,
            "first_day": data.first_day,
            "last_day": data.last_day,
            "school_days": len(days),
            "days_added": len(added),
            "days_removed": len(removed),
        },
    )
    session.flush()
    return SchoolCalendarSet(
        **_read(org.id, org.name, header).model_dump(),
        days_added=len(added),
        days_removed=len(removed),
        attendance_records_off_calendar=off_calendar,
    )


def _read(org_id: Any, campus: str, header: SchoolCalendar) -> SchoolCalendarRead:
    return SchoolCalendarRead(
        org_id=org_id,
        campus=campus,
        school_year=header.school_year,
        first_day=header.first_day,
        last_day=header.last_day,
        weekdays=list(header.weekdays),
        closures=[ClosureRead.model_validate(c) for c in header.closures],
        school_days=header.school_days,
        set_by_tool=True,
    )


def get_school_calendar(session: Session, scope: Scope, data: GetSchoolCalendarInput) -> SchoolCalendarRead:
    """A campus's calendar for one school year; days loaded without a calendar are described from the days.

    Raises:
        NotFound: no such campus in scope, or no school days in that year.
    """
    org = get_org_for(session, scope, data.org_id)
    header = session.execute(
        select(SchoolCalendar).where(SchoolCalendar.org_id == org.id, SchoolCalendar.school_year == data.school_year)
    ).scalar_one_or_none()
    if header is not None:
        return _read(org.id, org.name, header)
    year_start, year_end = school_year_bounds(data.school_year)
    days = list(
        session.execute(
            select(SchoolDay.day_on)
            .where(SchoolDay.org_id == org.id, SchoolDay.day_on >= year_start, SchoolDay.day_on <= year_end)
            .order_by(SchoolDay.day_on)
        ).scalars()
    )
    if not days:
        raise NotFound(f"no school calendar for '{org.name}' in {data.school_year}", field="school_year")
    return SchoolCalendarRead(
        org_id=org.id,
        campus=org.name,
        school_year=data.school_year,
        first_day=days[0],
        last_day=days[-1],
        weekdays=sorted({d.isoweekday() for d in days}),
        closures=[],
        school_days=len(days),
        set_by_tool=False,
    )
