"""People and access tools: users, role grants, guide assignments, API keys (domain/access).

The domain never reads the policy, so the bounds it enforces come from here: what a grant would
reach (a hypothetical principal's Scope through policies/authorize.py) compared with the
caller's own Scope, whether the caller is a network administrator at the root, and what the
calling key's token scopes allow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pydantic import Field
from sqlalchemy.orm import Session

from domain.access import grants, guides, keys, users
from domain.access.schemas import (
    ApiKeyList,
    ApiKeyQuery,
    ApiKeyRead,
    AssignGuideInput,
    CreateApiKeyInput,
    CreatedApiKey,
    CreateUserInput,
    DeactivateUserInput,
    EndGuideAssignmentInput,
    GrantRoleInput,
    GuideAssignmentRead,
    RevokeApiKeyInput,
    RevokeRoleInput,
    RoleGrantPage,
    RoleGrantQuery,
    RoleGrantRead,
    SetApiKeyLimitsInput,
    UpdateUserInput,
    UserRead,
)
from policies.authorize import build_scope
from policies.enforcer import Role
from policies.principal import Grant, Principal, PrincipalKind, UnknownTokenScope, token_permissions
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool

# The hypothetical holder of the grants being compared: one fixed identity, so decisions are reused.
_SOMEONE = uuid.UUID(int=0)


def _excess(session: Session, scope: Scope, ctx: ToolContext) -> users.Excess:
    """(role, org id, org path) grants -> the (data class, action) pairs they reach beyond the caller's scope."""

    def excess(held: Sequence[tuple[str, uuid.UUID, str]]) -> list[tuple[DataClass, Action]]:
        if not held:
            return []
        holder = Principal(
            user_id=_SOMEONE,
            email="",
            display_name="",
            kind=PrincipalKind.USER,
            grants=tuple(sorted(Grant(role, org_id, path) for role, org_id, path in held)),
        )
        reach = build_scope(session, ctx.enforcer, holder)
        return sorted(key for key, ids in reach.grants.items() if ids - scope.orgs(*key))

    return excess


def _network_admin(principal: Principal) -> bool:
    """True when the caller holds network_admin at the root and its key is not limited below the root."""
    return any(
        g.role == Role.NETWORK_ADMIN
        and g.org_path.strip("/").count("/") == 0
        and principal.org_limit_path in (None, g.org_path)
        for g in principal.grants
    )


def _authority(session: Session, scope: Scope, ctx: ToolContext) -> grants.GrantAuthority:
    return grants.GrantAuthority(
        known_roles=frozenset(r.value for r in Role),
        excess=_excess(session, scope, ctx),
        network_admin=_network_admin(ctx.principal),
    )


def _read_only(principal: Principal) -> bool:
    if principal.token_scopes is None:
        return False
    return not any(act is Action.WRITE for _, act in token_permissions(principal.token_scopes))


def _bounds(principal: Principal) -> keys.KeyBounds:
    def refuse(names: Sequence[str]) -> str | None:
        try:
            wanted = token_permissions(tuple(names))
        except UnknownTokenScope as err:
            return str(err)
        if principal.token_scopes is not None and not wanted <= token_permissions(principal.token_scopes):
            return (
                f"a key you create may only narrow your own key's scopes ({', '.join(principal.token_scopes)}); "
                f"asked for {', '.join(sorted(set(names)))}"
            )
        return None

    return keys.KeyBounds(
        refuse_scopes=refuse,
        network_admin=_network_admin(principal),
        org_limit_id=principal.org_limit_id,
        read_only=_read_only(principal),
    )


def _stale(session: Session, ctx: ToolContext, user_id: uuid.UUID) -> None:
    """The user's keys must be verified afresh on their next request (their owner or grants changed)."""
    ctx.stale_keys.update(users.key_prefixes_of(session, user_id))


# -- users -----------------------------------------------------------------------------------


@tool(data_class=DataClass.ADMINISTRATION, action=Action.WRITE, title="Create a user", idempotent=False)
def create_user(session: Session, scope: Scope, data: CreateUserInput, ctx: ToolContext) -> UserRead:
    """Create a staff member, guardian or integration client (kind) who belongs to org_id.

    Then give staff a role with grant_role. org_id comes from whoami (an org you administer).
    Fails when the email is taken (field email), is not an email, or the org is not yours to administer.
    """
    return users.create_user(session, scope, data)


@tool(data_class=DataClass.ADMINISTRATION, action=Action.WRITE, title="Update a user", idempotent=True)
def update_user(session: Session, scope: Scope, data: UpdateUserInput, ctx: ToolContext) -> UserRead:
    """Change a user's email, display name or phone (omitted fields stay; phone=null clears it).

    user_id comes from create_user or list_role_grants. Fails for a user outside your administration
    scope (not found) or one whose grants are wider than yours.
    """
    result = users.update_user(session, scope, data, excess=_excess(session, scope, ctx), today=ctx.today)
    _stale(session, ctx, data.user_id)
    return result


@tool(
    data_class=DataClass.ADMINISTRATION,
    action=Action.WRITE,
    title="Deactivate a user",
    destructive=True,
    idempotent=False,
)
def deactivate_user(session: Session, scope: Scope, data: DeactivateUserInput, ctx: ToolContext) -> UserRead:
    """Deactivate a user who leaves: they cannot sign in any more and their API keys are revoked.

    Their records and grant history stay. Fails for yourself, an already inactive user, the last
    network administrator, or a user whose grants are wider than yours.
    """
    result = users.deactivate_user(session, scope, data, excess=_excess(session, scope, ctx), today=ctx.today)
    _stale(session, ctx, data.user_id)
    return result


# -- role grants -----------------------------------------------------------------------------


