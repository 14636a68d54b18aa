"""The caller's own reach, as whoami reports it (identity itself comes from the principal, not the database)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Organization
from domain.identity.schemas import OrgAccess
from policies.scope import DataClass, Scope


def list_visible_campuses(session: Session, scope: Scope) -> list[OrgAccess]:
    """Campuses whose directory the scope may read, by name (their org_id is what other tools accept)."""
    # Plain columns: a network admin sees every campus, and entities cost twice as much to load.
    rows = session.execute(
        select(Organization.id, Organization.name, Organization.path, Organization.kind, Organization.level)
        .where(scope.org_filter(Organization.id, DataClass.DIRECTORY), Organization.level == "campus")
        .order_by(Organization.name)
    ).all()
    return [OrgAccess(org_id=o.id, name=o.name, path=o.path, kind=o.kind.value, level=o.level.value) for o in rows]
