"""Programs, their year-specific offerings, enrollment stints and their status events."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, and_, or_
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from db.base import Base, BigIntPK, Timestamps, UUIDPrimaryKey, utcnow
from db.models._types import str_enum


class ProgramKind(enum.StrEnum):
    REGULAR_YEAR = "regular_year"
    CAMP = "camp"
    ONLINE = "online"
    PARTNER = "partner"
    OTHER = "other"


class OfferingStatus(enum.StrEnum):
    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"
    ARCHIVED = "archived"


class EnrollmentStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    TRANSFERRED = "transferred"
    COMPLETED = "completed"


class Program(UUIDPrimaryKey, Timestamps, Base):
    """An enduring program ("Alpha Regular Year", "Summer Math Camp")."""

    __tablename__ = "program"
    __table_args__ = (Index("uq_program_org_id_code", "org_id", "code", unique=True),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProgramKind] = mapped_column(str_enum(ProgramKind))


class ProgramOffering(UUIDPrimaryKey, Timestamps, Base):
    """A program's priced instance for one period at one org; a new school year is new rows."""

    __tablename__ = "program_offering"
    __table_args__ = (
        # A continuous offering (rolling enrollment, e.g. the online school) has no fixed end.
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates_ordered"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_nonnegative"),
        CheckConstraint("grade_min <= grade_max", name="grades_ordered"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # A label such as "2025-26" or "Summer 2026": data, never part of a column name.
    session_label: Mapped[str] = mapped_column(String(40))
    start_on: Mapped[dt.date]
    end_on: Mapped[dt.date | None]
    status: Mapped[OfferingStatus] = mapped_column(str_enum(OfferingStatus), default=OfferingStatus.OPEN)
    capacity: Mapped[int | None]
    tuition_cents: Mapped[int] = mapped_column(default=0)
    grade_min: Mapped[int] = mapped_column(default=-1)
    grade_max: Mapped[int] = mapped_column(default=12)
    # The offering this one was cloned from at year rollover.
    previous_offering_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("program_offering.id"))


class Enrollment(UUIDPrimaryKey, Timestamps, Base):
    """One stint of a student in an offering at an org. Never reactivated: a return is a new row."""

    __tablename__ = "enrollment"
    __table_args__ = (
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates_ordered"),
        Index("ix_enrollment_offering_student", "offering_id", "student_id"),
        Index("ix_enrollment_org_status", "org_id", "status"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    offering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program_offering.id"))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    grade_level: Mapped[int]
    start_on: Mapped[dt.date]
    end_on: Mapped[dt.date | None]
    status: Mapped[EnrollmentStatus] = mapped_column(str_enum(EnrollmentStatus))
    exit_reason: Mapped[str | None] = mapped_column(String(200))
    # The stint this one continues (transfer, re-enrollment or rollover).
    previous_enrollment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enrollment.id"))

    @classmethod
    def active_on(cls, day: dt.date) -> ColumnElement[bool]:
        """Stints that grant membership on `day` (status active or since ended after it)."""
        return and_(_membership_statuses(), cls.start_on <= day, or_(cls.end_on.is_(None), cls.end_on >= day))


class EnrollmentEvent(Base):
    """A status change of a stint; the history is append-only."""

    __tablename__ = "enrollment_event"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrollment.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    effective_on: Mapped[dt.date]
    reason: Mapped[str | None] = mapped_column(String(300))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@functools.cache
def _membership_statuses() -> ColumnElement[bool]:
    """The statuses a stint can hold membership in, built once (this clause is on every roster path)."""
    return Enrollment.status.in_(
        [EnrollmentStatus.ACTIVE, EnrollmentStatus.WITHDRAWN, EnrollmentStatus.TRANSFERRED, EnrollmentStatus.COMPLETED]
    )