class GrantRoleToolInput(ToolInput, GrantRoleInput):
    role: Role = Field(description="The role to grant; what each may do is the policy matrix (policy.csv).")


@tool(data_class=DataClass.ADMINISTRATION, action=Action.WRITE, title="Grant a role", idempotent=False)
def grant_role(session: Session, scope: Scope, data: GrantRoleToolInput, ctx: ToolContext) -> RoleGrantRead:
    """Give a user a role at an org node (a campus, a brand, or the network root); it covers the subtree.

    user_id from create_user; org_id from whoami. You cannot grant a role that allows anything your own
    grants there do not (a campus director cannot make a finance officer); only network administrators
    grant at the root; a guide is granted at a campus. expires_on is optional.
    """
    domain = data.as_domain(GrantRoleInput, role=data.role.value)
    result = grants.grant_role(session, scope, domain, authority=_authority(session, scope, ctx), today=ctx.today)
    _stale(session, ctx, result.user_id)
    return result


@tool(
    data_class=DataClass.ADMINISTRATION, action=Action.WRITE, title="Revoke a role", destructive=True, idempotent=False
)
def revoke_role(session: Session, scope: Scope, data: RevokeRoleInput, ctx: ToolContext) -> RoleGrantRead:
    """End a role grant now; the grant stays listed as revoked (history), with who revoked it and why.

    grant_id from list_role_grants. Refused for grants wider than yours, at the root unless you are a
    network administrator, and for the network's last administrator.
    """
    result = grants.revoke_role(session, scope, data, authority=_authority(session, scope, ctx), today=ctx.today)
    _stale(session, ctx, result.user_id)
    return result


@tool(data_class=DataClass.ADMINISTRATION, title="Role grants")
def list_role_grants(session: Session, scope: Scope, data: RoleGrantQuery, ctx: ToolContext) -> RoleGrantPage:
    """List who holds which role where: grants at an org's subtree (org_id) and/or of one user (user_id).

    Only grants in force unless include_inactive=true (then revoked and expired ones too, as history).
    Use it to find a grant_id for revoke_role or a user_id for update_user.
    """
    return grants.list_role_grants(session, scope, data, today=ctx.today)


# -- guide assignments -----------------------------------------------------------------------


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Assign a guide", idempotent=False)
def assign_guide(session: Session, scope: Scope, data: AssignGuideInput, ctx: ToolContext) -> GuideAssignmentRead:
    """Assign a guide to coach one student from start_on (optionally to end_on); guides see only such students.

    student_id from search_students; guide_user_id is a user holding a guide grant at the student's campus
    (list_role_grants role guide). Fails on an overlapping assignment of the same pair.
    """
    return guides.assign_guide(session, scope, data)


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="End a guide assignment", idempotent=False)
def end_guide_assignment(
    session: Session, scope: Scope, data: EndGuideAssignmentInput, ctx: ToolContext
) -> GuideAssignmentRead:
    """Set the last day of a guide assignment (assignment_id from assign_guide).

    Fails when end_on is before the assignment's start or it already ends on or before end_on.
    """
    return guides.end_guide_assignment(session, scope, data)


# -- API keys --------------------------------------------------------------------------------


@tool(data_class=None, action=Action.WRITE, title="Create an API key", idempotent=False, returns_secret=True)
def create_api_key(session: Session, scope: Scope, data: CreateApiKeyInput, ctx: ToolContext) -> CreatedApiKey:
    """Create an API key and return it once (field api_key): store it, it cannot be shown again.

    The key acts for its owner (you, or as a network administrator another user_id) narrowed by scopes
    (roster.readonly, sis.read, sis.write, audit.read) and org_id; it never has scopes your own key lacks.
    A read-only key cannot create keys.
    """
    return keys.create_api_key(session, scope, data, bounds=_bounds(ctx.principal))


@tool(data_class=None, action=Action.WRITE, title="Revoke an API key", destructive=True, idempotent=False)
def revoke_api_key(session: Session, scope: Scope, data: RevokeApiKeyInput, ctx: ToolContext) -> ApiKeyRead:
    """Revoke an API key at once (key_id from list_api_keys): your own, or one of a user you administer.

    Requests presenting it are refused from the next call on. A read-only key cannot revoke keys.
    """
    result = keys.revoke_api_key(
        session,
        scope,
        data,
        excess=_excess(session, scope, ctx),
        today=ctx.today,
        read_only=_read_only(ctx.principal),
    )
    ctx.stale_keys.add(result.prefix)
    return result


@tool(data_class=None, action=Action.WRITE, title="Set an API key's rate limits", idempotent=True)
def set_api_key_limits(session: Session, scope: Scope, data: SetApiKeyLimitsInput, ctx: ToolContext) -> ApiKeyRead:
    """Set an API key's own calls per minute, per day and per month (null: the plan default; 0: unlimited).

    For keys of users you administer, never your own. Over a limit, calls get 429 with Retry-After and
    RateLimit-* headers (MCP: a tool error saying when to retry). Applies within the auth cache's lifetime.
    """
    result = keys.set_api_key_limits(
        session,
        scope,
        data,
        excess=_excess(session, scope, ctx),
        today=ctx.today,
        read_only=_read_only(ctx.principal),
    )
    ctx.stale_keys.add(result.prefix)
    return result


@tool(data_class=None, title="API keys")
def list_api_keys(session: Session, scope: Scope, data: ApiKeyQuery, ctx: ToolContext) -> ApiKeyList:
    """List API keys: yours, and those of users you administer: prefix, name, scopes, created, last used, revoked.

    Never the key itself. Use key_id with revoke_api_key.
    """
    return keys.list_api_keys(session, scope, data)
