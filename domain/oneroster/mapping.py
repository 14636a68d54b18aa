"""What every OneRoster collection shares: entity properties, the `Source` a collection is read from, value formats.

Each collection module (orgs, courses, classes, users, enrollments, demographics) builds a
`Source` from these pieces, with references built by `Refs`; `service.read` filters, sorts,
pages and renders it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import EnrollmentStatus, OrgLevel
from domain.oneroster.filters import Kind
from domain.oneroster.schemas import Collection, OneRosterQuery
from policies.scope import Scope

AnySelect = Select[*tuple[Any, ...]]
# Stints a OneRoster consumer sees as current: active only (a pending stint grants no access yet).
CURRENT = (EnrollmentStatus.ACTIVE,)

BASE_PROPERTIES = ("sourcedId", "status", "dateLastModified", "metadata")
PROPERTIES: dict[str, tuple[str, ...]] = {
    "org": (*BASE_PROPERTIES, "name", "type", "identifier", "parent", "children"),
    "academicSession": (
        *BASE_PROPERTIES,
        "title",
        "startDate",
        "endDate",
        "type",
        "parent",
        "children",
        "schoolYear",
    ),
    "course": (*BASE_PROPERTIES, "title", "schoolYear", "courseCode", "grades", "subjects", "org", "subjectCodes"),
    "class": (
        *BASE_PROPERTIES,
        "title",
        "classCode",
        "classType",
        "location",
        "grades",
        "subjects",
        "course",
        "school",
        "terms",
        "subjectCodes",
        "periods",
    ),
    "user": (
        *BASE_PROPERTIES,
        "userMasterIdentifier",
        "username",
        "userIds",
        "enabledUser",
        "givenName",
        "familyName",
        "middleName",
        "preferredFirstName",
        "preferredMiddleName",
        "preferredLastName",
        "pronouns",
        "roles",
        "userProfiles",
        "primaryOrg",
        "identifier",
        "email",
        "sms",
        "phone",
        "agents",
        "grades",
        "password",
    ),
    "enrollment": (*BASE_PROPERTIES, "user", "class", "school", "role", "primary", "beginDate", "endDate"),
    "demographics": (
        *BASE_PROPERTIES,
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ),
}
ENTITY_OF = {
    Collection.ORGS: "org",
    Collection.SCHOOLS: "org",
    Collection.ACADEMIC_SESSIONS: "academicSession",
    Collection.TERMS: "academicSession",
    Collection.GRADING_PERIODS: "academicSession",
    Collection.COURSES: "course",
    Collection.CLASSES: "class",
    Collection.USERS: "user",
    Collection.STUDENTS: "user",
    Collection.TEACHERS: "user",
    Collection.ENROLLMENTS: "enrollment",
    Collection.DEMOGRAPHICS: "demographics",
}


# -- small helpers -----------------------------------------------------------------------------


def timestamp(value: dt.datetime) -> str:
    """A UTC date-time as OneRoster writes it (W3C profile of ISO 8601, with Z)."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def grade_code(grade: int) -> str:
    """CEDS grade code: PK, KG, 01..12."""
    return {-1: "PK", 0: "KG"}.get(grade, f"{grade:02d}")


def as_uuid(text: str | None) -> uuid.UUID | None:
    """The UUID in `text`, or None when it is not one (such ids match nothing)."""
    if text is None:
        return None
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Refs:
    """Builds the GUID references of one response (their hrefs share the request's base URL)."""

    base_url: str

    def __call__(self, kind: str, ident: object) -> dict[str, str]:
        path = {"org": "orgs", "academicSession": "academicSessions", "course": "courses", "class": "classes"}
        return {"href": f"{self.base_url}/{path.get(kind, 'users')}/{ident}", "sourcedId": str(ident), "type": kind}


def school_of(org: Any) -> ColumnElement[Any]:
    """The school an org row stands for: itself, or for a program-level org its campus."""
    return case((org.level == OrgLevel.PROGRAM, org.parent_id), else_=org.id)


def status_of(active: Any) -> ColumnElement[str]:
    """OneRoster's status of a row: active, or tobedeleted (ended rows stay in the collection)."""
    return case((active, "active"), else_="tobedeleted")


# -- sources -----------------------------------------------------------------------------------


Renderer = Callable[[Session, Scope, Sequence[RowMapping], "Context"], list[dict[str, Any]]]


@dataclass(frozen=True)
class Context:
    query: OneRosterQuery
    refs: Refs


@dataclass(frozen=True)
class Source:
    """A collection as one flat SQL statement, its filterable fields and how a page of it renders."""

    stmt: AnySelect
    fields: Mapping[str, tuple[str, Kind]]
    render: Renderer
    entity: str
    # The same rows without the per-row subqueries, for counting and paging when no filter or sort needs them.
    light: AnySelect | None = None
    heavy: frozenset[str] = frozenset()
    # When `light` is a UNION ALL: its branches (same labels), so a page can be picked per branch.
    branches: tuple[AnySelect, ...] = ()


COMMON_FIELDS: dict[str, tuple[str, Kind]] = {
    "sourcedId": ("sourcedId", Kind.UUID),
    "status": ("status", Kind.TEXT),
    "dateLastModified": ("dateLastModified", Kind.DATETIME),
}
