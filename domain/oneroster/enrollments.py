"""The enrollments collection: each enrollment stint as a student enrollment, and guides as teacher enrollments.

A guide teaches a class while coaching a student who holds a stint in it (`teacher_pairs`, also
used by the classes of a teacher and the teachers of a class). Ended stints stay, as `tobedeleted`.
A pending stint (its first day not yet come) is not published: downstream apps grant access on
`active`, and the stint appears, as `active`, once `sis enrollments advance` starts it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, and_, case, cast, false, func, literal, null, or_, select, union_all
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from db.models import Enrollment, EnrollmentStatus, GuideAssignment, Organization
from domain.oneroster.filters import Kind
from domain.oneroster.mapping import (
    COMMON_FIELDS,
    AnySelect,
    Context,
    Source,
    as_uuid,
    school_of,
    status_of,
    timestamp,
)
from domain.oneroster.schemas import OneRosterQuery
from policies.scope import DataClass, Scope

FAR_FUTURE = dt.date(9999, 12, 31)


def uuid_text(session: Session, column: Any) -> ColumnElement[str]:
    """A UUID column as its canonical text on either engine (SQLite stores 32 hex digits)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(column, String)
    hexed = func.lower(cast(column, String))
    return (
        func.substr(hexed, 1, 8)
        + "-"
        + func.substr(hexed, 9, 4)
        + "-"
        + func.substr(hexed, 13, 4)
        + "-"
        + func.substr(hexed, 17, 4)
        + "-"
        + func.substr(hexed, 21, 12)
    )


def teacher_pairs(scope: Scope, as_of: dt.date) -> AnySelect:
    """(guide, class, org) with dates: a guide teaches a class while coaching a student who holds a stint in it."""
    ga, e = GuideAssignment, Enrollment
    overlap = and_(
        ga.student_id == e.student_id,
        ga.org_id == e.org_id,
        ga.start_on <= func.coalesce(e.end_on, FAR_FUTURE),
        func.coalesce(ga.end_on, FAR_FUTURE) >= e.start_on,
    )
    current = and_(e.status == EnrollmentStatus.ACTIVE, or_(ga.end_on.is_(None), ga.end_on >= as_of))
    return (
        select(
            ga.guide_user_id.label("user_id"),
            e.offering_id.label("class_id"),
            e.org_id.label("org_id"),
            func.min(case((ga.start_on > e.start_on, ga.start_on), else_=e.start_on)).label("begin_on"),
            func.max(case((current, 1), else_=0)).label("current"),
            func.max(e.updated_at).label("modified_at"),
        )
        .join(e, overlap)
        .where(scope.row_filter(e.org_id, e.student_id, DataClass.DIRECTORY), e.status != EnrollmentStatus.PENDING)
        .group_by(ga.guide_user_id, e.offering_id, e.org_id)
    )


def enrollment_source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    e, org = Enrollment, aliased(Organization)
    school = as_uuid(q.school_id) if q.school_id is not None else None
    klass = as_uuid(q.class_id) if q.class_id is not None else None
    students = (
        select(
            uuid_text(session, e.id).label("sourcedId"),
            status_of(e.status == EnrollmentStatus.ACTIVE).label("status"),
            e.updated_at.label("dateLastModified"),
            e.student_id.label("user_id"),
            e.offering_id.label("class_id"),
            school_of(org).label("school_id"),
            literal("student").label("role"),
            cast(null(), String).label("primary"),
            e.start_on.label("beginDate"),
            e.end_on.label("endDate"),
            e.student_id.label("student_id"),
        )
        .join(org, org.id == e.org_id)
        .where(scope.row_filter(e.org_id, e.student_id, DataClass.DIRECTORY), e.status != EnrollmentStatus.PENDING)
    )
    pairs = teacher_pairs(scope, q.as_of).subquery("pairs")
    porg = aliased(Organization)
    teachers = select(
        (uuid_text(session, pairs.c.class_id) + "." + uuid_text(session, pairs.c.user_id)).label("sourcedId"),
        status_of(pairs.c.current == 1).label("status"),
        pairs.c.modified_at.label("dateLastModified"),
        pairs.c.user_id.label("user_id"),
        pairs.c.class_id.label("class_id"),
        school_of(porg).label("school_id"),
        literal("teacher").label("role"),
        literal("false").label("primary"),
        pairs.c.begin_on.label("beginDate"),
        cast(null(), e.end_on.type).label("endDate"),
        cast(null(), e.student_id.type).label("student_id"),
    ).join(porg, porg.id == pairs.c.org_id)
    combined = union_all(students, teachers).subquery("enrollments")
    stmt = select(combined)
    if q.school_id is not None:
        stmt = stmt.where(combined.c.school_id == school if school else false())
    if q.class_id is not None:
        stmt = stmt.where(combined.c.class_id == klass if klass else false())
    fields = {
        **COMMON_FIELDS,
        "sourcedId": ("sourcedId", Kind.TEXT),
        "role": ("role", Kind.TEXT),
        "primary": ("primary", Kind.TEXT),
        "beginDate": ("beginDate", Kind.DATE),
        "endDate": ("endDate", Kind.END_DATE),
        "user.sourcedId": ("user_id", Kind.UUID),
        "class.sourcedId": ("class_id", Kind.UUID),
        "school.sourcedId": ("school_id", Kind.UUID),
    }
    return Source(stmt, fields, _render_enrollments, "enrollment")


def _render_enrollments(
    session: Session, scope: Scope, rows: Sequence[RowMapping], ctx: Context
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        item: dict[str, Any] = {
            "sourcedId": r["sourcedId"],
            "status": r["status"],
            "dateLastModified": timestamp(r["dateLastModified"]),
            "user": ctx.refs("user", r["user_id"]),
            "class": ctx.refs("class", r["class_id"]),
            "school": ctx.refs("org", r["school_id"]),
            "role": r["role"],
            "beginDate": r["beginDate"].isoformat(),
        }
        if r["primary"] is not None:
            item["primary"] = r["primary"]
        if r["endDate"] is not None:
            # The SIS stores the last day; OneRoster's endDate is exclusive.
            item["endDate"] = (r["endDate"] + dt.timedelta(days=1)).isoformat()
        out.append(item)
    return out
