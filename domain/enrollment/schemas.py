"""Inputs and read models of the enrollment area."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, model_validator

from db.models import EnrollmentStatus, OfferingStatus, ProgramKind
from domain.cursor import CURSOR_DESCRIPTION
from domain.paging import MAX_PAGE, Page


class EnrollStudentInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student to enroll (from search_students or get_student).")
    offering_id: uuid.UUID = Field(description="The program offering (from list_offerings).")
    start_on: dt.date | None = Field(
        default=None, description="First day of the stint; defaults to the later of today and the offering start."
    )
    grade_level: int | None = Field(
        default=None, ge=-1, le=12, description="Grade for this stint (K=0, pre-K=-1); defaults to the student's grade."
    )
    reason: str | None = Field(default=None, max_length=300, description="Why the student is enrolled (audit).")


class WithdrawEnrollmentInput(BaseModel):
    enrollment_id: uuid.UUID = Field(description="The stint to end (from query_roster or get_student).")
    end_on: dt.date = Field(description="Last day of attendance in this stint.")
    reason: str = Field(min_length=2, max_length=200, description="Exit reason, e.g. 'moved out of state'.")


class TransferStudentInput(BaseModel):
    enrollment_id: uuid.UUID = Field(description="The active stint the student leaves.")
    to_offering_id: uuid.UUID = Field(description="The offering at the receiving campus (from list_offerings).")
    effective_on: dt.date = Field(description="First day at the receiving campus; the old stint ends the day before.")
    reason: str = Field(default="transfer", min_length=2, max_length=200, description="Why the student moves.")


class ReenrollStudentInput(BaseModel):
    student_id: uuid.UUID = Field(description="A student whose earlier stint has ended.")
    offering_id: uuid.UUID = Field(description="The offering to return to (from list_offerings).")
    start_on: dt.date = Field(description="First day of the new stint.")
    grade_level: int | None = Field(default=None, ge=-1, le=12, description="Grade for the new stint.")
    reason: str | None = Field(default=None, max_length=300, description="Why the student returns (audit).")


class EnrollmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    student_id: uuid.UUID
    offering_id: uuid.UUID
    org_id: uuid.UUID
    grade_level: int
    start_on: dt.date
    end_on: dt.date | None
    status: EnrollmentStatus
    exit_reason: str | None
    previous_enrollment_id: uuid.UUID | None


class TransferResult(BaseModel):
    ended: EnrollmentRead
    started: EnrollmentRead


class RosterQuery(BaseModel):
    org_id: uuid.UUID | None = Field(default=None, description="Campus or any org node; includes everything below it.")
    offering_id: uuid.UUID | None = Field(default=None, description="Only this offering (from list_offerings).")
    program_id: uuid.UUID | None = Field(default=None, description="Only offerings of this program.")
    grade: int | None = Field(default=None, ge=-1, le=12, description="Grade of the stint (K=0, pre-K=-1).")
    status: EnrollmentStatus | None = Field(
        default=None,
        description="Default: stints enrolled on as_of (including ones ended since). 'active': enrolled on as_of "
        "and still active. 'withdrawn', 'transferred' or 'completed': stints "
        "that ended with that status on or before as_of. 'pending': stints not yet started.",
    )
    as_of: dt.date = Field(description="The date the roster describes.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")
    after: str | None = Field(default=None, max_length=2000, description=CURSOR_DESCRIPTION)


class RosterEntry(BaseModel):
    enrollment_id: uuid.UUID
    student_id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    grade_level: int
    org_id: uuid.UUID
    campus: str
    offering_id: uuid.UUID
    offering: str
    program: str
    status: EnrollmentStatus
    start_on: dt.date
    end_on: dt.date | None


class RosterPage(Page):
    """One row per enrollment stint; a student with two stints (main year and a camp) is two rows."""

    as_of: dt.date
    total_enrollments: int = Field(description="Enrollment stints matching the query (the same as total).")
    total_students: int = Field(
        description="Distinct students matching the query, across all pages: the answer to 'how many students'."
    )
    items: list[RosterEntry]
    next_cursor: str | None = Field(
        default=None, description="Pass as after for the next page (keeps every other filter); null on the last page."
    )


class EnrollmentTrendQuery(BaseModel):
    org_id: uuid.UUID | None = Field(
        default=None, description="Org node whose subtree is counted; default: all visible."
    )
    start_month: dt.date = Field(description="First month (any day in it).")
    end_month: dt.date = Field(description="Last month (any day in it), at most 60 months after start_month.")
    by_program: bool = Field(default=False, description="Split each month's count by program.")

    @model_validator(mode="after")
    def _ordered(self) -> EnrollmentTrendQuery:
        if self.end_month < self.start_month:
            raise ValueError("end_month must not be before start_month")
        months = (self.end_month.year - self.start_month.year) * 12 + self.end_month.month - self.start_month.month
        if months > 60:
            raise ValueError("at most 60 months per trend")
        return self


class TrendPoint(BaseModel):
    month: str = Field(description="YYYY-MM")
    period_start: dt.date = Field(description="The month's first day: the first day counted.")
    measured_on: dt.date = Field(description="The last day counted: the month's last day (or today, if earlier).")
    active_students: int = Field(
        description="Distinct students enrolled on any day from period_start through measured_on."
    )
    program: str | None = None


class EnrollmentTrend(BaseModel):
    points: list[TrendPoint]


class OfferingQuery(BaseModel):
    org_id: uuid.UUID | None = Field(default=None, description="Org node; offerings in its subtree.")
    session_label: str | None = Field(default=None, description="e.g. '2026-27' or 'Summer 2026'.")
    status: OfferingStatus | None = Field(default=None, description="planned, open, closed or archived.")
    program_kind: ProgramKind | None = Field(default=None, description="regular_year, camp, online, partner, other.")
    as_of: dt.date = Field(description="Day on which seats taken are counted.")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")


class OfferingRead(BaseModel):
    id: uuid.UUID
    program_id: uuid.UUID
    program: str
    program_kind: ProgramKind
    org_id: uuid.UUID
    campus: str
    name: str
    session_label: str
    start_on: dt.date
    end_on: dt.date | None = Field(description="Last day; null for a continuous offering (rolling enrollment).")
    status: OfferingStatus
    capacity: int | None
    seats_taken: int
    seats_left: int | None
    grade_min: int
    grade_max: int
    tuition_cents: int | None = Field(description="Null when you may not read financial records at this campus.")


class OfferingPage(Page):
    items: list[OfferingRead]
