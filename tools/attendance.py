"""Attendance tools: rates over enrolled school days, chronic absence, and daily records."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy.orm import Session

from domain.attendance import service
from domain.attendance.schemas import (
    AttendanceDayRead,
    AttendanceSummaryPage,
    AttendanceSummaryQuery,
    ChronicAbsencePage,
    ChronicAbsenceQuery,
    RecordAttendanceInput,
)
from domain.calendar import school_year_start
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool


class AttendanceSummaryInput(ToolInput, AttendanceSummaryQuery):
    start_on: dt.date | None = Field(default=None, description="First day (default: start of this school year).")  # type: ignore[assignment]
    end_on: dt.date | None = Field(default=None, description="Last day (default: today).")  # type: ignore[assignment]


def _period(data: AttendanceSummaryInput | ChronicAbsenceInput, today: dt.date) -> dict[str, dt.date]:
    return {"start_on": data.start_on or school_year_start(today), "end_on": data.end_on or today}


@tool(data_class=DataClass.ATTENDANCE, title="Attendance summary")
def attendance_summary(
    session: Session, scope: Scope, data: AttendanceSummaryInput, ctx: ToolContext
) -> AttendanceSummaryPage:
    """Attendance rate per student over a period: membership days (school days while enrolled), days present,
    tardy, excused and unexcused absences; plus totals. Filter by org_id, student_id or grade.
    """
    query = data.as_domain(AttendanceSummaryQuery, **_period(data, ctx.today))
    return service.attendance_summary(session, scope, query)


class ChronicAbsenceInput(ToolInput, ChronicAbsenceQuery):
    start_on: dt.date | None = Field(default=None, description="First day (default: start of this school year).")  # type: ignore[assignment]
    end_on: dt.date | None = Field(default=None, description="Last day (default: today).")  # type: ignore[assignment]


@tool(data_class=DataClass.ATTENDANCE, title="Chronic absence")
def find_chronic_absence(
    session: Session, scope: Scope, data: ChronicAbsenceInput, ctx: ToolContext
) -> ChronicAbsencePage:
    """List students who missed 10% or more of their enrolled school days (rate at or below 90%), worst first.

    Excused and unexcused absences both count; tardies do not. Students with fewer than min_membership_days
    enrolled days are not flagged.
    """
    query = data.as_domain(ChronicAbsenceQuery, **_period(data, ctx.today))
    return service.find_chronic_absence(session, scope, query)


@tool(data_class=DataClass.ATTENDANCE, action=Action.WRITE, title="Record attendance", idempotent=True)
def record_attendance(
    session: Session, scope: Scope, data: RecordAttendanceInput, ctx: ToolContext
) -> AttendanceDayRead:
    """Set a student's attendance for one school day: present, tardy, excused_absence or unexcused_absence.

    Fails when the day is not a school day of the student's campus or the student was not enrolled that day.
    Setting the same status again changes nothing.
    """
    return service.record_attendance(session, scope, data)
