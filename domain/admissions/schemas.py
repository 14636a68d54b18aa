"""Inputs and read models of the admissions pipeline."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from db.models import ApplicationStatus
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


class SubmitApplicationInput(BaseModel):
    student_id: uuid.UUID = Field(description="The applicant's student record.")
    offering_id: uuid.UUID = Field(description="The offering applied for (from list_offerings).")
    applying_for_grade: int = Field(ge=-1, le=12, description="Grade applied for (K=0, pre-K=-1).")
    household_id: uuid.UUID | None = Field(default=None, description="The applicant's household, if known.")
    submitted_on: dt.date = Field(description="The day the application arrived.")
    source: str | None = Field(default=None, max_length=60, description="How the family heard of the school.")


class ApplicationQuery(BaseModel):
    org_id: uuid.UUID | None = Field(default=None, description="Campus or org node (subtree).")
    status: ApplicationStatus | None = Field(default=None, description="Only applications in this stage.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")


class ApplicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    student_id: uuid.UUID
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


class ApplicationPage(Page):
    items: list[ApplicationRead]
    stage_counts: dict[str, int] = Field(description="Applications per stage matching the org filter.")
