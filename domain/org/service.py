"""Organization tree lookups: subtrees by materialized path, visibility through the Scope."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Organization
from domain.errors import NotFound
from policies.scope import Action, DataClass, Scope


def get_org(
    session: Session, scope: Scope, org_id: uuid.UUID, data_class: DataClass = DataClass.DIRECTORY
) -> Organization:
    """The org if the caller may see it for `data_class`.

    Raises:
        NotFound: no such org, or it is outside the caller's scope.
    """
    org = session.get(Organization, org_id)
    if org is None or not scope.allows_org(org.id, data_class, Action.READ):
        raise NotFound(f"organization {org_id} not found", field="org_id")
    return org


def subtree_ids(session: Session, org_id: uuid.UUID) -> Select[Any]:
    """A subquery of the ids of `org_id` and every org below it (path-prefix match)."""
    path = session.execute(select(Organization.path).where(Organization.id == org_id)).scalar_one_or_none()
    if path is None:
        raise NotFound(f"organization {org_id} not found", field="org_id")
    return select(Organization.id).where(Organization.path.startswith(path, autoescape=True))


def in_subtree(session: Session, org_column: Any, org_id: uuid.UUID | None) -> ColumnElement[bool]:
    """`org_column IN subtree(org_id)`, or true when no org was asked for."""
    from sqlalchemy import true

    if org_id is None:
        return true()
    result: ColumnElement[bool] = org_column.in_(subtree_ids(session, org_id))
    return result


def find_org_by_slug_or_name(session: Session, scope: Scope, text: str) -> Organization | None:
    """The visible org whose slug or name matches `text` case-insensitively (campus names in questions)."""
    needle = text.strip().lower()
    rows = session.execute(select(Organization).where(scope.org_filter(Organization.id, DataClass.DIRECTORY))).scalars()
    for org in rows:
        if org.slug.lower() == needle or org.name.lower() == needle:
            return org
    return None
