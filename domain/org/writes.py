"""Organization writes and reads: create, update (moves included), close; all in the administration class.

Rules, each checked before anything is written:

- Levels nest: a brand under the network, a campus under a brand or the network, a program under
  a campus. Only `sis init` creates the network (the one root).
- A slug is unique among its siblings; the materialized path is the parent's path plus the slug.
- Anything below a ROSTER_ONLY org is ROSTER_ONLY.
- Creating, moving or closing an org needs administration write at its parent; creating directly
  under the root needs a network_admin grant at the root. Editing an org's own fields (name,
  timezone, jurisdiction) needs administration write at the org.
- A move (new parent or new slug) rewrites the path of the whole subtree in the same transaction;
  every rewritten row records its change events, and the org_tree_version trigger gives the tree a
  new version, so the org-tree index and every memo keyed by it are rebuilt on the next request.
- Closing sets is_active false and closed_on on the org and every open org below it; it is refused
  while any of them holds an active or pending stint. Closed orgs stay readable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Enrollment, EnrollmentStatus, Organization, OrgKind, OrgLevel
from domain.audit.changes import record_changes
from domain.errors import InvalidInput, NotFound, PermissionDenied
from domain.events import emit_event
from domain.org.errors import OrganizationClosed, OrganizationInUse
from domain.org.schemas import (
    ClosedOrganizations,
    CloseOrganizationInput,
    CreateOrganizationInput,
    OrganizationPage,
    OrganizationQuery,
    OrganizationRead,
    UpdateOrganizationInput,
    slug_of,
)
from domain.paging import page_meta
from domain.visibility import org_condition
from policies.scope import Action, DataClass, Scope

ADMIN = DataClass.ADMINISTRATION
# The levels each level may hold directly.
CHILD_LEVELS: dict[OrgLevel, tuple[OrgLevel, ...]] = {
    OrgLevel.NETWORK: (OrgLevel.BRAND, OrgLevel.CAMPUS),
    OrgLevel.BRAND: (OrgLevel.CAMPUS,),
    OrgLevel.CAMPUS: (OrgLevel.PROGRAM,),
    OrgLevel.PROGRAM: (),
}
HOLDING = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)
MAX_PATH = 512


# -- lookups ---------------------------------------------------------------------------------------


def get_org_for(
    session: Session, scope: Scope, org_id: uuid.UUID, action: Action = Action.READ, *, field: str = "org_id"
) -> Organization:
    """The org if the caller may read its administration records; for a write, also change them.

    Raises:
        NotFound: no such org, or outside the caller's scope.
        PermissionDenied: visible, but the caller may not change it.
    """
    org = session.execute(
        select(Organization).where(Organization.id == org_id, scope.org_filter(Organization.id, ADMIN))
    ).scalar_one_or_none()
    if org is None:
        raise NotFound(f"organization {org_id} not found", field=field)
    if action is Action.WRITE and not scope.allows_org(org.id, ADMIN, Action.WRITE):
        raise PermissionDenied(f"your role may not change organization '{org.name}'", field=field)
    return org


def require_open(session: Session, org_id: uuid.UUID, *, field: str = "org_id") -> None:
    """Refuse to create anything (offerings, enrollments, calendars) at a closed org.

    Raises:
        OrganizationClosed: the org is closed.
    """
    row = session.execute(
        select(Organization.name, Organization.closed_on, Organization.is_active).where(Organization.id == org_id)
    ).first()
    if row is not None and not row.is_active:
        since = f" since {row.closed_on}" if row.closed_on else ""
        raise OrganizationClosed(f"organization '{row.name}' is closed{since}", field=field)


def _ancestors(session: Session, org: Organization) -> list[Organization]:
    """The org and every org above it, root first."""
    segments = [s for s in org.path.strip("/").split("/") if s]
    paths = ["/" + "/".join(segments[: i + 1]) + "/" for i in range(len(segments))]
    rows = session.execute(select(Organization).where(Organization.path.in_(paths))).scalars().all()
    return sorted(rows, key=lambda o: len(o.path))


def _roster_only(session: Session, org: Organization) -> bool:
    """True when the org or an org above it is ROSTER_ONLY."""
    return any(o.kind is OrgKind.ROSTER_ONLY for o in _ancestors(session, org))


def _subtree(session: Session, org: Organization) -> list[Organization]:
    """The org and every org below it, by path."""
    stmt = select(Organization).where(Organization.path.startswith(org.path, autoescape=True))
    return list(session.execute(stmt.order_by(Organization.path)).scalars().all())


def _check_parent(
    session: Session,
    parent: Organization,
    level: OrgLevel,
    network_admin_orgs: Collection[uuid.UUID],
) -> None:
    if not parent.is_active:
        raise OrganizationClosed(f"organization '{parent.name}' is closed", field="parent_id")
    if level not in CHILD_LEVELS[parent.level]:
        allowed = ", ".join(lvl.value for lvl in CHILD_LEVELS[parent.level]) or "nothing"
        raise InvalidInput(
            f"a {level.value} cannot be placed under the {parent.level.value} '{parent.name}' "
            f"(a {parent.level.value} holds: {allowed})",
            field="level",
        )
    if parent.parent_id is None and parent.id not in network_admin_orgs:
        raise PermissionDenied(
            "only a network administrator at the root may create or move organizations directly under it",
            field="parent_id",
        )


def _check_slug_free(session: Session, parent: Organization, slug: str, *, moving: uuid.UUID | None = None) -> str:
    path = f"{parent.path}{slug}/"
    taken = session.execute(select(Organization.id).where(Organization.path == path)).scalar_one_or_none()
    if taken is not None and taken != moving:
        raise InvalidInput(f"'{parent.name}' already has an organization with slug '{slug}'", field="slug")
    if len(path) > MAX_PATH:
        raise InvalidInput(f"the path {path!r} would be longer than {MAX_PATH} characters", field="slug")
    return path


def _payload(org: Organization, **extra: Any) -> dict[str, Any]:
    return {
        "org_id": org.id,
        "parent_id": org.parent_id,
        "name": org.name,
        "path": org.path,
        "level": org.level.value,
        "kind": org.kind.value,
        "jurisdiction": org.jurisdiction,
        "timezone": org.timezone,
        "is_active": org.is_active,
        "closed_on": org.closed_on,
    } | extra


# -- writes ------------------------------------------------------------------------------------------


def create_organization(
    session: Session, scope: Scope, data: CreateOrganizationInput, *, network_admin_orgs: Collection[uuid.UUID]
) -> OrganizationRead:
    """Add a brand, campus or program under `data.parent_id`.

    `network_admin_orgs` are the orgs where the caller holds network_admin (the root's children need it).

    Raises:
        NotFound, PermissionDenied, OrganizationClosed, InvalidInput (nesting, slug, kind).
    """
    parent = get_org_for(session, scope, data.parent_id, Action.WRITE, field="parent_id")
    _check_parent(session, parent, data.level, network_admin_orgs)
    roster_only = _roster_only(session, parent)
    kind = data.kind or (OrgKind.ROSTER_ONLY if roster_only else parent.kind)
    if roster_only and kind is OrgKind.FULL_SIS:
        raise InvalidInput(
            f"'{parent.name}' is ROSTER_ONLY (or lies below a ROSTER_ONLY org), so everything below it is too",
            field="kind",
        )
    slug = data.slug or slug_of(data.name)
    path = _check_slug_free(session, parent, slug)
    org = Organization(
        id=uuid.uuid4(),
        parent_id=parent.id,
        slug=slug,
        name=data.name,
        level=data.level,
        kind=kind,
        path=path,
        timezone=data.timezone or parent.timezone,
        jurisdiction=data.jurisdiction,
        is_active=True,
    )
    session.add(org)
    # The new org's own id is its change events' org: its scope is its parent's subtree anyway.
    record_changes(session, scope, org, reason="organization created")
    emit_event(session, event_type="organization.created", org_id=org.id, payload=_payload(org))
    session.flush()
    return OrganizationRead.model_validate(org)


def update_organization(
    session: Session, scope: Scope, data: UpdateOrganizationInput, *, network_admin_orgs: Collection[uuid.UUID]
) -> OrganizationRead:
    """Change an org's name, timezone or jurisdiction; a new slug or parent moves its whole subtree.

    Raises:
        NotFound, PermissionDenied, OrganizationClosed, InvalidInput.
    """
    org = get_org_for(session, scope, data.org_id, Action.WRITE)
    if data.jurisdiction is not None and data.clear_jurisdiction:
        raise InvalidInput("give a jurisdiction or clear_jurisdiction, not both", field="jurisdiction")
    old_path = org.path
    moving = (data.parent_id is not None and data.parent_id != org.parent_id) or (
        data.slug is not None and data.slug != org.slug
    )
    if moving or (data.kind is not None and data.kind is not org.kind):
        _require_structural_right(session, scope, org, network_admin_orgs)
    if moving:
        _move(session, scope, org, data, network_admin_orgs)
    if data.kind is not None and data.kind is not org.kind:
        _change_kind(session, scope, org, data.kind, data.reason)
    if data.name is not None:
        org.name = data.name
    if data.timezone is not None:
        org.timezone = data.timezone
    if data.jurisdiction is not None:
        org.jurisdiction = data.jurisdiction
    if data.clear_jurisdiction:
        org.jurisdiction = None
    changed = record_changes(session, scope, org, reason=data.reason)
    if changed:
        extra = {"old_path": old_path} if org.path != old_path else {}
        emit_event(session, event_type="organization.updated", org_id=org.id, payload=_payload(org, **extra))
    session.flush()
    return OrganizationRead.model_validate(org)


def _require_structural_right(
    session: Session, scope: Scope, org: Organization, network_admin_orgs: Collection[uuid.UUID]
) -> None:
    """Moving, renaming the slug of, or changing the kind of an org needs write at its parent (root: network_admin)."""
    if org.parent_id is None:
        if org.id not in network_admin_orgs:
            raise PermissionDenied("only a network administrator at the root may change the root", field="org_id")
        return
    if not scope.allows_org(org.parent_id, ADMIN, Action.WRITE):
        raise PermissionDenied(
            f"moving '{org.name}' or changing its slug or kind needs administration rights at the org above it",
            field="org_id",
        )


def _move(
    session: Session,
    scope: Scope,
    org: Organization,
    data: UpdateOrganizationInput,
    network_admin_orgs: Collection[uuid.UUID],
) -> None:
    """Give `org` a new parent and/or slug and rewrite the path of every org below it."""
    parent: Organization | None
    if data.parent_id is not None and data.parent_id != org.parent_id:
        if org.parent_id is None:
            raise InvalidInput("the root cannot be moved", field="parent_id")
        parent = get_org_for(session, scope, data.parent_id, Action.WRITE, field="parent_id")
        if parent.path.startswith(org.path):
            raise InvalidInput(f"'{org.name}' cannot be moved under itself or an org below it", field="parent_id")
        _check_parent(session, parent, org.level, network_admin_orgs)
        subtree = _subtree(session, org)
        if _roster_only(session, parent) and any(o.kind is OrgKind.FULL_SIS for o in subtree):
            raise InvalidInput(
                f"'{parent.name}' is ROSTER_ONLY; '{org.name}' or an org below it is FULL_SIS", field="parent_id"
            )
        org.parent_id = parent.id
    else:
        subtree = _subtree(session, org)
        parent = session.get_one(Organization, org.parent_id) if org.parent_id else None
    slug = data.slug or org.slug
    new_path = _check_slug_free(session, parent, slug, moving=org.id) if parent else f"/{slug}/"
    old_path = org.path
    org.slug = slug
    for node in subtree:
        node.path = new_path + node.path[len(old_path) :]
        if len(node.path) > MAX_PATH:
            raise InvalidInput(f"the path {node.path!r} would be longer than {MAX_PATH} characters", field="slug")
        if node is not org:
            record_changes(session, scope, node, reason=data.reason or f"moved with '{org.name}'")


def _change_kind(session: Session, scope: Scope, org: Organization, kind: OrgKind, reason: str | None) -> None:
    """FULL_SIS <-> ROSTER_ONLY, only while nothing below the org was ever enrolled."""
    subtree = _subtree(session, org)
    ids = [o.id for o in subtree]
    enrolled = session.execute(select(func.count()).where(Enrollment.org_id.in_(ids))).scalar_one()
    if enrolled:
        raise InvalidInput(
            f"'{org.name}' has enrollment history; its kind decides which records exist there and cannot change",
            field="kind",
        )
    if kind is OrgKind.FULL_SIS and org.parent_id is not None:
        parent = session.get_one(Organization, org.parent_id)
        if _roster_only(session, parent):
            raise InvalidInput(f"'{org.name}' lies below a ROSTER_ONLY org and stays ROSTER_ONLY", field="kind")
    org.kind = kind
    if kind is OrgKind.ROSTER_ONLY:
        for node in subtree:
            if node is not org and node.kind is not OrgKind.ROSTER_ONLY:
                node.kind = OrgKind.ROSTER_ONLY
                record_changes(session, scope, node, reason=reason or f"below '{org.name}', now ROSTER_ONLY")


def close_organization(
    session: Session, scope: Scope, data: CloseOrganizationInput, *, today: dt.date
) -> ClosedOrganizations:
    """Close an org and every open org below it (no deletes); refused while any holds a live stint.

    Raises:
        NotFound, PermissionDenied, OrganizationClosed, OrganizationInUse, InvalidInput.
    """
    org = get_org_for(session, scope, data.org_id, Action.WRITE)
    if org.parent_id is None:
        raise InvalidInput("the network root cannot be closed", field="org_id")
    if not scope.allows_org(org.parent_id, ADMIN, Action.WRITE):
        raise PermissionDenied(f"closing '{org.name}' needs administration rights at the org above it", field="org_id")
    if not org.is_active:
        raise OrganizationClosed(f"organization '{org.name}' is already closed since {org.closed_on}", field="org_id")
    closed_on = data.closed_on or today
    if closed_on > today:
        raise InvalidInput(f"closed_on {closed_on} is in the future; close the org on that day", field="closed_on")
    subtree = _subtree(session, org)
    live = session.execute(
        select(func.count()).where(
            Enrollment.org_id.in_([o.id for o in subtree]),
            Enrollment.status.in_(HOLDING),
            (Enrollment.end_on.is_(None)) | (Enrollment.end_on >= closed_on),
        )
    ).scalar_one()
    if live:
        raise OrganizationInUse(
            f"'{org.name}' still has {live} active or pending enrollment stint(s) on or after {closed_on}; "
            "withdraw or transfer them first",
            field="org_id",
        )
    closed = []
    for node in subtree:
        if node.is_active:
            node.is_active = False
            node.closed_on = closed_on
            record_changes(session, scope, node, reason=data.reason)
            closed.append(node)
    emit_event(
        session,
        event_type="organization.closed",
        org_id=org.id,
        payload=_payload(org, reason=data.reason, closed_org_ids=[o.id for o in closed]),
    )
    session.flush()
    return ClosedOrganizations(closed=[OrganizationRead.model_validate(o) for o in closed])


# -- reads -------------------------------------------------------------------------------------------


def get_organization(session: Session, scope: Scope, org_id: uuid.UUID) -> OrganizationRead:
    """One org the caller may read administration records of (closed ones included).

    Raises:
        NotFound: no such org, or outside the caller's scope.
    """
    return OrganizationRead.model_validate(get_org_for(session, scope, org_id))


def list_organizations(session: Session, scope: Scope, data: OrganizationQuery) -> OrganizationPage:
    """Orgs the caller may read administration records of, by path; optionally one subtree or level."""
    scope, in_org = org_condition(session, scope, Organization.id, data.org_id, ADMIN)
    conditions = [scope.org_filter(Organization.id, ADMIN), in_org]
    if data.level is not None:
        conditions.append(Organization.level == data.level)
    if not data.include_closed:
        conditions.append(Organization.is_active.is_(True))
    total = session.execute(select(func.count()).select_from(Organization).where(*conditions)).scalar_one()
    rows = session.execute(
        select(Organization).where(*conditions).order_by(Organization.path).limit(data.limit).offset(data.offset)
    ).scalars()
    items = [OrganizationRead.model_validate(o) for o in rows]
    return OrganizationPage(items=items, **page_meta(total, data.limit, data.offset))
