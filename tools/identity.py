"""whoami: the caller's own identity and scope (open to every authenticated caller)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from domain.identity.schemas import OrgAccess
from domain.identity.service import list_visible_campuses
from policies.scope import Action, Scope
from tools.catalog import ToolContext, ToolInput, tool


class WhoamiInput(ToolInput):
    """No arguments besides `purpose`."""


class RoleRead(BaseModel):
    role: str
    org_path: str


class WhoamiRead(BaseModel):
    email: str
    display_name: str
    kind: str
    roles: list[RoleRead]
    token_scopes: list[str] | None = Field(description="The API key's scopes, or null for an interactive session.")
    readable: dict[str, list[str]] = Field(description="Data class -> org paths you may read.")
    writable: dict[str, list[str]] = Field(description="Data class -> org paths you may change.")
    guide_limited: bool = Field(description="True when student data is limited to your assigned students.")
    campuses: list[OrgAccess] = Field(description="Campuses whose directory you can read (use their org_id).")
    today: str


@tool(data_class=None, title="Who am I")
def whoami(session: Session, scope: Scope, data: WhoamiInput, ctx: ToolContext) -> WhoamiRead:
    """Show who you are acting as, your roles, and what you may read and change, per data class and campus.

    Call it first: it lists the campuses (with org_id) that other tools accept, and today's date.
    """
    principal = ctx.principal
    readable: dict[str, list[str]] = {}
    writable: dict[str, list[str]] = {}
    for key, paths in sorted(scope.summary.items()):
        data_class, _, action = key.partition(":")
        (writable if action == Action.WRITE.value else readable)[data_class] = list(paths)
    return WhoamiRead(
        email=principal.email,
        display_name=principal.display_name,
        kind=principal.kind.value,
        roles=[RoleRead(role=g.role, org_path=g.org_path) for g in principal.grants],
        token_scopes=list(principal.token_scopes) if principal.token_scopes is not None else None,
        readable=readable,
        writable=writable,
        guide_limited=scope.guide_user_id is not None,
        campuses=list_visible_campuses(session, scope),
        today=ctx.today.isoformat(),
    )
