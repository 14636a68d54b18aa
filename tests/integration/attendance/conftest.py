"""A network with two campuses and their school calendars, plus helpers to mark attendance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from db.models import AttendanceRecord, AttendanceStatus, Organization, OrgLevel, ProgramOffering, SchoolDay, Student
from tests.factories import create_offering, create_org

# Two school weeks: Monday 2025-09-01 to Friday 2025-09-12, ten weekdays.
PERIOD_START = dt.date(2025, 9, 1)
PERIOD_END = dt.date(2025, 9, 12)


def weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = [start + dt.timedelta(n) for n in range((end - start).days + 1)]
    return [d for d in days if d.weekday() < 5]


SCHOOL_DAYS = weekdays(PERIOD_START, PERIOD_END)


def add_school_days(session: Session, org: Organization, days: Iterable[dt.date]) -> None:
    session.add_all(SchoolDay(org_id=org.id, day_on=d) for d in days)
    session.flush()


def mark(
    session: Session, student: Student, day: dt.date, status: AttendanceStatus, *, org: Organization | None = None
) -> AttendanceRecord:
    record = AttendanceRecord(
        student_id=student.id, org_id=(org.id if org else student.org_id), day_on=day, status=status
    )
    session.add(record)
    session.flush()
    return record


@dataclass
class Network:
    network: Organization
    austin: Organization
    miami: Organization
    austin_year: ProgramOffering
    miami_year: ProgramOffering


@pytest.fixture()
def net(session: Session) -> Network:
    """Two campuses under one network, each with the ten weekdays of the period as school days."""
    network = create_org(session, level=OrgLevel.NETWORK)
    austin = create_org(session, parent=network, name="Austin")
    miami = create_org(session, parent=network, name="Miami")
    add_school_days(session, austin, SCHOOL_DAYS)
    add_school_days(session, miami, SCHOOL_DAYS)
    return Network(network, austin, miami, create_offering(session, austin), create_offering(session, miami))
