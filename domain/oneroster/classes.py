"""The classes collection: program offerings as OneRoster classes, each in the term of its session label.

Nested reads narrow it to a school, a course, a term, or the classes a user is enrolled in as a
student or teaches as a guide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, false, literal, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from db.models import Enrollment, OfferingStatus, Organization, Program, ProgramOffering
from domain.oneroster.academic_sessions import term_id, term_period
from domain.oneroster.enrollments import teacher_pairs
from domain.oneroster.filters import Kind
from domain.oneroster.mapping import (
    COMMON_FIELDS,
    CURRENT,
    Context,
    Source,
    as_uuid,
    grade_code,
    school_of,
    status_of,
    timestamp,
)
from domain.oneroster.schemas import OneRosterQuery
from policies.scope import DataClass, Scope


def class_source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    """Every visible offering, narrowed by the nested read's school, course, term or user."""
    off, prog, org = ProgramOffering, Program, Organization
    stmt = (
        select(
            off.id.label("sourcedId"),
            status_of(off.status != OfferingStatus.ARCHIVED).label("status"),
            off.updated_at.label("dateLastModified"),
            off.name.label("title"),
            (prog.code + "-" + off.session_label).label("classCode"),
            literal("scheduled").label("classType"),
            off.program_id.label("course_id"),
            school_of(org).label("school_id"),
            off.session_label.label("session_label"),
            off.start_on.label("start_on"),
            off.end_on.label("end_on"),
            off.grade_min.label("grade_min"),
            off.grade_max.label("grade_max"),
        )
        .join(prog, prog.id == off.program_id)
        .join(org, org.id == off.org_id)
        .where(scope.org_filter(off.org_id, DataClass.DIRECTORY))
    )
    if q.school_id is not None:
        stmt = stmt.where(school_of(org) == as_uuid(q.school_id))
    if q.course_id is not None:
        stmt = stmt.where(off.program_id == as_uuid(q.course_id))
    if q.term_id is not None:
        period = term_period(session, scope, q.term_id)
        stmt = stmt.where(
            and_(off.session_label == period[0], off.start_on == period[1], off.end_on == period[2])
            if period
            else false()
        )
    if q.user_id is not None:
        user = as_uuid(q.user_id)
        pairs = teacher_pairs(scope, q.as_of).subquery()
        as_student = select(Enrollment.offering_id).where(
            Enrollment.student_id == user,
            Enrollment.status.in_(CURRENT),
            scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.DIRECTORY),
        )
        as_teacher = select(pairs.c.class_id).where(pairs.c.user_id == user, pairs.c.current == 1)
        stmt = stmt.where(or_(off.id.in_(as_student), off.id.in_(as_teacher)) if user else false())
    fields = {
        **COMMON_FIELDS,
        "title": ("title", Kind.TEXT),
        "classCode": ("classCode", Kind.TEXT),
        "classType": ("classType", Kind.TEXT),
        "course.sourcedId": ("course_id", Kind.UUID),
        "school.sourcedId": ("school_id", Kind.UUID),
    }
    return Source(stmt, fields, _render_classes, "class")


def _render_classes(session: Session, scope: Scope, rows: Sequence[RowMapping], ctx: Context) -> list[dict[str, Any]]:
    return [
        {
            "sourcedId": str(r["sourcedId"]),
            "status": r["status"],
            "dateLastModified": timestamp(r["dateLastModified"]),
            "metadata": {"sis": {"sessionLabel": r["session_label"]}},
            "title": r["title"],
            "classCode": r["classCode"],
            "classType": r["classType"],
            "grades": [grade_code(g) for g in range(r["grade_min"], r["grade_max"] + 1)],
            "course": ctx.refs("course", r["course_id"]),
            "school": ctx.refs("org", r["school_id"]),
            "terms": [ctx.refs("academicSession", term_id(r["session_label"], r["start_on"], r["end_on"]))],
        }
        for r in rows
    ]
