"""Inputs and read models of the behavior area."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field, model_validator

from db.models import Severity
from domain.paging import MAX_PAGE, Page


class BehaviorIncidentQuery(BaseModel):
    org_id: uuid.UUID | None = Field(default=None, description="Campus or any org node; includes everything below it.")
    student_id: uuid.UUID | None = Field(default=None, description="Only this student (from search_students).")
    start_on: dt.date | None = Field(default=None, description="Incidents on or after this day.")
    end_on: dt.date | None = Field(default=None, description="Incidents on or before this day.")
    min_severity: Severity | None = Field(
        default=None, description="Lowest severity kept: low < medium < high < critical."
    )
    category: str | None = Field(
        default=None, max_length=60, description="Only this category (case-insensitive), e.g. 'disruption'."
    )
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")

    @model_validator(mode="after")
    def _ordered(self) -> BehaviorIncidentQuery:
        if self.start_on is not None and self.end_on is not None and self.end_on < self.start_on:
            raise ValueError("end_on must not be before start_on")
        return self


class BehaviorIncidentRead(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    org_id: uuid.UUID
    occurred_on: dt.date
    category: str
    severity: Severity
    description: str
    action_taken: str | None
    reported_by_user_id: uuid.UUID | None
    recorded_at: dt.datetime
    transferred_from: str | None = Field(
        default=None,
        description="The sending campus, when the incident is part of the record that came with a transfer.",
    )


class BehaviorIncidentPage(Page):
    items: list[BehaviorIncidentRead] = Field(description="Newest first.")


class RecordBehaviorIncidentInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student involved (from search_students or get_student).")
    occurred_on: dt.date = Field(description="The day it happened; today or earlier.")
    category: str = Field(min_length=1, max_length=60, description="e.g. 'disruption', 'bullying', 'tardiness'.")
    severity: Severity = Field(description="low, medium, high or critical.")
    description: str = Field(min_length=1, max_length=5000, description="What happened, factually.")
    action_taken: str | None = Field(default=None, max_length=5000, description="Response, e.g. 'parent conference'.")
    reason: str | None = Field(default=None, max_length=300, description="Why it is recorded (audit).")
