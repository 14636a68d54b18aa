"""The courses collection: programs as OneRoster courses.

A program is visible where the caller sees its org or one of its offerings; its grades are those
of its visible offerings.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import false, literal, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from db.models import Organization, Program, ProgramOffering
from domain.oneroster.filters import Kind
from domain.oneroster.mapping import COMMON_FIELDS, Context, Source, as_uuid, grade_code, school_of, timestamp
from domain.oneroster.schemas import OneRosterQuery
from policies.scope import DataClass, Scope


def course_source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    """Every visible program, or only those offered at `q.school_id`."""
    offered_here = select(ProgramOffering.program_id).where(
        scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY)
    )
    stmt = select(
        Program.id.label("sourcedId"),
        literal("active").label("status"),
        Program.updated_at.label("dateLastModified"),
        Program.name.label("title"),
        Program.code.label("courseCode"),
        Program.org_id.label("org_id"),
        Program.kind.label("program_kind"),
    ).where(or_(scope.org_filter(Program.org_id, DataClass.DIRECTORY), Program.id.in_(offered_here)))
    if q.school_id is not None:
        school = as_uuid(q.school_id)
        at_school = (
            select(ProgramOffering.program_id)
            .join(Organization, Organization.id == ProgramOffering.org_id)
            .where(school_of(Organization) == school, scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY))
        )
        stmt = stmt.where(Program.id.in_(at_school) if school else false())
    fields = {
        **COMMON_FIELDS,
        "title": ("title", Kind.TEXT),
        "courseCode": ("courseCode", Kind.TEXT),
        "org.sourcedId": ("org_id", Kind.UUID),
    }
    return Source(stmt, fields, _render_courses, "course")


def _render_courses(session: Session, scope: Scope, rows: Sequence[RowMapping], ctx: Context) -> list[dict[str, Any]]:
    ids = [r["sourcedId"] for r in rows]
    grades: dict[uuid.UUID, set[int]] = defaultdict(set)
    if ids:
        for program_id, lo, hi in session.execute(
            select(ProgramOffering.program_id, ProgramOffering.grade_min, ProgramOffering.grade_max).where(
                ProgramOffering.program_id.in_(ids), scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY)
            )
        ):
            grades[program_id].update(range(lo, hi + 1))
    return [
        {
            "sourcedId": str(r["sourcedId"]),
            "status": r["status"],
            "dateLastModified": timestamp(r["dateLastModified"]),
            "metadata": {"sis": {"programKind": str(r["program_kind"])}},
            "title": r["title"],
            "courseCode": r["courseCode"],
            "grades": [grade_code(g) for g in sorted(grades.get(r["sourcedId"], set()))],
            "org": ctx.refs("org", r["org_id"]),
        }
        for r in rows
    ]
