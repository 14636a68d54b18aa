"""Role grants: who holds which role where. Granting is bounded by the granter's own grants.

Rules (docs/running/access.md):
- the caller needs administration write at the org;
- the grant may not reach any (data class, action) at any org the caller's own scope lacks
  (`Excess`, computed by the tool layer from the policy): a campus director, who reads financial
  records, cannot make anyone a finance officer, who writes them;
- only network administrators grant at the network root;
- a guide grant is made at a campus (guides coach students of one campus);
- revoking keeps the row (revoked_at, revoked_by_user_id): history, not a delete.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import Organization, OrgLevel, RoleGrant, User, UserKind
from domain.access.errors import GrantRevoked, GrantTooWide, UserInactive
from domain.access.schemas import (
    GrantRoleInput,
    GrantStatus,
    RevokeRoleInput,
    RoleGrantPage,
    RoleGrantQuery,
    RoleGrantRead,
)
from domain.access.users import (
    ADMIN,
    NETWORK_ADMIN,
    Excess,
    admin_org,
    describe,
    refuse_last_administrator,
    visible_user,
)
from domain.audit.changes import record_changes
from domain.errors import DuplicateRecord, InvalidInput, NotFound, PermissionDenied
from domain.events import emit_event
from domain.paging import page_meta
from domain.visibility import org_condition
from policies.scope import Action, Scope

GUIDE = "guide"


@dataclass(frozen=True)
class GrantAuthority:
    """What the policy says about the caller, which the domain may not read itself (tools/access.py builds it)."""

    known_roles: frozenset[str]
    excess: Excess
    # The caller holds network_admin at the network root (and its credential is not narrowed below it).
    network_admin: bool


def _check_authority(org: Organization, role: str, authority: GrantAuthority, verb: str) -> None:
    if org.parent_id is None and not authority.network_admin:
        raise PermissionDenied(f"only network administrators {verb} roles at the network root", field="org_id")
    wider = authority.excess([(role, org.id, org.path)])
    if wider:
        raise GrantTooWide(
            f"you may not {verb} {role} at {org.name}: it allows {describe(wider)}, which your own grants there "
            "do not cover",
            field="role",
        )


def _status(grant: RoleGrant, today: dt.date) -> GrantStatus:
    if grant.revoked_at is not None:
        return GrantStatus.REVOKED
    if grant.expires_on is not None and grant.expires_on < today:
        return GrantStatus.EXPIRED
    return GrantStatus.ACTIVE


def _read(scope: Scope, grant: RoleGrant, user: User, org: Organization, today: dt.date) -> RoleGrantRead:
    return RoleGrantRead(
        grant_id=grant.id,
        user_id=user.id,
        user_email=None if scope.hides("user_account", "email") else user.email,
        user_display_name=user.display_name,
        user_is_active=user.is_active,
        role=grant.role,
        org_id=org.id,
        org_path=org.path,
        org_name=org.name,
        status=_status(grant, today),
        granted_at=grant.granted_at,
        granted_by_user_id=grant.granted_by_user_id,
        expires_on=grant.expires_on,
        revoked_at=grant.revoked_at,
        revoked_by_user_id=grant.revoked_by_user_id,
    )


def _payload(grant: RoleGrant) -> dict[str, object]:
    return {
        "grant_id": grant.id,
        "user_id": grant.user_id,
        "role": grant.role,
        "org_id": grant.org_id,
        "expires_on": grant.expires_on,
        "revoked_at": grant.revoked_at,
    }


def grant_role(
    session: Session, scope: Scope, data: GrantRoleInput, *, authority: GrantAuthority, today: dt.date
) -> RoleGrantRead:
    """Give a user a role at an org node.

    Raises:
        NotFound (user, org), PermissionDenied, GrantTooWide, InvalidInput, UserInactive, DuplicateRecord.
    """
    if data.role not in authority.known_roles:
        raise InvalidInput(
            f"unknown role {data.role!r}; known: {', '.join(sorted(authority.known_roles))}", field="role"
        )
    org = admin_org(session, scope, data.org_id, Action.WRITE)
    user = visible_user(session, scope, data.user_id)
    if user.kind in (UserKind.GUARDIAN, UserKind.STUDENT):
        raise InvalidInput(
            f"{user.display_name} is a {user.kind.value}; staff roles go to staff and clients", field="user_id"
        )
    if not user.is_active:
        raise UserInactive(f"{user.display_name} is deactivated", field="user_id")
    if data.role == GUIDE and org.level is not OrgLevel.CAMPUS:
        raise InvalidInput(f"a guide is granted at a campus; {org.name} is a {org.level.value}", field="org_id")
    if data.expires_on is not None and data.expires_on < today:
        raise InvalidInput(f"expires_on {data.expires_on} is in the past", field="expires_on")
    _check_authority(org, data.role, authority, "grant")
    current = session.execute(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id,
            RoleGrant.role == data.role,
            RoleGrant.org_id == org.id,
            RoleGrant.revoked_at.is_(None),
        )
    ).scalar_one_or_none()
    now = utcnow()
    if current is not None:
        if _status(current, today) is GrantStatus.ACTIVE:
            raise DuplicateRecord(
                f"{user.display_name} already holds {data.role} at {org.name} (grant {current.id})", field="role"
            )
        # An expired grant is closed as history so that the new one is the one in force.
        current.revoked_at, current.revoked_by_user_id = now, scope.actor.user_id
        record_changes(session, scope, current, reason="expired grant renewed")
        session.flush()
    grant = RoleGrant(
        id=uuid.uuid4(),
        user_id=user.id,
        role=data.role,
        org_id=org.id,
        granted_at=now,
        expires_on=data.expires_on,
        granted_by_user_id=scope.actor.user_id,
    )
    session.add(grant)
    record_changes(session, scope, grant, reason=data.reason)
    emit_event(session, event_type="access.role_granted", org_id=org.id, payload=_payload(grant))
    session.flush()
    return _read(scope, grant, user, org, today)


def revoke_role(
    session: Session, scope: Scope, data: RevokeRoleInput, *, authority: GrantAuthority, today: dt.date
) -> RoleGrantRead:
    """End a grant now; the row stays as history (revoked_at, revoked_by_user_id).

    Raises:
        NotFound, PermissionDenied, GrantTooWide, GrantRevoked, LastAdministrator.
    """
    grant = session.get(RoleGrant, data.grant_id)
    if grant is None or not scope.allows_org(grant.org_id, ADMIN):
        raise NotFound(f"role grant {data.grant_id} not found", field="grant_id")
    org = admin_org(session, scope, grant.org_id, Action.WRITE, field="grant_id")
    user = session.get(User, grant.user_id)
    assert user is not None
    if grant.revoked_at is not None:
        raise GrantRevoked(f"grant {grant.id} was already revoked on {grant.revoked_at:%Y-%m-%d}", field="grant_id")
    _check_authority(org, grant.role, authority, "revoke")
    if grant.role == NETWORK_ADMIN and org.parent_id is None and _status(grant, today) is GrantStatus.ACTIVE:
        refuse_last_administrator(session, today, leaving=user.id)
    grant.revoked_at, grant.revoked_by_user_id = utcnow(), scope.actor.user_id
    record_changes(session, scope, grant, reason=data.reason)
    emit_event(session, event_type="access.role_revoked", org_id=org.id, payload=_payload(grant))
    session.flush()
    return _read(scope, grant, user, org, today)


def list_role_grants(session: Session, scope: Scope, data: RoleGrantQuery, *, today: dt.date) -> RoleGrantPage:
    """Grants at orgs in the caller's administration read scope, by org subtree and/or user; newest first.

    Raises:
        NotFound: the org or user is not visible.
    """
    narrowed, in_org = org_condition(session, scope, RoleGrant.org_id, data.org_id, ADMIN)
    conditions = [narrowed.org_filter(RoleGrant.org_id, ADMIN), in_org]
    if data.user_id is not None:
        visible_user(session, scope, data.user_id)
        conditions.append(RoleGrant.user_id == data.user_id)
    if not data.include_inactive:
        conditions += [
            RoleGrant.revoked_at.is_(None),
            or_(RoleGrant.expires_on.is_(None), RoleGrant.expires_on >= today),
        ]
    total = session.execute(select(func.count()).select_from(RoleGrant).where(*conditions)).scalar_one()
    rows = session.execute(
        select(RoleGrant, User, Organization)
        .join(User, User.id == RoleGrant.user_id)
        .join(Organization, Organization.id == RoleGrant.org_id)
        .where(*conditions)
        .order_by(Organization.path, User.email, RoleGrant.role, RoleGrant.granted_at.desc(), RoleGrant.id)
        .limit(data.limit)
        .offset(data.offset)
    ).all()
    items = [_read(scope, grant, user, org, today) for grant, user, org in rows]
    return RoleGrantPage(items=items, **page_meta(total, data.limit, data.offset))
