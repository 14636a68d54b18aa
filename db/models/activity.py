"""Daily attendance, the school calendar it is measured against, and behavior incidents."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigIntPK, Timestamps, UUIDPrimaryKey, utcnow
from db.models._types import str_enum


class AttendanceStatus(enum.StrEnum):
    PRESENT = "present"
    TARDY = "tardy"
    EXCUSED_ABSENCE = "excused_absence"
    UNEXCUSED_ABSENCE = "unexcused_absence"


ABSENT_STATUSES = (AttendanceStatus.EXCUSED_ABSENCE, AttendanceStatus.UNEXCUSED_ABSENCE)


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SchoolDay(Base):
    """An instructional day at a campus: the denominator of attendance rates."""

    __tablename__ = "school_day"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), primary_key=True)
    day_on: Mapped[dt.date] = mapped_column(primary_key=True)


class SchoolCalendar(UUIDPrimaryKey, Timestamps, Base):
    """A campus's calendar for one school year: what its `school_day` rows of that year were made from."""

    __tablename__ = "school_calendar"
    __table_args__ = (UniqueConstraint("org_id", "school_year"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    # "2026-27": the year's first and last day lie between Aug 1 2026 and Jul 31 2027.
    school_year: Mapped[str] = mapped_column(String(7))
    first_day: Mapped[dt.date]
    last_day: Mapped[dt.date]
    # ISO weekdays taught (1 = Monday .. 7 = Sunday).
    weekdays: Mapped[list[Any]]
    # Holidays and closures: [{"start": "2026-11-26", "end": "2026-11-27", "label": "Thanksgiving"}, ...].
    closures: Mapped[list[Any]]
    school_days: Mapped[int]


class AttendanceRecord(Base):
    """A student's daily attendance at a campus; days without a record count as present."""

    __tablename__ = "attendance_record"
    __table_args__ = (
        UniqueConstraint("student_id", "day_on"),
        Index("ix_attendance_record_org_day", "org_id", "day_on"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    day_on: Mapped[dt.date]
    status: Mapped[AttendanceStatus] = mapped_column(str_enum(AttendanceStatus))
    note: Mapped[str | None] = mapped_column(String(300))
    recorded_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class BehaviorIncident(UUIDPrimaryKey, Base):
    __tablename__ = "behavior_incident"
    __table_args__ = (Index("ix_behavior_incident_org_when", "org_id", "occurred_on"),)

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    occurred_on: Mapped[dt.date]
    category: Mapped[str] = mapped_column(String(60))
    severity: Mapped[Severity] = mapped_column(str_enum(Severity))
    description: Mapped[str] = mapped_column(Text)
    action_taken: Mapped[str | None] = mapped_column(Text)
    reported_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
