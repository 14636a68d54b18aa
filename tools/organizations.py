"""Organization tools: the org tree (brands, campuses, programs) and campus school calendars."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from domain.org import calendars, writes
from domain.org.schemas import (
    ClosedOrganizations,
    CloseOrganizationInput,
    CreateOrganizationInput,
    GetOrganizationInput,
    GetSchoolCalendarInput,
    OrganizationPage,
    OrganizationQuery,
    OrganizationRead,
    SchoolCalendarRead,
    SchoolCalendarSet,
    SetSchoolCalendarInput,
    UpdateOrganizationInput,
)
from policies.enforcer import Role
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, tool

ADMIN = DataClass.ADMINISTRATION


def _network_admin_orgs(ctx: ToolContext) -> frozenset[uuid.UUID]:
    """Where the caller holds network_admin (creating or moving orgs right under the root needs it there)."""
    return frozenset(g.org_id for g in ctx.principal.grants if g.role == Role.NETWORK_ADMIN)


@tool(data_class=ADMIN, title="Organizations")
def list_organizations(session: Session, scope: Scope, data: OrganizationQuery, ctx: ToolContext) -> OrganizationPage:
    """List the organizations (network, brands, campuses, programs) you administer or may read, by path.

    Use it to find an org_id or parent_id for the other organization tools. Filter by org_id (that org's
    subtree), level ('campus') or include_closed=false. Closed orgs are listed with is_active false.
    """
    return writes.list_organizations(session, scope, data)


@tool(data_class=ADMIN, title="Organization")
def get_organization(session: Session, scope: Scope, data: GetOrganizationInput, ctx: ToolContext) -> OrganizationRead:
    """Show one organization: name, slug, path, level, kind, jurisdiction, timezone, open or closed.

    org_id comes from list_organizations or whoami. An org outside your scope is not found.
    """
    return writes.get_organization(session, scope, data.org_id)


@tool(data_class=ADMIN, action=Action.WRITE, title="Create an organization", idempotent=False)
def create_organization(
    session: Session, scope: Scope, data: CreateOrganizationInput, ctx: ToolContext
) -> OrganizationRead:
    """Create a brand (under the network), a campus (under a brand or the network) or a program (under a campus).

    parent_id comes from list_organizations. jurisdiction like 'US-FL' (stored 'FL'), timezone like
    'America/New_York'; both default from above. Fails when the level does not fit under the parent,
    the slug is taken there, FULL_SIS is asked below a ROSTER_ONLY org, or the parent is closed.
    """
    return writes.create_organization(session, scope, data, network_admin_orgs=_network_admin_orgs(ctx))


@tool(data_class=ADMIN, action=Action.WRITE, title="Update an organization", idempotent=False)
def update_organization(
    session: Session, scope: Scope, data: UpdateOrganizationInput, ctx: ToolContext
) -> OrganizationRead:
    """Change an organization's name, timezone, jurisdiction or kind, or move it (new parent_id or slug).

    A move carries everything below the org along (their paths change; grants at those orgs stay with
    them) and needs administration rights at the org above it. Fails on a move under itself, a level
    that does not fit, a taken slug, or a kind change once anyone was enrolled there.
    """
    return writes.update_organization(session, scope, data, network_admin_orgs=_network_admin_orgs(ctx))


@tool(data_class=ADMIN, action=Action.WRITE, title="Close an organization", idempotent=False, destructive=True)
def close_organization(
    session: Session, scope: Scope, data: CloseOrganizationInput, ctx: ToolContext
) -> ClosedOrganizations:
    """Close an organization and every open org below it on closed_on (default today); nothing is deleted.

    Closed orgs keep their history and stay readable; nothing new can be created there. Fails while any
    of them has active or pending enrollment stints (withdraw or transfer them first), and for the root.
    """
    return writes.close_organization(session, scope, data, today=ctx.today)


@tool(data_class=ADMIN, action=Action.WRITE, title="Set a school calendar", idempotent=True)
def set_school_calendar(
    session: Session, scope: Scope, data: SetSchoolCalendarInput, ctx: ToolContext
) -> SchoolCalendarSet:
    """Set a campus's school days for one school year: first and last day, weekdays taught, holidays and closures.

    Replaces that year's earlier school days; attendance rates and chronic absence count these days.
    org_id is a campus from list_organizations. Fails when a day lies outside the school year, last_day
    is before first_day, a closure lies outside first_day..last_day, or the org is not an open campus.
    """
    return calendars.set_school_calendar(session, scope, data)


@tool(data_class=ADMIN, title="School calendar")
def get_school_calendar(
    session: Session, scope: Scope, data: GetSchoolCalendarInput, ctx: ToolContext
) -> SchoolCalendarRead:
    """Show a campus's school calendar for one school year ('2026-27'): first and last day, closures, day count.

    org_id is a campus from list_organizations or whoami. Not found when the campus has no school days that year.
    """
    return calendars.get_school_calendar(session, scope, data)
