"""Admissions: application -> shadow day -> offer -> accepted -> enrollment."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps, UUIDPrimaryKey
from db.models._types import str_enum


class ApplicationStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    SHADOW_SCHEDULED = "shadow_scheduled"
    SHADOW_COMPLETED = "shadow_completed"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Application(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "application"

    # Null until acceptance creates (or links) the student, for an applicant new to the network.
    student_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    offering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program_offering.id"))
    household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("household.id"))
    status: Mapped[ApplicationStatus] = mapped_column(str_enum(ApplicationStatus))
    applying_for_grade: Mapped[int]
    submitted_on: Mapped[dt.date]
    shadow_day_on: Mapped[dt.date | None]
    offer_made_on: Mapped[dt.date | None]
    offer_expires_on: Mapped[dt.date | None]
    decided_on: Mapped[dt.date | None]
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enrollment.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(60))
    # The applicant as the family described them (a student record may not exist yet).
    applicant_first_name: Mapped[str | None] = mapped_column(String(100))
    applicant_middle_name: Mapped[str | None] = mapped_column(String(100))
    applicant_last_name: Mapped[str | None] = mapped_column(String(100))
    applicant_preferred_name: Mapped[str | None] = mapped_column(String(100))
    applicant_birth_on: Mapped[dt.date | None]
    applicant_sex: Mapped[str | None] = mapped_column(String(32))
    guardian_name: Mapped[str | None] = mapped_column(String(200))
    guardian_email: Mapped[str | None] = mapped_column(String(254))
    guardian_phone: Mapped[str | None] = mapped_column(String(40))
