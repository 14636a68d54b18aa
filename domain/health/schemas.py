"""Inputs and read models of the health area (immunization compliance)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from db.models import ExemptionKind
from domain.health.cdsi import load_map
from domain.health.rules import ComplianceState

MAX_PAGE = 500


def _canonical_group(value: str | None) -> str | None:
    if value is None:
        return None
    group = load_map().canonical_group(value)
    if group is None:
        known = ", ".join(sorted(load_map().groups))
        raise ValueError(f"unknown vaccine group {value!r}; use a CDSi group name: {known}")
    return group


class MissingImmunizationsQuery(BaseModel):
    org_id: uuid.UUID | None = Field(
        default=None, description="Campus or any org node; searches enrollments anywhere below it. Omit for all."
    )
    grade: int | None = Field(default=None, ge=-1, le=12, description="Only this grade (K=0, pre-K=-1).")
    vaccine_group: str | None = Field(
        default=None,
        description='Only this CDSi vaccine group, e.g. "MMR", "DTaP/Tdap/Td", "Polio", "HepB", "Varicella".',
    )
    as_of: dt.date = Field(description="Evaluate as of this date (first day of attendance, or today).")
    include_exempt: bool = Field(
        default=True, description="Also list students whose only gaps are covered by a valid exemption."
    )
    include_provisional: bool = Field(
        default=True, description="Also list students whose only gaps are covered by provisional enrollment."
    )
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")

    _group = field_validator("vaccine_group")(_canonical_group)


class GroupComplianceRead(BaseModel):
    vaccine_group: str
    status: ComplianceState
    doses_counted: int
    doses_required: int
    reason: str
    exemption_kind: str | None = None
    exemption_expires_on: dt.date | None = None
    provisional_due_on: dt.date | None = None
    evidence_kinds: list[str] = Field(default_factory=list)


class ExemptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    student_id: uuid.UUID
    kind: ExemptionKind
    vaccine_group: str | None = Field(description="Null: the exemption covers every vaccine group.")
    signed_on: dt.date
    expires_on: dt.date | None = Field(description="Null: lifelong.")
    note: str | None = None


class StudentComplianceRead(BaseModel):
    student_id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    grade: int
    org_id: uuid.UUID = Field(description="The org of the enrollment the student was evaluated under.")
    campus_name: str
    jurisdiction: str
    status: ComplianceState = Field(description="The worst group status: missing, provisional, then exempt.")
    groups: list[GroupComplianceRead] = Field(
        description="Vaccine groups that are missing, exempt or provisional (compliant groups are omitted)."
    )
    exemptions: list[ExemptionRead] = Field(description="Exemptions signed by the as-of date, valid or expired.")
    data_issues: list[str] = Field(default_factory=list, description="Records that could not be counted, and why.")


class ComplianceSummaryRead(BaseModel):
    students_evaluated: int
    compliant: int = Field(description="Every required group met by doses or evidence of immunity.")
    missing: int
    provisional: int
    exempt: int
    not_evaluated: int = Field(description="Students with no requirements configured for their jurisdiction/grade.")


class MissingImmunizationsPage(BaseModel):
    as_of: dt.date
    items: list[StudentComplianceRead]
    total: int = Field(description="Students listed across all pages.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page, or null on the last page.")
    summary: ComplianceSummaryRead
    warnings: list[str] = Field(default_factory=list)


class ImmunizationRead(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    vaccine_group: str
    cvx_code: str | None
    cvx_description: str | None
    product: str | None
    administered_on: dt.date
    source: str
    antigens: list[str] = Field(description="Antigens this dose counts for (from the CDSi map).")


class ImmunityEvidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    antigen: str
    kind: str
    observation_code: str | None
    recorded_on: dt.date


class ProvisionalEnrollmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    vaccine_group: str | None
    granted_on: dt.date
    due_on: dt.date


class ImmunizationHistoryRead(BaseModel):
    student_id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    records: list[ImmunizationRead]
    exemptions: list[ExemptionRead]
    evidence: list[ImmunityEvidenceRead]
    provisionals: list[ProvisionalEnrollmentRead]
    as_of: dt.date | None = None
    compliance: list[GroupComplianceRead] | None = Field(
        default=None,
        description="Every required group as of `as_of`; null without as_of or without an enrollment that day.",
    )
    data_issues: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class RecordImmunizationInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students).")
    administered_on: dt.date = Field(description="Date the dose was given; not in the future.")
    cvx_code: str | None = Field(
        default=None, max_length=8, description='CDC CVX code of the product, e.g. "03" (MMR), "115" (Tdap).'
    )
    vaccine_group: str | None = Field(
        default=None, description="CDSi vaccine group when no CVX code is known (e.g. from a paper record)."
    )
    product: str | None = Field(
        default=None,
        max_length=40,
        description="For DTaP/Tdap/Td without CVX: DTaP, DTP, DT, Td, Tdap or TT (pertussis is credited by it).",
    )
    source: str = Field(default="provider", max_length=40, description="Where the record came from.")
    reason: str | None = Field(default=None, max_length=300, description="Why it is recorded (kept in the audit).")

    _group = field_validator("vaccine_group")(_canonical_group)


class RecordExemptionInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students).")
    kind: ExemptionKind = Field(description="medical, religious or conscientious.")
    vaccine_group: str | None = Field(default=None, description="The vaccine group exempted; omit for all groups.")
    signed_on: dt.date = Field(description="Date the certificate or affidavit was signed (notarized).")
    expires_on: dt.date | None = Field(
        default=None,
        description="Expiry; defaults to 1 year after signing (medical) or 2 years (affidavit).",
    )
    lifelong: bool = Field(default=False, description="A medical certificate stating a lifelong condition.")
    note: str | None = Field(default=None, max_length=2000, description="Free text kept with the exemption.")
    reason: str | None = Field(default=None, max_length=300, description="Why it is recorded (kept in the audit).")

    _group = field_validator("vaccine_group")(_canonical_group)
