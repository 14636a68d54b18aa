"""OneRoster 1.2 rostering reads as catalog tools, so the OneRoster face takes the one audited path."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy.orm import Session

from domain.errors import InvalidInput
from domain.oneroster import service
from domain.oneroster.schemas import Collection, OneRosterPage, OneRosterQuery
from policies.scope import DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool


class OneRosterReadInput(ToolInput, OneRosterQuery):
    as_of: dt.date | None = Field(default=None, description="Day deciding current assignments (default: today).")  # type: ignore[assignment]


def _query(data: OneRosterReadInput, ctx: ToolContext) -> OneRosterQuery:
    return data.as_domain(OneRosterQuery, as_of=data.as_of or ctx.today)


@tool(
    data_class=DataClass.DIRECTORY,
    title="OneRoster rostering read",
    student_id_fields=("student_id",),
    autocommit_read=True,
)
def oneroster_read(session: Session, scope: Scope, data: OneRosterReadInput, ctx: ToolContext) -> OneRosterPage:
    """Read the roster in OneRoster 1.2 form: orgs, schools, academicSessions, terms, courses, classes, users,
    students, teachers or enrollments (the same answers the OneRoster REST API gives integrators).

    Use query_roster or search_students for questions; use this to see exactly what an integration receives.
    filter uses OneRoster grammar, e.g. status='active' or dateLastModified>'2026-01-01T00:00:00Z'.
    """
    if data.collection is Collection.DEMOGRAPHICS:
        raise InvalidInput(
            "demographics are read with oneroster_demographics (they need demographic access)", field="collection"
        )
    return service.read(session, scope, _query(data, ctx))


class OneRosterDemographicsInput(OneRosterReadInput):
    collection: Collection = Field(default=Collection.DEMOGRAPHICS, description="Always 'demographics'.")


@tool(data_class=DataClass.DEMOGRAPHICS, title="OneRoster demographics read", student_id_fields=("student_id",))
def oneroster_demographics(
    session: Session, scope: Scope, data: OneRosterDemographicsInput, ctx: ToolContext
) -> OneRosterPage:
    """Read students' OneRoster 1.2 demographics (birth date, sex, race and ethnicity flags).

    Needs demographic access. Same paging and filter grammar as oneroster_read.
    """
    if data.collection is not Collection.DEMOGRAPHICS:
        raise InvalidInput("oneroster_demographics reads only the demographics collection", field="collection")
    return service.read(session, scope, _query(data, ctx))


__all__ = ["oneroster_demographics", "oneroster_read"]
