"""OneRoster 1.2 rostering read: the SIS mapped onto orgs, sessions, courses, classes, users and enrollments.

The mapping (see the API description for consumers):

- organizations -> orgs (network: district, brand: local, campus: school, program: department);
- programs -> courses; program offerings -> classes, each in the term of its session label;
- a term per distinct offering period and a schoolYear per school year above them;
- students -> users with role student; staff with a rostering role (guide: teacher, campus
  director: principal, registrar: siteAdministrator, network admin: districtAdministrator);
  guardians -> users with role parent or guardian, linked to their students through `agents`
  in both directions (only for callers who may read contact data);
- each enrollment stint -> its own enrollment; ended stints stay, as status `tobedeleted`;
- guides -> teacher enrollments in the classes of the students they coach.

Every collection is one flat SQL source with the caller's scope in its WHERE clause, built in
its own module (orgs, courses, classes, users, enrollments, demographics; academic_sessions are
derived rows; mapping holds what they share). Here the filter, sort and paging are applied to it
in SQL, then the page is rendered with a few batched lookups. Health, behavior, attendance and
financial data are never read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, select, true, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from domain import cursor
from domain.errors import NotFound
from domain.oneroster import classes, courses, demographics, enrollments, orgs, users
from domain.oneroster.academic_sessions import read_sessions, render_session
from domain.oneroster.filters import InvalidSelectionField, Kind, parse_fields, parse_filter, to_sql
from domain.oneroster.mapping import ENTITY_OF, PROPERTIES, Context, Refs, Source, as_uuid
from domain.oneroster.schemas import MAX_LIMIT, Collection, DisclosedStudent, OneRosterPage, OneRosterQuery
from policies.scope import Scope


def _source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    c = q.collection
    if c in (Collection.ORGS, Collection.SCHOOLS):
        return orgs.org_source(session, scope, q, schools_only=c is Collection.SCHOOLS)
    if c is Collection.COURSES:
        return courses.course_source(session, scope, q)
    if c is Collection.CLASSES:
        return classes.class_source(session, scope, q)
    if c in (Collection.USERS, Collection.STUDENTS, Collection.TEACHERS):
        role = {Collection.STUDENTS: "student", Collection.TEACHERS: "teacher"}.get(c)
        return users.user_source(session, scope, q, role=role)
    if c is Collection.ENROLLMENTS:
        return enrollments.enrollment_source(session, scope, q)
    return demographics.demographics_source(session, scope, q)


def _project(items: Iterable[dict[str, Any]], fields: tuple[str, ...] | None) -> list[dict[str, Any]]:
    if fields is None:
        return list(items)
    return [{k: v for k, v in item.items() if k in fields} for item in items]


def _disclosed(collection: Collection, items: Sequence[Mapping[str, Any]], rows: Sequence[Any]) -> list[uuid.UUID]:
    if collection is Collection.DEMOGRAPHICS:
        return [r["sourcedId"] for r in rows]
    if ENTITY_OF[collection] == "user":
        return [r["sourcedId"] for r in rows if r["kind"] == "student"]
    if collection is Collection.ENROLLMENTS:
        return [r["student_id"] for r in rows if r["student_id"] is not None]
    return []


def _page_ids_per_branch(
    session: Session,
    source: Source,
    parsed: Any,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    after: Any = None,
) -> list[Any]:
    """The page's ids of a UNION ALL source, picking the first offset + limit rows of each branch first.

    The page lies within the union of each branch's own first offset + limit rows (same order,
    ties broken by the unique sourcedId), and a branch with its own ORDER BY ... LIMIT can walk
    an index and stop early, where the whole union would be sorted: for a network-wide users
    page, about 2 ms instead of about 150 ms at 200,000 users (PostgreSQL).
    """
    wanted = offset + limit
    picked = []
    for branch in source.branches:
        b = branch.subquery()
        columns = {name: (b.c[label], kind) for name, (label, kind) in source.fields.items()}
        key = columns[sort][0]
        # Ties go by ascending sourcedId whatever the direction, as on the unsplit path.
        ordered = (key.desc() if descending else key.asc(), b.c.sourcedId.asc())
        resume = true() if after is None else _past(b.c.sourcedId, after, descending)
        top = (
            select(b.c.sourcedId, key.label("sort_key"))
            .where(to_sql(parsed, columns), resume)
            .order_by(*ordered)
            .limit(wanted)
            .subquery()
        )
        picked.append(select(top.c.sourcedId, top.c.sort_key))
    merged = union_all(*picked).subquery("picked")
    order = (merged.c.sort_key.desc() if descending else merged.c.sort_key.asc(), merged.c.sourcedId.asc())
    return list(session.execute(select(merged.c.sourcedId).order_by(*order).limit(limit).offset(offset)).scalars())


def _past(column: Any, last: Any, descending: bool) -> ColumnElement[bool]:
    """Records after `last` in sourcedId order (the keyset of a walk sorted by sourcedId)."""
    past: ColumnElement[bool] = column < last if descending else column > last
    return past


@dataclass(frozen=True)
class _Walk:
    """A walk sorted by sourcedId, whose next links carry a cursor (domain/cursor.py) besides offset."""

    bound_to: str
    kinds: tuple[str, ...]

    def resume(self, q: OneRosterQuery) -> cursor.Position | None:
        """Where the walk resumes; None without a cursor or when offset no longer agrees with it (offset decides)."""
        if q.after is None:
            return None
        position = cursor.decode(q.after, self.bound_to, self.kinds, field="after")
        return position if position.passed == q.offset and "total" in position.totals else None

    def after(self, last_id: Any, passed: int, total: int) -> str:
        return cursor.encode(self.bound_to, self.kinds, cursor.Position((last_id,), passed, {"total": total}))


def _walk(q: OneRosterQuery, sort: str, id_kind: Kind) -> _Walk | None:
    """Keyset paging applies to pages sorted by sourcedId (the default; unique and never null)."""
    if sort != "sourcedId" or q.sourced_id is not None:
        return None
    filters = q.model_dump(mode="json", exclude={"limit", "offset", "after", "fields", "base_url", "as_of"})
    return _Walk(cursor.fingerprint("oneroster", filters), ("uuid" if id_kind is Kind.UUID else "str",))


def read(session: Session, scope: Scope, q: OneRosterQuery) -> OneRosterPage:
    """One page of a OneRoster collection (or one object) in the caller's scope.

    Raises:
        InvalidFilterField: the filter cannot be parsed or names an unknown field.
        InvalidSelectionField: `fields` or `sort` names an unknown field.
        NotFound: a single object that does not exist or is outside the caller's scope.
    """
    entity = ENTITY_OF[q.collection]
    fields = parse_fields(q.fields, PROPERTIES[entity])
    parsed = parse_filter(q.filter)
    limit = min(q.limit, MAX_LIMIT)
    refs = Refs(q.base_url.rstrip("/"))
    next_cursor: str | None = None
    if entity == "academicSession":
        total, rows = read_sessions(session, scope, q, parsed)
        page = rows if q.sourced_id is not None else rows[q.offset : q.offset + limit]
        items = [render_session(r, refs) for r in page]
        disclosed: list[uuid.UUID] = []
    else:
        source = _source(session, scope, q)
        asked = {c.field for c in parsed.clauses} if parsed else set()
        asked.add(q.sort or "sourcedId")
        light = source.light is not None and not asked & source.heavy
        sub = (source.light if light and source.light is not None else source.stmt).subquery("src")
        full = source.stmt.subquery("full") if light else sub
        columns = {name: (sub.c[label], kind) for name, (label, kind) in source.fields.items()}
        condition = to_sql(parsed, columns)
        if q.sourced_id is not None:
            id_column, id_kind = columns["sourcedId"]
            if id_kind is Kind.UUID:
                wanted = as_uuid(q.sourced_id)
                condition = and_(condition, id_column == wanted if wanted else false())
            else:
                condition = and_(condition, id_column == q.sourced_id.strip())
        sort = q.sort or "sourcedId"
        if sort not in columns:
            raise InvalidSelectionField(f"cannot sort by {sort!r}; sortable: {', '.join(columns)}", field="sort")
        order = columns[sort][0].desc() if q.order_by == "desc" else columns[sort][0].asc()
        descending = q.order_by == "desc"
        walk = _walk(q, sort, columns["sourcedId"][1])
        position = walk.resume(q) if walk is not None else None
        if position is not None:
            # A keyset page: no count (the walk's first page counted) and no rows skipped.
            total, offset = position.totals["total"], 0
            condition = and_(condition, _past(columns["sourcedId"][0], position.key[0], descending))
        else:
            total, offset = (
                session.execute(select(func.count()).select_from(sub).where(condition)).scalar_one(),
                q.offset,
            )
        # Two steps: pick the page's ids from the cheap columns, then read whole rows for those ids only,
        # so per-row subqueries (roles, primary orgs) run for one page, never for the whole collection.
        if light and source.branches and q.sourced_id is None:
            after = position.key[0] if position is not None else None
            ids = _page_ids_per_branch(session, source, parsed, sort, descending, offset, limit, after)
        else:
            ids = list(
                session.execute(
                    select(sub.c.sourcedId)
                    .where(condition)
                    .order_by(order, sub.c.sourcedId)
                    .limit(limit)
                    .offset(offset)
                ).scalars()
            )
        full_rows = session.execute(select(full).where(full.c.sourcedId.in_(ids))).mappings().all() if ids else []
        by_id = {row["sourcedId"]: row for row in full_rows}
        page_rows = [by_id[i] for i in ids if i in by_id]
        items = source.render(session, scope, page_rows, Context(q, refs))
        disclosed = _disclosed(q.collection, items, page_rows)
        if walk is not None and ids and q.offset + limit < total:
            next_cursor = walk.after(ids[-1], q.offset + len(ids), total)
    if q.sourced_id is not None and not items:
        raise NotFound(f"{entity} {q.sourced_id} not found", field="sourcedId")
    return OneRosterPage(
        collection=q.collection.value,
        total=total,
        limit=limit,
        offset=q.offset,
        items=_project(items, fields),
        next_cursor=next_cursor,
        disclosed=[DisclosedStudent(student_id=s) for s in dict.fromkeys(disclosed)],
    )
