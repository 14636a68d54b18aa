"""Student directory reads: search results and the profile, with fields masked by data class."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

from domain.cursor import CURSOR_DESCRIPTION
from domain.enrollment.schemas import EnrollmentRead
from domain.paging import MAX_PAGE, Page


class StudentSearchQuery(BaseModel):
    text: str | None = Field(
        default=None, max_length=100, description="Part of a first, last or preferred name, or a student number."
    )
    org_id: uuid.UUID | None = Field(default=None, description="Only students whose home campus is in this subtree.")
    grade: int | None = Field(default=None, ge=-1, le=12, description="Current grade (K=0, pre-K=-1).")
    include_inactive: bool = Field(
        default=False, description="Also list deactivated students (merged records are never listed)."
    )
    limit: int = Field(default=25, ge=1, le=MAX_PAGE, description="Page size.")
    offset: int = Field(default=0, ge=0, description="Rows to skip.")
    after: str | None = Field(default=None, max_length=2000, description=CURSOR_DESCRIPTION)


class StudentSummary(BaseModel):
    id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    preferred_name: str | None
    grade_level: int
    org_id: uuid.UUID
    campus: str
    is_active: bool = Field(default=True, description="False once deactivated (deactivate_student).")
    note: str | None = Field(
        default=None, description="Why this row answered, e.g. 'student number 100123 was merged into this record'."
    )


class StudentPage(Page):
    items: list[StudentSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as after for the next page (keeps every other filter); null on the last page."
    )


class StudentEnrollment(EnrollmentRead):
    campus: str = Field(description="The campus of this stint.")
    transferred_from: str | None = Field(
        default=None,
        description="The sending campus, when this stint is part of the record that came with a transfer; "
        "null for stints of the student's current campus.",
    )


class IdentifierRead(BaseModel):
    system: str = Field(description="The system the id belongs to, e.g. state, oneroster, partner:lakeside.")
    value: str


class MergedRecord(BaseModel):
    student_id: uuid.UUID
    student_number: int


class StudentProfile(StudentSummary):
    middle_name: str | None = Field(default=None, description="Legal middle name.")
    identifiers: list[IdentifierRead] = Field(
        default_factory=list, description="Ids in other systems (state, oneroster, partner:...)."
    )
    inactive_reason: str | None = Field(default=None, description="Why the record was deactivated.")
    resolved_from: MergedRecord | None = Field(
        default=None, description="Set when you asked for a merged record: the id and number you asked for."
    )
    merged_records: list[MergedRecord] = Field(
        default_factory=list, description="Records merged into this one (their old ids and numbers resolve here)."
    )
    races: list[str] | None = Field(default=None, description="Demographics; null when hidden or not reported.")
    hispanic_latino: bool | None = Field(default=None, description="Demographics; null when hidden or not reported.")
    home_language: str | None = Field(default=None, description="Demographics; null when hidden or not reported.")
    birth_on: dt.date | None = Field(description="Demographics; null when hidden from the caller.")
    sex: str | None = Field(description="Demographics; null when hidden.")
    ethnicity: str | None = Field(description="Demographics; null when hidden.")
    email: str | None = Field(description="Contact; null when hidden.")
    phone: str | None = Field(description="Contact; null when hidden.")
    address: str | None = Field(description="Contact; null when hidden.")
    enrollments: list[StudentEnrollment] = Field(
        description="Every stint visible to the caller, newest first, including prior campuses' stints that came "
        "with a transfer (marked transferred_from)."
    )
    household_ids: list[uuid.UUID]
    hidden: list[str] = Field(description="Data classes withheld from this answer for the caller's role.")
