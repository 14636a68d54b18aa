"""Organization tree lookups: subtrees by materialized path, visibility through the Scope."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.idset import ids_in
from db.memo import LruMemo
from db.models import Organization
from domain.errors import NotFound
from policies.scope import Scope

V = TypeVar("V")


class TreeMemo(Generic[V]):
    """Values derived from organization rows alone (names, inherited settings), per org tree version.

    Every insert, update or delete of an organization row gives the tree a new version
    (`Scope.tree_version`), so a remembered value never outlives the rows it came from. A scope
    without a version remembers nothing.
    """

    def __init__(self, size: int = 4096) -> None:
        self._items: LruMemo[tuple[str, uuid.UUID], V] = LruMemo(size)

    def get_many(
        self,
        version: str,
        org_ids: Collection[uuid.UUID],
        load: Callable[[list[uuid.UUID]], Mapping[uuid.UUID, V]],
    ) -> dict[uuid.UUID, V]:
        """The value of each org in `org_ids`, calling `load` once for those not remembered."""
        found: dict[uuid.UUID, V] = {}
        missing: list[uuid.UUID] = []
        for org_id in org_ids:
            value = self._items.get((version, org_id)) if version else None
            if value is None:
                missing.append(org_id)
            else:
                found[org_id] = value
        if not missing:
            return found
        loaded = load(missing)
        if version:
            for org_id, value in loaded.items():
                self._items.put((version, org_id), value)
        return found | dict(loaded)


_names: TreeMemo[str] = TreeMemo()


def org_names(session: Session, scope: Scope, org_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The name of each org in `org_ids` (read once per org tree version). Unknown ids are left out."""

    def load(ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        rows = session.execute(select(Organization.id, Organization.name).where(ids_in(Organization.id, ids)))
        return {org_id: name for org_id, name in rows}

    return _names.get_many(scope.tree_version, org_ids, load)


def subtree_ids(session: Session, org_id: uuid.UUID) -> Select[Any]:
    """A subquery of the ids of `org_id` and every org below it (path-prefix match)."""
    path = session.execute(select(Organization.path).where(Organization.id == org_id)).scalar_one_or_none()
    if path is None:
        raise NotFound(f"organization {org_id} not found", field="org_id")
    return select(Organization.id).where(Organization.path.startswith(path, autoescape=True))


def in_subtree(session: Session, org_column: Any, org_id: uuid.UUID | None) -> ColumnElement[bool]:
    """`org_column IN subtree(org_id)`, or true when no org was asked for."""
    if org_id is None:
        return true()
    result: ColumnElement[bool] = org_column.in_(subtree_ids(session, org_id))
    return result
