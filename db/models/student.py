"""Students (the subjects of education), households, guardians and guide assignments."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps, UUIDPrimaryKey
from db.models._types import str_enum


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    UNSPECIFIED = "unspecified"


class Race(enum.StrEnum):
    """Race categories of Ed-Fi's RaceDescriptor and OneRoster's demographics flags."""

    AMERICAN_INDIAN_OR_ALASKA_NATIVE = "American Indian or Alaska Native"
    ASIAN = "Asian"
    BLACK_OR_AFRICAN_AMERICAN = "Black or African American"
    NATIVE_HAWAIIAN_OR_PACIFIC_ISLANDER = "Native Hawaiian or Other Pacific Islander"
    WHITE = "White"


class Student(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "student"
    __table_args__ = (
        CheckConstraint("grade_level BETWEEN -1 AND 12", name="grade_range"),
        # Duplicate detection looks students up by birth date.
        Index("ix_student_birth_on", "birth_on"),
        # The roster's order: a cursor page seeks here instead of sorting every stint (migration 0017).
        Index("ix_student_roster_order", "last_name", "first_name", "student_number"),
    )

    student_number: Mapped[int] = mapped_column(Integer, unique=True)
    # Home campus: the org the student's records belong to (changes on transfer).
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    birth_on: Mapped[dt.date]
    # -1 = pre-K, 0 = kindergarten, 1..12 = grades. The grade for a stint lives on Enrollment.
    grade_level: Mapped[int]
    sex: Mapped[Sex] = mapped_column(str_enum(Sex), default=Sex.UNSPECIFIED)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    ethnicity: Mapped[str | None] = mapped_column(String(60))
    # Race values (Race) as a list; several may apply. Null: not reported.
    races: Mapped[list[Any] | None]
    hispanic_latino: Mapped[bool | None]
    home_language: Mapped[str | None] = mapped_column(String(60))
    # Inactive: deactivated, or merged into another record (then merged_into_id names the survivor).
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    inactive_reason: Mapped[str | None] = mapped_column(String(300))
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("student.id"), index=True)


class StudentIdentifier(UUIDPrimaryKey, Base):
    """A student's id in another system ("state", "oneroster", "partner:lakeside"); one owner per id."""

    __tablename__ = "student_identifier"
    __table_args__ = (UniqueConstraint("system", "value"),)

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    # Home campus of the student when the id was recorded, so that change events carry an org.
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    system: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(200))


class Household(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "household"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))


class HouseholdGuardian(UUIDPrimaryKey, Base):
    """A guardian of a household: who they are to its students, and the order staff call them in."""

    __tablename__ = "household_guardian"
    __table_args__ = (
        UniqueConstraint("household_id", "user_id"),
        UniqueConstraint("household_id", "contact_priority"),
        CheckConstraint("contact_priority >= 1", name="priority_positive"),
    )

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    relationship: Mapped[str] = mapped_column(String(40))
    # True exactly for contact_priority 1 (kept for the readers that predate the priority).
    is_primary: Mapped[bool] = mapped_column(default=False)
    # 1 = the first to call; unique within the household.
    contact_priority: Mapped[int]
    may_pick_up: Mapped[bool] = mapped_column(default=True, server_default=true())
    lives_with_student: Mapped[bool] = mapped_column(default=True, server_default=true())
    receives_mail: Mapped[bool] = mapped_column(default=True, server_default=true())
    custody_notes: Mapped[str | None] = mapped_column(String(1000))


class HouseholdStudent(UUIDPrimaryKey, Base):
    """Membership of a student in a household; shares across a student's households sum to 10000 bp."""

    __tablename__ = "household_student"
    __table_args__ = (
        UniqueConstraint("household_id", "student_id"),
        CheckConstraint("billing_share_bp BETWEEN 0 AND 10000", name="share_range"),
    )

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    # Basis points (1/100 of a percent) so that shares are exact integers.
    billing_share_bp: Mapped[int]


class GuideAssignment(UUIDPrimaryKey, Base):
    """A guide's 1:1 coaching of a student for a period; guides see only these students."""

    __tablename__ = "guide_assignment"

    guide_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    start_on: Mapped[dt.date]
    end_on: Mapped[dt.date | None]


class NumberSequence(Base):
    """Named counters for human-readable numbers (student numbers), portable across engines."""

    __tablename__ = "number_sequence"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_value: Mapped[int]
