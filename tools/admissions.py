"""Admissions tools: the application pipeline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.admissions import service
from domain.admissions.schemas import (
    AdvanceApplicationInput,
    ApplicationPage,
    ApplicationQuery,
    ApplicationRead,
    SubmitApplicationInput,
)
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, tool


@tool(data_class=DataClass.ADMISSIONS, title="Admissions pipeline")
def list_applications(session: Session, scope: Scope, data: ApplicationQuery, ctx: ToolContext) -> ApplicationPage:
    """List admissions applications (newest first) with the number in each stage of the pipeline.

    Stages: submitted, shadow_scheduled, shadow_completed, offered, accepted, declined, rejected, withdrawn.
    Filter by org_id (a campus) or status. Roster-only schools have no admissions.
    """
    return service.list_applications(session, scope, data)


@tool(data_class=DataClass.ADMISSIONS, action=Action.WRITE, title="Advance an application", idempotent=False)
def advance_application(
    session: Session, scope: Scope, data: AdvanceApplicationInput, ctx: ToolContext
) -> ApplicationRead:
    """Move an application one step: schedule_shadow (needs shadow_day_on), complete_shadow, make_offer,
    accept_offer (enrolls the student; for a new applicant it first creates the student record, refused
    as a duplicate naming candidates unless student_id links one or confirm_new_person), decline_offer,
    reject or withdraw. application_id comes from list_applications. An invalid step fails with the steps
    allowed from the current stage; an expired offer cannot be accepted.
    """
    return service.advance_application(session, scope, data)


@tool(data_class=DataClass.ADMISSIONS, action=Action.WRITE, title="Submit an application", idempotent=False)
def submit_application(
    session: Session, scope: Scope, data: SubmitApplicationInput, ctx: ToolContext
) -> ApplicationRead:
    """Record an admissions application for an offering (offering_id from list_offerings) at a full-SIS campus.

    For a child new to the school give the applicant's names and birth date and a guardian's name with
    email or phone; for a known student give student_id. The student record is created when the offer
    is accepted (advance_application). Roster-only schools have no admissions.
    """
    return service.submit_application(session, scope, data, today=ctx.today)
