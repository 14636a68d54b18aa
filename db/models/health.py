"""Immunizations, exemptions, evidence of immunity, requirements as data; medications, allergies, conditions."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps, UUIDPrimaryKey, utcnow
from db.models._types import str_enum


class ExemptionKind(enum.StrEnum):
    MEDICAL = "medical"
    RELIGIOUS = "religious"
    CONSCIENTIOUS = "conscientious"


class ImmunizationRecord(UUIDPrimaryKey, Base):
    """One dose given to a student; combination vaccines are one row whose CVX covers many antigens."""

    __tablename__ = "immunization_record"
    __table_args__ = (Index("ix_immunization_record_student_group", "student_id", "vaccine_group"),)

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    # CDSi vaccine group name ("DTaP/Tdap/Td", "Polio", "MMR", ...).
    vaccine_group: Mapped[str] = mapped_column(String(40))
    # CDC CVX code, zero-padded to two digits; null when only the group is known.
    cvx_code: Mapped[str | None] = mapped_column(String(8))
    # Product type for group-only records (DTaP, DT, Td, Tdap) so pertussis is credited correctly.
    product: Mapped[str | None] = mapped_column(String(40))
    administered_on: Mapped[dt.date]
    source: Mapped[str] = mapped_column(String(40), default="provider")
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ImmunizationExemption(UUIDPrimaryKey, Base):
    __tablename__ = "immunization_exemption"

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    kind: Mapped[ExemptionKind] = mapped_column(str_enum(ExemptionKind))
    # Null: the exemption covers every vaccine group.
    vaccine_group: Mapped[str | None] = mapped_column(String(40))
    signed_on: Mapped[dt.date]
    # Null: lifelong (a medical certificate stating a permanent condition).
    expires_on: Mapped[dt.date | None]
    note: Mapped[str | None] = mapped_column(Text)


class ImmunityEvidence(UUIDPrimaryKey, Base):
    """Serology or illness history accepted in place of doses for one antigen (never fake doses)."""

    __tablename__ = "immunity_evidence"

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    antigen: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))  # serology | provider_history | parent_history
    observation_code: Mapped[str | None] = mapped_column(String(8))
    recorded_on: Mapped[dt.date]


class ProvisionalEnrollment(UUIDPrimaryKey, Base):
    """A student admitted provisionally while on schedule to complete doses by `due_on`."""

    __tablename__ = "provisional_enrollment"

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    vaccine_group: Mapped[str | None] = mapped_column(String(40))
    granted_on: Mapped[dt.date]
    due_on: Mapped[dt.date]


class ImmunizationRequirement(UUIDPrimaryKey, Base):
    """One rule of a jurisdiction's school requirements, e.g. TX grades K-6 need 4 polio doses."""

    __tablename__ = "immunization_requirement"
    __table_args__ = (Index("ix_immunization_requirement_lookup", "jurisdiction", "grade_min", "grade_max"),)

    jurisdiction: Mapped[str] = mapped_column(String(16))
    grade_min: Mapped[int]
    grade_max: Mapped[int]
    vaccine_group: Mapped[str] = mapped_column(String(40))
    antigen: Mapped[str] = mapped_column(String(40))
    min_doses: Mapped[int]
    # Alternatives, age constraints and boosters as JSON data, interpreted by domain/health/rules.py.
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    effective_school_year: Mapped[str] = mapped_column(String(16))
    source_url: Mapped[str] = mapped_column(String(400))


class Medication(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "medication"

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    dosage: Mapped[str | None] = mapped_column(String(200))
    schedule: Mapped[str | None] = mapped_column(String(200))
    start_on: Mapped[dt.date | None]
    end_on: Mapped[dt.date | None]
    notes: Mapped[str | None] = mapped_column(Text)


class Allergy(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "allergy"

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    allergen: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(20))  # mild | moderate | severe
    reaction: Mapped[str | None] = mapped_column(String(300))


class HealthCondition(UUIDPrimaryKey, Timestamps, Base):
    """A medical condition the school must know about (asthma, diabetes, epilepsy), kept by the nurse."""

    __tablename__ = "health_condition"

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    # Diagnosed or known since; null when unknown.
    since_on: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | resolved
