"""An in-memory index of the org tree (id -> path, subtree sets), cached per tree version.

Grants are expanded from their node to the node's subtree through this index, so a decision
is a set lookup instead of a walk over policy lines. The version is the token of the
org_tree_version row, which database triggers replace on every insert, update or delete of an
organization (raw SQL included); it is read once per request (db/freshness.py) and a new token
rebuilds the index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.freshness import org_tree_token
from db.memo import LruMemo
from db.models import Organization, OrgKind


@dataclass(frozen=True)
class OrgNode:
    id: uuid.UUID
    path: str
    parent_id: uuid.UUID | None
    # True when the org or any ancestor is ROSTER_ONLY (a roster-only school's programs are too).
    roster_only: bool


class OrgTreeIndex:
    """The org tree of one database at one version: nodes by id and path, and every node's subtree."""

    def __init__(self, nodes: list[OrgNode], version: str) -> None:
        self.version = version
        self.by_id: dict[uuid.UUID, OrgNode] = {n.id: n for n in nodes}
        self.by_path: dict[str, uuid.UUID] = {n.path: n.id for n in nodes}
        members: dict[uuid.UUID, set[uuid.UUID]] = {n.id: set() for n in nodes}
        for node in nodes:
            for ancestor_path in _ancestor_paths(node.path):
                ancestor = self.by_path.get(ancestor_path)
                if ancestor is not None:
                    members[ancestor].add(node.id)
        self._subtree = {org_id: frozenset(ids) for org_id, ids in members.items()}
        self.roster_only_ids = frozenset(n.id for n in nodes if n.roster_only)
        self.root_ids = frozenset(n.id for n in nodes if n.parent_id is None)
        self.all_ids = frozenset(self.by_id)

    def subtree(self, org_id: uuid.UUID) -> frozenset[uuid.UUID]:
        """`org_id` and every org below it; empty when the org is unknown."""
        return self._subtree.get(org_id, frozenset())

    def contains(self, ancestor_id: uuid.UUID, org_id: uuid.UUID) -> bool:
        """True when `org_id` is `ancestor_id` or lies below it."""
        ancestor = self.by_id.get(ancestor_id)
        node = self.by_id.get(org_id)
        # Paths end in "/", so a prefix test compares whole segments ("/a/b/" is no prefix of "/a/bc/").
        return ancestor is not None and node is not None and node.path.startswith(ancestor.path)

    def path(self, org_id: uuid.UUID) -> str | None:
        """The materialized path of `org_id`, or None when unknown."""
        node = self.by_id.get(org_id)
        return node.path if node else None


def _ancestor_paths(path: str) -> list[str]:
    """ "/a/b/c/" -> ["/a/", "/a/b/", "/a/b/c/"] (the node itself included)."""
    segments = [s for s in path.strip("/").split("/") if s]
    return ["/" + "/".join(segments[: i + 1]) + "/" for i in range(len(segments))]


def tree_version(session: Session) -> str:
    """The org tree's version in this database: its rendered URL and the trigger-maintained token."""
    return f"{_database(session)}|{org_tree_token(session)}"


def _database(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def build_index(session: Session, version: str | None = None) -> OrgTreeIndex:
    """Read the whole org tree and index it (no cache)."""
    version = version or tree_version(session)
    rows = session.execute(select(Organization.id, Organization.path, Organization.parent_id, Organization.kind)).all()
    roster_paths = [row.path for row in rows if row.kind == OrgKind.ROSTER_ONLY]
    nodes = [
        OrgNode(
            id=row.id,
            path=row.path,
            parent_id=row.parent_id,
            roster_only=any(row.path.startswith(rp) for rp in roster_paths),
        )
        for row in rows
    ]
    return OrgTreeIndex(nodes, version)


# The few most recent indexes, keyed by (database URL as rendered, tree token).
_indexes: LruMemo[tuple[str, str], OrgTreeIndex] = LruMemo(8)


def org_index(session: Session) -> OrgTreeIndex:
    """The index of the session's current org tree, rebuilt only when the tree has changed."""
    database, token = _database(session), org_tree_token(session)
    return _indexes.get_or_make((database, token), lambda: build_index(session, f"{database}|{token}"))
