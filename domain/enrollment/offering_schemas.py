"""Inputs and read models of programs and offerings (the catalog a school runs), and of year rollover."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from db.models import FeeKind, FeeTiming, OfferingStatus, ProgramKind
from domain.calendar import school_year_label_start


class CreateProgramInput(BaseModel):
    org_id: uuid.UUID = Field(description="The org that owns the program (a brand or campus, from whoami).")
    code: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Short code, unique within the org, e.g. 'ACADEMY-RY' (letters, digits, '-', '_', '.').",
    )
    name: str = Field(min_length=1, max_length=200, description="e.g. 'Alpha Academy Regular Year'.")
    kind: ProgramKind = Field(description="regular_year, camp, online, partner or other.")


class ProgramRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    code: str
    name: str
    kind: ProgramKind


class FeeLineInput(BaseModel):
    code: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="e.g. 'deposit' (stored lower case, '-' and '.' as '_').",
    )
    name: str = Field(min_length=1, max_length=200, description="e.g. 'Enrollment deposit'.")
    kind: FeeKind = Field(description="deposit, registration, lunch, materials or other.")
    amount_cents: int = Field(ge=0, le=100_000_000, description="Amount in cents for the whole offering.")
    timing: FeeTiming = Field(
        default=FeeTiming.SPREAD, description="upfront (first installment) or spread (with tuition)."
    )
    prorated: bool = Field(default=True, description="Prorated by months for a late start.")
    refundable: bool = Field(default=True, description="Refunded by the refund rule on withdrawal.")


class CreateOfferingInput(BaseModel):
    program_id: uuid.UUID = Field(description="The program (from create_program or list_offerings).")
    org_id: uuid.UUID | None = Field(
        default=None, description="Campus (or program node) running it: the program's org or one below it."
    )
    name: str = Field(min_length=1, max_length=200, description="e.g. 'Miami Regular Year, 2026-27'.")
    session_label: str = Field(
        min_length=1, max_length=40, description="School year such as '2026-27', or a session such as 'Summer 2027'."
    )
    start_on: dt.date = Field(description="First day.")
    end_on: dt.date | None = Field(default=None, description="Last day; required unless continuous.")
    continuous: bool = Field(
        default=False, description="True for rolling enrollment with no fixed end (e.g. an online school)."
    )
    grade_min: int = Field(default=0, ge=-1, le=12, description="Lowest grade offered (pre-K=-1, K=0).")
    grade_max: int = Field(default=12, ge=-1, le=12, description="Highest grade offered.")
    capacity: int | None = Field(default=None, ge=0, le=100_000, description="Seats; omit for unlimited.")
    status: OfferingStatus = Field(default=OfferingStatus.OPEN, description="open (enrolling) or planned.")
    tuition_cents: int = Field(
        default=0, ge=0, le=100_000_000, description="Tuition for the whole offering in cents (FULL_SIS orgs only)."
    )
    fees: list[FeeLineInput] = Field(
        default_factory=list, max_length=20, description="Fee lines charged with it (FULL_SIS orgs only)."
    )
    reason: str | None = Field(default=None, max_length=300, description="Why (recorded on the change events).")


class UpdateOfferingInput(BaseModel):
    """Only the fields you give change; give end_on null to make the offering continuous, capacity null for unlimited."""

    offering_id: uuid.UUID = Field(description="The offering (from list_offerings).")
    name: str | None = Field(default=None, min_length=1, max_length=200, description="New name.")
    start_on: dt.date | None = Field(default=None, description="New first day.")
    end_on: dt.date | None = Field(default=None, description="New last day (null: continuous, no fixed end).")
    grade_min: int | None = Field(default=None, ge=-1, le=12, description="New lowest grade.")
    grade_max: int | None = Field(default=None, ge=-1, le=12, description="New highest grade.")
    capacity: int | None = Field(default=None, ge=0, le=100_000, description="New seat count (null: unlimited).")
    status: OfferingStatus | None = Field(default=None, description="planned, open or closed.")
    tuition_cents: int | None = Field(
        default=None, ge=0, le=100_000_000, description="New tuition in cents (FULL_SIS orgs; financial write)."
    )
    reason: str = Field(min_length=2, max_length=300, description="Why it changes (recorded on the change events).")


class CloseOfferingInput(BaseModel):
    offering_id: uuid.UUID = Field(description="The offering to close (from list_offerings).")
    reason: str = Field(min_length=2, max_length=300, description="Why it closes (recorded on the change events).")


class FeeLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    kind: FeeKind
    amount_cents: int
    timing: FeeTiming
    prorated: bool
    refundable: bool


class OfferingDetail(BaseModel):
    """An offering as written; price fields are null when the caller may not read financial records there."""

    id: uuid.UUID
    program_id: uuid.UUID
    org_id: uuid.UUID
    name: str
    session_label: str
    start_on: dt.date
    end_on: dt.date | None = Field(description="Null for a continuous offering.")
    continuous: bool
    status: OfferingStatus
    capacity: int | None
    seats_taken: int
    grade_min: int
    grade_max: int
    tuition_cents: int | None
    fees: list[FeeLineRead] | None
    previous_offering_id: uuid.UUID | None


# -- year rollover -----------------------------------------------------------------------------------


def school_year_first(label: str, field: str) -> int:
    """2026 for '2026-27'; ValueError (a pydantic error on `field`) for anything else."""
    first = school_year_label_start(label)
    if first is None:
        raise ValueError(f"{field} must be a school year such as '2026-27'")
    return first


class RolloverInput(BaseModel):
    from_year: str = Field(description="The school year whose offerings roll over, e.g. '2026-27'.")
    to_year: str = Field(description="The new school year, e.g. '2027-28' (after from_year).")
    org_id: uuid.UUID = Field(description="Org node whose offerings roll over (its whole subtree; from whoami).")
    tuition_change_bp: int = Field(
        default=0,
        ge=-10_000,
        le=10_000,
        description="Tuition change in basis points (350 = +3.5%), rounded half-up; needs financial write.",
    )

    @field_validator("from_year", "to_year")
    @classmethod
    def _school_year(cls, value: str, info: ValidationInfo) -> str:
        school_year_first(value, info.field_name or "year")
        return value


class PlannedOffering(BaseModel):
    from_offering_id: uuid.UUID
    offering_id: uuid.UUID | None = Field(description="The clone's id once it exists (null in a preview).")
    org_id: uuid.UUID
    name: str
    start_on: dt.date
    end_on: dt.date
    dates_from: str = Field(description="'calendar' (the campus's school days), 'shifted' (a year on) or 'existing'.")
    tuition_cents: int | None = Field(description="Null when you may not read financial records there.")
    exists: bool = Field(description="True when an earlier rollover already created it (nothing new).")


class PlannedStint(BaseModel):
    student_id: uuid.UUID
    student_number: int
    name: str
    from_enrollment_id: uuid.UUID
    to_offering_id: uuid.UUID | None
    from_offering_id: uuid.UUID
    grade_level: int = Field(description="The grade of the new stint (one up).")
    start_on: dt.date
    exists: bool = Field(description="True when an earlier rollover already created it (nothing new).")


class NotContinuing(BaseModel):
    student_id: uuid.UUID
    student_number: int
    name: str
    from_enrollment_id: uuid.UUID
    grade_level: int = Field(description="The grade of the stint that ends.")
    reason: str = Field(
        description="graduating (finished the offering's top grade), withdrawn, transferred, "
        "already_enrolled (has a next-year stint of the program), grade_not_offered, or no_seat."
    )
    detail: str


class RolloverPlan(BaseModel):
    from_year: str
    to_year: str
    dry_run: bool = Field(description="True for preview_rollover: nothing was written.")
    offerings: list[PlannedOffering]
    stints: list[PlannedStint]
    not_continuing: list[NotContinuing]
    offerings_created: int
    stints_created: int
    skipped_offerings: list[str] = Field(description="Offerings not rolled over and why (continuous, archived).")
