"""Enrollment tools: rosters, trends, offerings, and the enrollment writes."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy.orm import Session

from domain.enrollment import service
from domain.enrollment.schemas import (
    EnrollmentRead,
    EnrollmentTrend,
    EnrollmentTrendQuery,
    EnrollStudentInput,
    OfferingPage,
    OfferingQuery,
    ReenrollStudentInput,
    RosterPage,
    RosterQuery,
    TransferResult,
    TransferStudentInput,
    WithdrawEnrollmentInput,
)
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool


class QueryRosterInput(ToolInput, RosterQuery):
    as_of: dt.date | None = Field(default=None, description="The date the roster describes (default: today).")  # type: ignore[assignment]


@tool(data_class=DataClass.DIRECTORY, title="Roster", autocommit_read=True)
def query_roster(session: Session, scope: Scope, data: QueryRosterInput, ctx: ToolContext) -> RosterPage:
    """List the students enrolled on a date, optionally for one campus (org_id), offering, program or grade.

    Use for "who is in 5th grade at Austin?" or "who withdrew this term?" (status='withdrawn').
    org_id comes from whoami (your campuses) or list_offerings; offering_id from list_offerings.
    Rows are stints: for "how many students" read total_students (a student in two offerings is one).
    Paginated: pass next_cursor as after for the next page (or next_offset as offset). An org outside your
    scope is not found.
    """
    return service.query_roster(session, scope, data.as_domain(RosterQuery, as_of=data.as_of or ctx.today))


@tool(data_class=DataClass.DIRECTORY, title="Enrollment trend", autocommit_read=True)
def enrollment_trend(session: Session, scope: Scope, data: EnrollmentTrendQuery, ctx: ToolContext) -> EnrollmentTrend:
    """Count distinct students enrolled on any day of each month for an org subtree (default: all you can see).

    Use for "what's our enrollment trend by month for the past year?": start_month 12 months ago, end_month
    this month. by_program=true splits each month by program. At most 60 months per call.
    """
    return service.enrollment_trend(session, scope, data, today=ctx.today)


class ListOfferingsInput(ToolInput, OfferingQuery):
    as_of: dt.date | None = Field(default=None, description="Day on which seats are counted (default: today).")  # type: ignore[assignment]


@tool(data_class=DataClass.DIRECTORY, title="Program offerings")
def list_offerings(session: Session, scope: Scope, data: ListOfferingsInput, ctx: ToolContext) -> OfferingPage:
    """List program offerings (a program's priced instance for one school year or camp session) with seats left.

    Use it to find an offering_id before enroll_student, or to answer capacity questions. Filter by org_id,
    session_label (e.g. '2026-27'), status or program_kind.
    """
    return service.list_offerings(session, scope, data.as_domain(OfferingQuery, as_of=data.as_of or ctx.today))


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Enroll a student", idempotent=False)
def enroll_student(session: Session, scope: Scope, data: EnrollStudentInput, ctx: ToolContext) -> EnrollmentRead:
    """Enroll a student in a program offering, starting on start_on (default: today or the offering start).

    student_id comes from search_students; offering_id from list_offerings. Fails when the offering is not
    open, is full, does not offer the grade, or the student already has a stint in it. A student may hold
    stints in different offerings at once (main year plus a camp).
    """
    return service.enroll_student(session, scope, data, today=ctx.today)


@tool(
    data_class=DataClass.DIRECTORY,
    action=Action.WRITE,
    title="Withdraw an enrollment",
    destructive=True,
    idempotent=False,
)
def withdraw_enrollment(
    session: Session, scope: Scope, data: WithdrawEnrollmentInput, ctx: ToolContext
) -> EnrollmentRead:
    """End an active enrollment stint on end_on with an exit reason; its history is kept.

    enrollment_id comes from query_roster or get_student. Fails when the stint has already ended.
    To move a student to another campus use transfer_student instead.
    """
    return service.withdraw_enrollment(session, scope, data)


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Transfer a student", idempotent=False)
def transfer_student(session: Session, scope: Scope, data: TransferStudentInput, ctx: ToolContext) -> TransferResult:
    """Move a student to an offering at another campus: the old stint ends the day before effective_on.

    enrollment_id from query_roster or get_student; to_offering_id from list_offerings. You need write
    access at both campuses.
    """
    return service.transfer_student(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Re-enroll a student", idempotent=False)
def reenroll_student(session: Session, scope: Scope, data: ReenrollStudentInput, ctx: ToolContext) -> EnrollmentRead:
    """Start a new stint for a student whose earlier stint ended; old stints are never reactivated.

    Fails when the student has never left (use enroll_student) or the new stint would overlap an old one.
    """
    return service.reenroll_student(session, scope, data, today=ctx.today)
