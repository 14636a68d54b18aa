"""The demographics collection: students' birth date, sex, and race and ethnicity flags, under demographic access.

It is read under its own data class (DEMOGRAPHICS) by its own tool, `oneroster_demographics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from db.models import Student
from domain.oneroster.filters import Kind
from domain.oneroster.mapping import COMMON_FIELDS, Context, Source, timestamp
from domain.oneroster.schemas import OneRosterQuery
from policies.scope import DataClass, Scope

RACE_FLAGS = {
    "American Indian or Alaska Native": "americanIndianOrAlaskaNative",
    "Asian": "asian",
    "Black or African American": "blackOrAfricanAmerican",
    "Native Hawaiian or Other Pacific Islander": "nativeHawaiianOrOtherPacificIslander",
    "White": "white",
    "Two or more races": "demographicRaceTwoOrMoreRaces",
}
HISPANIC = "Hispanic or Latino"


def demographics_source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    stmt = select(
        Student.id.label("sourcedId"),
        literal("active").label("status"),
        Student.updated_at.label("dateLastModified"),
        Student.birth_on.label("birthDate"),
        Student.sex.label("sex"),
        Student.ethnicity.label("ethnicity"),
        Student.races.label("races"),
        Student.hispanic_latino.label("hispanic_latino"),
    ).where(scope.student_filter(DataClass.DEMOGRAPHICS))
    fields = {**COMMON_FIELDS, "birthDate": ("birthDate", Kind.DATE), "sex": ("sex", Kind.TEXT)}
    return Source(stmt, fields, _render_demographics, "demographics")


def _render_demographics(
    session: Session, scope: Scope, rows: Sequence[RowMapping], ctx: Context
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        item: dict[str, Any] = {
            "sourcedId": str(r["sourcedId"]),
            "status": r["status"],
            "dateLastModified": timestamp(r["dateLastModified"]),
            "birthDate": r["birthDate"].isoformat(),
            "sex": str(r["sex"]),
        }
        races, hispanic, ethnicity = r["races"], r["hispanic_latino"], r["ethnicity"]
        if races is not None or hispanic is not None:
            # Recorded as Ed-Fi does: every race that applies, and ethnicity on its own.
            chosen = set(races or ())
            for label, flag in RACE_FLAGS.items():
                item[flag] = "true" if label in chosen else "false"
            item["demographicRaceTwoOrMoreRaces"] = "true" if len(chosen) > 1 else "false"
            if hispanic is not None:
                item["hispanicOrLatinoEthnicity"] = "true" if hispanic else "false"
        elif ethnicity:
            # One recorded value: its flag is true and the others false; nothing when unrecorded.
            for label, flag in RACE_FLAGS.items():
                item[flag] = "true" if ethnicity == label else "false"
            item["hispanicOrLatinoEthnicity"] = "true" if ethnicity == HISPANIC else "false"
        out.append(item)
    return out
