"""Inputs and read models of the medical records a nurse keeps: medications, allergies, conditions, the profile."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.health.rules import ComplianceState
from domain.health.schemas import GroupComplianceRead


class Severity(enum.StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class ConditionStatus(enum.StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"


def _required_text(value: str) -> str:
    """Text that must say something: surrounding blanks dropped, empty refused."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _optional_text(value: str | None) -> str | None:
    """Optional text: blanks mean not given."""
    if value is None:
        return None
    return value.strip() or None


_REASON = Field(default=None, max_length=300, description="Why it is recorded or changed (kept in the audit).")


# -- inputs ------------------------------------------------------------------------------------------


class RecordMedicationInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students).")
    name: str = Field(max_length=200, description='The medication, e.g. "Albuterol inhaler" or "EpiPen Jr".')
    dosage: str | None = Field(default=None, max_length=200, description='e.g. "2 puffs", "0.15 mg".')
    schedule: str | None = Field(default=None, max_length=200, description='When it is given, e.g. "as needed".')
    start_on: dt.date | None = Field(default=None, description="First day it is given at school (default: today).")
    end_on: dt.date | None = Field(default=None, description="Last day, when known; on or after start_on.")
    notes: str | None = Field(default=None, max_length=2000, description="Instructions for staff.")
    reason: str | None = _REASON

    _name = field_validator("name")(_required_text)
    _texts = field_validator("dosage", "schedule", "notes")(_optional_text)

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.start_on and self.end_on and self.end_on < self.start_on:
            raise ValueError("end_on must be on or after start_on")
        return self


class EndMedicationInput(BaseModel):
    medication_id: uuid.UUID = Field(description="The medication (from get_health_profile).")
    end_on: dt.date | None = Field(default=None, description="Last day it is given (default: today).")
    reason: str | None = _REASON


class RecordAllergyInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students).")
    allergen: str = Field(max_length=200, description='What the student is allergic to, e.g. "Peanuts", "Penicillin".')
    severity: Severity = Field(description="mild, moderate or severe (severe: an emergency plan applies).")
    reaction: str | None = Field(default=None, max_length=300, description='The reaction, e.g. "Anaphylaxis".')
    reason: str | None = _REASON

    _allergen = field_validator("allergen")(_required_text)
    _reaction = field_validator("reaction")(_optional_text)


class UpdateAllergyInput(BaseModel):
    allergy_id: uuid.UUID = Field(description="The allergy (from get_health_profile).")
    allergen: str | None = Field(default=None, max_length=200, description="A corrected allergen name.")
    severity: Severity | None = Field(default=None, description="The new severity: mild, moderate or severe.")
    reaction: str | None = Field(default=None, max_length=300, description="The new reaction description.")
    reason: str | None = _REASON

    _reaction = field_validator("reaction")(_optional_text)

    @field_validator("allergen")
    @classmethod
    def _allergen_said(cls, value: str | None) -> str | None:
        return None if value is None else _required_text(value)

    @model_validator(mode="after")
    def _something_changes(self) -> Self:
        if self.allergen is None and self.severity is None and self.reaction is None:
            raise ValueError("give at least one of allergen, severity or reaction")
        return self


class RecordConditionInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students).")
    name: str = Field(max_length=200, description='The condition, e.g. "Asthma", "Type 1 diabetes".')
    notes: str | None = Field(default=None, max_length=2000, description="What staff should know or do.")
    since_on: dt.date | None = Field(default=None, description="Diagnosed or known since; not in the future.")
    status: ConditionStatus = Field(default=ConditionStatus.ACTIVE, description="active or resolved.")
    reason: str | None = _REASON

    _name = field_validator("name")(_required_text)
    _notes = field_validator("notes")(_optional_text)


# -- read models -------------------------------------------------------------------------------------


class MedicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    student_id: uuid.UUID
    name: str
    dosage: str | None
    schedule: str | None
    start_on: dt.date | None
    end_on: dt.date | None = Field(description="Null: still given.")
    notes: str | None


class AllergyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    student_id: uuid.UUID
    allergen: str
    severity: str = Field(description="mild, moderate or severe.")
    reaction: str | None


class ConditionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    student_id: uuid.UUID
    name: str
    notes: str | None
    since_on: dt.date | None
    status: str = Field(description="active or resolved.")


class ImmunizationStatusRead(BaseModel):
    as_of: dt.date
    status: ComplianceState | None = Field(
        description="The worst vaccine group status; null when the student could not be evaluated (see warnings)."
    )
    groups: list[GroupComplianceRead] = Field(default_factory=list, description="Every required vaccine group.")
    warnings: list[str] = Field(default_factory=list)


class HealthProfileRead(BaseModel):
    student_id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    allergies: list[AllergyRead]
    current_medications: list[MedicationRead] = Field(description="Medications not ended by today.")
    ended_medications: list[MedicationRead]
    conditions: list[ConditionRead]
    immunization: ImmunizationStatusRead | None = Field(
        description="Compliance as of today; null when your role may not see immunization records here."
    )
    immunization_note: str | None = Field(default=None, description="Why the immunization status is not shown.")
