"""The orgs and schools collections: organizations as OneRoster orgs.

Network: district, brand: local, campus: school, program: department; schools are the campuses.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from db.models import Organization, OrgLevel
from domain.oneroster.filters import Kind
from domain.oneroster.mapping import COMMON_FIELDS, Context, Source, status_of, timestamp
from domain.oneroster.schemas import OneRosterQuery
from policies.scope import DataClass, Scope

ORG_TYPES = {
    OrgLevel.NETWORK.value: "district",
    OrgLevel.BRAND.value: "local",
    OrgLevel.CAMPUS.value: "school",
    OrgLevel.PROGRAM.value: "department",
}


def org_source(session: Session, scope: Scope, q: OneRosterQuery, *, schools_only: bool) -> Source:
    """Every visible org (or only campuses, for the schools collection)."""
    org = Organization
    type_expr = case(*[(org.level == level, kind) for level, kind in ORG_TYPES.items()], else_="department")
    stmt = select(
        org.id.label("sourcedId"),
        status_of(org.is_active).label("status"),
        org.updated_at.label("dateLastModified"),
        org.name.label("name"),
        type_expr.label("type"),
        org.slug.label("identifier"),
        org.parent_id.label("parent_id"),
        org.kind.label("org_kind"),
        org.level.label("org_level"),
    ).where(scope.org_filter(org.id, DataClass.DIRECTORY))
    if schools_only:
        stmt = stmt.where(org.level == OrgLevel.CAMPUS)
    fields = {
        **COMMON_FIELDS,
        "name": ("name", Kind.TEXT),
        "type": ("type", Kind.TEXT),
        "identifier": ("identifier", Kind.TEXT),
        "parent.sourcedId": ("parent_id", Kind.UUID),
    }
    return Source(stmt, fields, _render_orgs, "org")


def _render_orgs(session: Session, scope: Scope, rows: Sequence[RowMapping], ctx: Context) -> list[dict[str, Any]]:
    ids = [r["sourcedId"] for r in rows]
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if ids:
        for parent_id, child_id in session.execute(
            select(Organization.parent_id, Organization.id)
            .where(Organization.parent_id.in_(ids), scope.org_filter(Organization.id, DataClass.DIRECTORY))
            .order_by(Organization.name)
        ):
            if parent_id is not None:
                children[parent_id].append(child_id)
    out = []
    for r in rows:
        item: dict[str, Any] = {
            "sourcedId": str(r["sourcedId"]),
            "status": r["status"],
            "dateLastModified": timestamp(r["dateLastModified"]),
            "metadata": {"sis": {"orgKind": str(r["org_kind"]), "level": str(r["org_level"])}},
            "name": r["name"],
            "type": r["type"],
            "identifier": r["identifier"],
        }
        if r["parent_id"] is not None:
            item["parent"] = ctx.refs("org", r["parent_id"])
        item["children"] = [ctx.refs("org", c) for c in children.get(r["sourcedId"], [])]
        out.append(item)
    return out
