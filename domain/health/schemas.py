"""Inputs and read models of immunization compliance: the report, history, doses, exemptions, requirements."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from db.models import ExemptionKind
from domain.health.cdsi import load_map
from domain.health.requirements import jurisdiction_key, school_year_starts
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


# -- requirements as data --------------------------------------------------------------------------------


def _jurisdiction(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?", value):
        raise ValueError(f"{value!r} is not a jurisdiction code such as 'US-FL' or 'FL'")
    return jurisdiction_key(value)


def _school_year(value: str) -> str:
    school_year_starts(value)
    return value


class DefineImmunizationRequirementInput(BaseModel):
    jurisdiction: str = Field(
        max_length=16, description='State or region whose rule this is: "US-FL" or "FL" (stored as "FL").'
    )
    effective_school_year: str = Field(
        max_length=16, description='The school year the chart takes effect, e.g. "2027-28" (from August 1).'
    )
    grade_min: int = Field(ge=-1, le=12, description="Lowest grade the rule applies to (K=0, pre-K=-1).")
    grade_max: int = Field(ge=-1, le=12, description="Highest grade the rule applies to.")
    vaccine_group: str = Field(description='CDSi vaccine group, e.g. "MMR", "DTaP/Tdap/Td", "Polio", "Varicella".')
    antigen: str = Field(max_length=40, description='An antigen of that group, e.g. "Measles", "Tetanus", "Polio".')
    min_doses: int = Field(ge=1, le=10, description="Doses required of the antigen.")
    conditions: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Optional JSON: min_age, age_constraints, alternatives, booster {antigen, within?, cvx_in, product_in}, "
            "evidence (see docs/running/health.md)."
        ),
    )
    source_url: str = Field(max_length=400, description="Where the jurisdiction publishes the rule (https URL).")
    reason: str | None = Field(default=None, max_length=300, description="Why it is defined (kept in the audit).")

    _group = field_validator("vaccine_group")(_canonical_group)
    _code = field_validator("jurisdiction")(_jurisdiction)
    _year = field_validator("effective_school_year")(_school_year)

    @field_validator("source_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"https?://[^\s]+\.[^\s]+", value):
            raise ValueError("source_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DefineImmunizationRequirementInput:
        if self.grade_max < self.grade_min:
            raise ValueError("grade_max must be at least grade_min")
        antigens = load_map().groups[self.vaccine_group]
        if self.antigen not in antigens:
            raise ValueError(f"{self.antigen!r} is not an antigen of {self.vaccine_group} ({', '.join(antigens)})")
        return self


class RequirementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    jurisdiction: str
    effective_school_year: str
    grade_min: int
    grade_max: int
    vaccine_group: str
    antigen: str
    min_doses: int
    conditions: dict[str, Any]
    source_url: str


class RequirementChartRead(BaseModel):
    jurisdiction: str
    effective_school_year: str
    rows: list[RequirementRead] = Field(description="Every row of this chart version, by grade band and group.")
    in_effect_on: dt.date | None = Field(
        default=None, description="Set when this chart is the one evaluations use on that date (today)."
    )


class DefinedRequirementRead(BaseModel):
    requirement: RequirementRead
    created_chart: bool = Field(description="True when this started a new chart version for the school year.")
    copied_from_school_year: str | None = Field(
        default=None, description="The earlier chart whose other rows the new version carried forward."
    )
    replaced_row: bool = Field(description="True when an existing row of the same grade band and antigen changed.")
    chart: RequirementChartRead


class ListImmunizationRequirementsQuery(BaseModel):
    jurisdiction: str = Field(max_length=16, description='"US-FL" or "FL", "US-TX" or "TX".')
    effective_school_year: str | None = Field(
        default=None, max_length=16, description="A chart version (default: the one in effect today)."
    )

    _code = field_validator("jurisdiction")(_jurisdiction)

    @field_validator("effective_school_year")
    @classmethod
    def _year(cls, value: str | None) -> str | None:
        return None if value is None else _school_year(value)
