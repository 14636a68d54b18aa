"""An in-memory index of the org tree (id -> path, subtree sets), cached per tree version.

Grants are expanded from their node to the node's subtree through this index, so a decision
is a set lookup instead of a walk over policy lines. The version is the token of the
org_tree_version row, which database triggers replace on every insert, update or delete of an
organization (raw SQL included); it is read once per request and a new token rebuilds the index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import URL, func, select
from sqlalchemy.orm import Session

from db.engine import fresh_version
from db.memo import LruMemo
from db.models import Organization, OrgKind, OrgTreeVersion


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


_VERSION = select(OrgTreeVersion.token).where(OrgTreeVersion.id == 1)


def _token(session: Session) -> str:
    """The org_tree_version token: as read by the connection's checkout when still fresh, else read now."""
    connection = session.connection()
    fresh = fresh_version(connection, "org_tree")
    if fresh is not None:
        return fresh
    token = connection.execute(_VERSION).scalar_one_or_none()
    if token is not None:
        return str(token)
    # Without the version row (never expected after migration 0002), fingerprint the table itself.
    count, created, updated = session.execute(
        select(func.count(Organization.id), func.max(Organization.created_at), func.max(Organization.updated_at))
    ).one()
    return f"{count}|{created}|{updated}"


def tree_version(session: Session) -> str:
    """The org tree's version in this database: its URL and the trigger-maintained token."""
    return f"{session.get_bind().engine.url.render_as_string(hide_password=True)}|{_token(session)}"


def build_index(session: Session, version: str | None = None) -> OrgTreeIndex:
    """Read the whole org tree and index it (no cache)."""
    version = version or tree_version(session)
    rows = session.execute(select(Organization.id, Organization.path, Organization.parent_id, Organization.kind)).all()
    roster_paths = [path for _, path, _, kind in rows if kind == OrgKind.ROSTER_ONLY]
    nodes = [
        OrgNode(
            id=org_id,
            path=path,
            parent_id=parent_id,
            roster_only=any(path.startswith(rp) for rp in roster_paths),
        )
        for org_id, path, parent_id, _ in rows
    ]
    return OrgTreeIndex(nodes, version)


# The few most recent indexes, keyed by (database URL, tree token).
_cache: LruMemo[tuple[URL, str], OrgTreeIndex] = LruMemo(8)


def org_index(session: Session) -> OrgTreeIndex:
    """The index of the session's current org tree, rebuilt only when the tree has changed."""
    url, token = session.get_bind().engine.url, _token(session)
    return _cache.get_or_make(
        (url, token), lambda: build_index(session, f"{url.render_as_string(hide_password=True)}|{token}")
    )


def clear_org_index_cache() -> None:
    """Forget every cached index (benchmarks and tests of cold paths)."""
    _cache.clear()
