"""Inputs and read models of the admissions pipeline."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from db.models import ApplicationStatus, Sex
from domain.admissions.rules import AdmissionsAction
from domain.paging import MAX_PAGE, Page


class AdvanceApplicationInput(BaseModel):
    application_id: uuid.UUID = Field(description="The application (from list_applications).")
    action: AdmissionsAction = Field(
        description="schedule_shadow, complete_shadow, make_offer, accept_offer, decline_offer, reject or withdraw."
    )
    on: dt.date = Field(description="The day the step happens.")
    shadow_day_on: dt.date | None = Field(default=None, description="Required for schedule_shadow: the visit day.")
    offer_expires_on: dt.date | None = Field(
        default=None, description="For make_offer: last day to accept (default 14 days after `on`)."
    )
    start_on: dt.date | None = Field(
        default=None, description="For accept_offer: first day of the enrollment (default: the offering start)."
    )
    note: str | None = Field(default=None, max_length=500, description="Why, for the record.")
    student_id: uuid.UUID | None = Field(
        default=None,
        description="For accept_offer of an applicant without a student record: link this existing student "
        "(from search_students) instead of creating one.",
    )
    confirm_new_person: bool = Field(
        default=False,
        description="For accept_offer: create the student although a record with the same name and birth date "
        "exists (after checking the candidates the refusal named).",
    )


class SubmitApplicationInput(BaseModel):
    """An application for an offering; the applicant need not have a student record yet."""

    offering_id: uuid.UUID = Field(
        description="The offering (campus, program, school year) applied for (list_offerings)."
    )
    applying_for_grade: int = Field(ge=-1, le=12, description="Grade applied for (K=0, pre-K=-1).")
    org_id: uuid.UUID | None = Field(default=None, description="The desired campus; must be the offering's campus.")
    student_id: uuid.UUID | None = Field(
        default=None, description="The applicant's student record, if they already have one (search_students)."
    )
    applicant_first_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="Legal first name."
    )
    applicant_middle_name: str | None = Field(default=None, min_length=1, max_length=100, description="Middle name.")
    applicant_last_name: str | None = Field(default=None, min_length=1, max_length=100, description="Legal last name.")
    applicant_preferred_name: str | None = Field(default=None, min_length=1, max_length=100, description="Goes by.")
    applicant_birth_on: dt.date | None = Field(default=None, description="Date of birth (required without student_id).")
    applicant_sex: Sex | None = Field(default=None, description="female, male or unspecified.")
    guardian_name: str | None = Field(default=None, min_length=1, max_length=200, description="Guardian's name.")
    guardian_email: str | None = Field(default=None, min_length=3, max_length=254, description="Guardian's email.")
    guardian_phone: str | None = Field(default=None, min_length=3, max_length=40, description="Guardian's phone.")
    household_id: uuid.UUID | None = Field(default=None, description="The applicant's household, if known.")
    submitted_on: dt.date | None = Field(default=None, description="The day the application arrived (default today).")
    source: str | None = Field(default=None, max_length=60, description="How the family heard of the school.")


class ApplicationQuery(BaseModel):
    org_id: uuid.UUID | None = Field(default=None, description="Campus or org node (subtree).")
    status: ApplicationStatus | None = Field(default=None, description="Only applications in this stage.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")


class ApplicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    student_id: uuid.UUID | None = Field(description="Null until acceptance creates or links the student.")
    org_id: uuid.UUID
    offering_id: uuid.UUID
    household_id: uuid.UUID | None
    status: ApplicationStatus
    applying_for_grade: int
    submitted_on: dt.date
    shadow_day_on: dt.date | None
    offer_made_on: dt.date | None
    offer_expires_on: dt.date | None
    decided_on: dt.date | None
    enrollment_id: uuid.UUID | None
    applicant_first_name: str | None = None
    applicant_last_name: str | None = None
    applicant_birth_on: dt.date | None = Field(default=None, description="Demographics; null when hidden.")
    guardian_name: str | None = Field(default=None, description="Contact; null when hidden.")
    guardian_email: str | None = Field(default=None, description="Contact; null when hidden.")
    guardian_phone: str | None = Field(default=None, description="Contact; null when hidden.")


class ApplicationPage(Page):
    items: list[ApplicationRead]
    stage_counts: dict[str, int] = Field(description="Applications per stage matching the org filter.")
