"""Admissions tools: the application pipeline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.admissions import service
from domain.admissions.schemas import AdvanceApplicationInput, ApplicationPage, ApplicationQuery, ApplicationRead
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
    accept_offer (enrolls the student in the offering), decline_offer, reject or withdraw.

    application_id comes from list_applications. An invalid step fails with the steps allowed from the
    application's current stage; an expired offer cannot be accepted.
    """
    return service.advance_application(session, scope, data)
