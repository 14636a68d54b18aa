"""Inputs and read models of the attendance area."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel, Field, model_validator

from db.models import AttendanceStatus
from domain.attendance.rules import CHRONIC_ABSENCE_THRESHOLD, MIN_MEMBERSHIP_DAYS
from domain.paging import MAX_PAGE, Page


class Period(BaseModel):
    start_on: dt.date = Field(description="First day of the period measured (inclusive).")
    end_on: dt.date = Field(description="Last day of the period measured (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        # Tool inputs make both dates optional (defaults come later): compare only when both are given.
        if self.start_on and self.end_on and self.end_on < self.start_on:
            raise ValueError("end_on must not be before start_on")
        return self


class AttendanceSummaryQuery(Period):
    org_id: uuid.UUID | None = Field(
        default=None, description="Campus or any org node; counts enrollments anywhere below it."
    )
    student_id: uuid.UUID | None = Field(default=None, description="Only this student (from search_students).")
    grade: int | None = Field(
        default=None, ge=-1, le=12, description="Only days enrolled in this grade (K=0, pre-K=-1)."
    )
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")


class ChronicAbsenceQuery(Period):
    org_id: uuid.UUID | None = Field(
        default=None, description="Campus or any org node; counts enrollments anywhere below it."
    )
    grade: int | None = Field(
        default=None, ge=-1, le=12, description="Only days enrolled in this grade (K=0, pre-K=-1)."
    )
    threshold: Decimal = Field(
        default=CHRONIC_ABSENCE_THRESHOLD,
        gt=0,
        le=1,
        max_digits=5,
        decimal_places=4,
        description="Attendance rate at or below which a student is chronically absent (0.90 = missing 10%).",
    )
    min_membership_days: int = Field(
        default=MIN_MEMBERSHIP_DAYS,
        ge=1,
        description="Students enrolled for fewer school days in the period are not judged.",
    )
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")


class StudentAttendance(BaseModel):
    student_id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    grade_level: int = Field(description="The student's current grade.")
    org_id: uuid.UUID = Field(description="The student's home campus.")
    membership_days: int = Field(description="School days of an enrolled campus inside an enrollment stint.")
    present_days: int = Field(description="Membership days not absent (tardy days count as present).")
    tardy_days: int
    excused_absence_days: int
    unexcused_absence_days: int
    absent_days: int = Field(description="Excused plus unexcused absences.")
    attendance_rate: float = Field(description="present_days / membership_days, between 0 and 1.")


class AttendanceTotals(BaseModel):
    students: int
    membership_days: int
    present_days: int
    tardy_days: int
    excused_absence_days: int
    unexcused_absence_days: int
    absent_days: int
    attendance_rate: float | None = Field(description="Over all students' membership days; null when none.")


class TransferredAttendance(BaseModel):
    """The attendance a student's record brought from a campus the student transferred from."""

    org_id: uuid.UUID = Field(description="The sending campus.")
    campus: str
    last_day: dt.date = Field(description="The student's last day at the sending campus.")
    membership_days: int
    present_days: int
    tardy_days: int
    excused_absence_days: int
    unexcused_absence_days: int
    absent_days: int
    attendance_rate: float


class AttendanceSummaryPage(Page):
    start_on: dt.date
    end_on: dt.date
    totals: AttendanceTotals = Field(description="Every student matching the query, not just this page.")
    items: list[StudentAttendance]
    transferred_from: list[TransferredAttendance] = Field(
        default_factory=list,
        description="For one student (student_id): the part of the counts above that came with a transfer, per "
        "sending campus. Campus-wide summaries count only the campus's own days.",
    )


class ChronicAbsencePage(Page):
    start_on: dt.date
    end_on: dt.date
    threshold: Decimal
    min_membership_days: int
    items: list[StudentAttendance] = Field(description="Lowest attendance rate first.")


class RecordAttendanceInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students or get_student).")
    day_on: dt.date = Field(description="A school day of the campus the student is enrolled at.")
    status: AttendanceStatus = Field(description="present, tardy, excused_absence or unexcused_absence.")
    note: str | None = Field(default=None, max_length=300, description="Optional note, e.g. 'doctor visit'.")
    reason: str | None = Field(default=None, max_length=300, description="Why the record is set or changed (audit).")


class AttendanceDayRead(BaseModel):
    student_id: uuid.UUID
    org_id: uuid.UUID = Field(description="The campus whose school day this is.")
    day_on: dt.date
    status: AttendanceStatus
    note: str | None
    record_id: int | None = Field(description="The stored record; null for present (no row is kept).")
    changed: bool = Field(description="False when the day already had this status and note.")
