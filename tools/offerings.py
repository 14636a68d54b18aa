"""Program and offering tools: the catalog a school runs, and the year rollover that renews it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.enrollment import offerings, rollover
from domain.enrollment.offering_schemas import (
    CloseOfferingInput,
    CreateOfferingInput,
    CreateProgramInput,
    OfferingDetail,
    ProgramRead,
    RolloverInput,
    RolloverPlan,
    UpdateOfferingInput,
)
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, tool

ADMIN = DataClass.ADMINISTRATION


@tool(data_class=ADMIN, action=Action.WRITE, title="Create a program", idempotent=False)
def create_program(session: Session, scope: Scope, data: CreateProgramInput, ctx: ToolContext) -> ProgramRead:
    """Create an enduring program (e.g. 'Alpha Academy Regular Year', a summer camp) at an org node.

    Define it at a brand to share it with every campus below, or at one campus. org_id comes from
    whoami. Then create_offering gives it a year or session at a campus. Fails when the code is
    already used at that org, the org is closed, or it is outside your administration scope.
    """
    return offerings.create_program(session, scope, data)


@tool(data_class=ADMIN, action=Action.WRITE, title="Create an offering", idempotent=False)
def create_offering(session: Session, scope: Scope, data: CreateOfferingInput, ctx: ToolContext) -> OfferingDetail:
    """Create a program's offering at a campus for a school year or session (or continuous, with no end).

    program_id from create_program or list_offerings; org_id is the program's org or a campus below it.
    Tuition and fee lines only at FULL_SIS campuses, and they need financial write there. Fails on an
    end before the start, grades outside -1..12 or reversed, or a closed or out-of-scope org.
    """
    return offerings.create_offering(session, scope, data, today=ctx.today)


@tool(data_class=ADMIN, action=Action.WRITE, title="Update an offering", idempotent=True)
def update_offering(session: Session, scope: Scope, data: UpdateOfferingInput, ctx: ToolContext) -> OfferingDetail:
    """Change an offering's name, dates, grade band, capacity, status (planned/open/closed) or tuition.

    Only the fields you give change (end_on null: continuous; capacity null: unlimited). offering_id
    from list_offerings. Fails when capacity would fall below the seats taken, the grades or dates
    would exclude enrolled students, or (tuition) the campus is roster-only or you lack financial write.
    """
    return offerings.update_offering(session, scope, data, today=ctx.today)


@tool(data_class=ADMIN, action=Action.WRITE, title="Close an offering", idempotent=False)
def close_offering(session: Session, scope: Scope, data: CloseOfferingInput, ctx: ToolContext) -> OfferingDetail:
    """Close an offering to new enrollments; students already enrolled keep their stints.

    offering_id from list_offerings. Fails when it is already closed or archived, or outside your scope.
    To reopen it, update_offering with status 'open'.
    """
    return offerings.close_offering(session, scope, data, today=ctx.today)


@tool(data_class=ADMIN, title="Preview a year rollover")
def preview_rollover(session: Session, scope: Scope, data: RolloverInput, ctx: ToolContext) -> RolloverPlan:
    """Show what run_rollover would create for an org subtree, writing nothing.

    Lists the next year's offerings (dates from the campus calendar or shifted a year, prices), the
    next-grade stints of continuing students, and who does not continue and why. org_id from whoami.
    Needs administration write where the offerings are; fails when no offerings carry from_year.
    """
    return rollover.plan_rollover(session, scope, data, apply=False)


@tool(data_class=ADMIN, action=Action.WRITE, title="Run a year rollover", idempotent=True)
def run_rollover(session: Session, scope: Scope, data: RolloverInput, ctx: ToolContext) -> RolloverPlan:
    """Clone from_year's offerings into to_year and enroll continuing students one grade up, all or nothing.

    Exactly what preview_rollover shows; running it again creates nothing new. The new stints start
    on the new year's first day. Needs administration and directory write at the campuses (financial
    write for a tuition change). org_id from whoami.
    """
    return rollover.plan_rollover(session, scope, data, apply=True, progress=ctx.progress, today=ctx.today)
