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

Every collection is one flat SQL source with the caller's scope in its WHERE clause; the filter,
sort and paging are applied to it in SQL, then the page is rendered with a few batched lookups.
Health, behavior, attendance and financial data are never read here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from db.models import (
    Enrollment,
    EnrollmentStatus,
    GuideAssignment,
    Household,
    HouseholdGuardian,
    HouseholdStudent,
    OfferingStatus,
    Organization,
    OrgLevel,
    Program,
    ProgramOffering,
    RoleGrant,
    Student,
    User,
    UserKind,
)
from domain.errors import NotFound
from domain.oneroster.filters import (
    Filter,
    InvalidSelectionField,
    Kind,
    matches,
    parse_fields,
    parse_filter,
    to_sql,
)
from domain.oneroster.schemas import MAX_LIMIT, Collection, DisclosedStudent, OneRosterPage, OneRosterQuery
from policies.scope import DataClass, Scope

AnySelect = Select[*tuple[Any, ...]]
# Stable ids of derived academic sessions (uuid5 of their natural key under this namespace).
SESSION_NAMESPACE = uuid.UUID("6f3d0a52-7a61-4a3e-9b1e-0e2f3c4d5a61")
ORG_TYPES = {
    OrgLevel.NETWORK.value: "district",
    OrgLevel.BRAND.value: "local",
    OrgLevel.CAMPUS.value: "school",
    OrgLevel.PROGRAM.value: "department",
}
# SIS roles exported as OneRoster users; other staff roles (nurse, finance, ...) are not rostered.
STAFF_ROLES = {
    "guide": "teacher",
    "campus_director": "principal",
    "registrar": "siteAdministrator",
    "network_admin": "districtAdministrator",
}
PARENT_RELATIONSHIPS = ("mother", "father", "stepmother", "stepfather", "parent")
HOLDING = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)
FAR_FUTURE = dt.date(9999, 12, 31)
RACE_FLAGS = {
    "American Indian or Alaska Native": "americanIndianOrAlaskaNative",
    "Asian": "asian",
    "Black or African American": "blackOrAfricanAmerican",
    "Native Hawaiian or Other Pacific Islander": "nativeHawaiianOrOtherPacificIslander",
    "White": "white",
    "Two or more races": "demographicRaceTwoOrMoreRaces",
}
HISPANIC = "Hispanic or Latino"

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


def school_year_of(end_on: dt.date) -> int:
    """The school year a period belongs to, named by the year it ends in (summer closes the year)."""
    return end_on.year if end_on.month <= 7 else end_on.year + 1


def session_id(kind: str, *parts: object) -> uuid.UUID:
    """The stable sourcedId of a derived academic session."""
    return uuid.uuid5(SESSION_NAMESPACE, "|".join([kind, *map(str, parts)]))


def term_id(label: str, start_on: dt.date, end_on: dt.date) -> uuid.UUID:
    """The sourcedId of the term of an offering period."""
    return session_id("term", label, start_on.isoformat(), end_on.isoformat())


@dataclass(frozen=True)
class Refs:
    """Builds the GUID references of one response (their hrefs share the request's base URL)."""

    base_url: str

    def __call__(self, kind: str, ident: object) -> dict[str, str]:
        path = {"org": "orgs", "academicSession": "academicSessions", "course": "courses", "class": "classes"}
        return {"href": f"{self.base_url}/{path.get(kind, 'users')}/{ident}", "sourcedId": str(ident), "type": kind}


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


def _first_space(session: Session, text: Any) -> ColumnElement[int]:
    if session.get_bind().dialect.name == "postgresql":
        return func.strpos(text, " ")
    return func.instr(text, " ")


def _split_name(session: Session, display: Any) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """(given, family) from a display name: the first word, and the rest (or the whole name twice)."""
    space = _first_space(session, display)
    given = case((space > 0, func.substr(display, 1, space - 1)), else_=display)
    family = case((space > 0, func.substr(display, space + 1)), else_=display)
    return given, family


def _school_of(org: Any) -> ColumnElement[Any]:
    """The school an org row stands for: itself, or for a program-level org its campus."""
    return case((org.level == OrgLevel.PROGRAM, org.parent_id), else_=org.id)


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


def _status(active: Any) -> ColumnElement[str]:
    return case((active, "active"), else_="tobedeleted")


COMMON_FIELDS: dict[str, tuple[str, Kind]] = {
    "sourcedId": ("sourcedId", Kind.UUID),
    "status": ("status", Kind.TEXT),
    "dateLastModified": ("dateLastModified", Kind.DATETIME),
}


def _org_source(session: Session, scope: Scope, q: OneRosterQuery, *, schools_only: bool) -> Source:
    org = Organization
    type_expr = case(*[(org.level == level, kind) for level, kind in ORG_TYPES.items()], else_="department")
    stmt = select(
        org.id.label("sourcedId"),
        _status(org.is_active).label("status"),
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


def _course_source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
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
            .where(_school_of(Organization) == school, scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY))
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


def _teacher_pairs(scope: Scope, as_of: dt.date) -> AnySelect:
    """(guide, class, org) with dates: a guide teaches a class while coaching a student who holds a stint in it."""
    ga, e = GuideAssignment, Enrollment
    overlap = and_(
        ga.student_id == e.student_id,
        ga.org_id == e.org_id,
        ga.start_on <= func.coalesce(e.end_on, FAR_FUTURE),
        func.coalesce(ga.end_on, FAR_FUTURE) >= e.start_on,
    )
    current = and_(e.status.in_(HOLDING), or_(ga.end_on.is_(None), ga.end_on >= as_of))
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
        .where(scope.row_filter(e.org_id, e.student_id, DataClass.DIRECTORY))
        .group_by(ga.guide_user_id, e.offering_id, e.org_id)
    )


def _class_source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    off, prog, org = ProgramOffering, Program, Organization
    stmt = (
        select(
            off.id.label("sourcedId"),
            _status(off.status != OfferingStatus.ARCHIVED).label("status"),
            off.updated_at.label("dateLastModified"),
            off.name.label("title"),
            (prog.code + "-" + off.session_label).label("classCode"),
            literal("scheduled").label("classType"),
            off.program_id.label("course_id"),
            _school_of(org).label("school_id"),
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
        stmt = stmt.where(_school_of(org) == as_uuid(q.school_id))
    if q.course_id is not None:
        stmt = stmt.where(off.program_id == as_uuid(q.course_id))
    if q.term_id is not None:
        period = _term_period(session, scope, q.term_id)
        stmt = stmt.where(
            and_(off.session_label == period[0], off.start_on == period[1], off.end_on == period[2])
            if period
            else false()
        )
    if q.user_id is not None:
        user = as_uuid(q.user_id)
        pairs = _teacher_pairs(scope, q.as_of).subquery()
        as_student = select(Enrollment.offering_id).where(
            Enrollment.student_id == user,
            Enrollment.status.in_(HOLDING),
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


def _user_source(session: Session, scope: Scope, q: OneRosterQuery, *, role: str | None) -> Source:
    """Students, rostered staff and (with contact access) guardians as one union of user rows."""
    parts: list[AnySelect] = []
    school = as_uuid(q.school_id) if q.school_id is not None else None
    klass = as_uuid(q.class_id) if q.class_id is not None else None
    if (q.school_id is not None and school is None) or (q.class_id is not None and klass is None):
        role = "nobody"
    if role in (None, "student"):
        student_email = null() if scope.hides("student", "email") else Student.email
        students = select(
            Student.id.label("sourcedId"),
            literal("active").label("status"),
            Student.updated_at.label("dateLastModified"),
            literal("true").label("enabledUser"),
            Student.first_name.label("givenName"),
            Student.last_name.label("familyName"),
            Student.preferred_name.label("preferredFirstName"),
            cast(Student.student_number, String).label("identifier"),
            cast(student_email, String).label("email"),
            literal("student").label("role"),
            Student.org_id.label("primary_org_id"),
            literal("student").label("kind"),
            cast(Student.grade_level, Integer).label("grade"),
        ).where(scope.student_filter(DataClass.DIRECTORY))
        if school is not None:
            students = students.where(Student.org_id == school)
        if klass is not None:
            students = students.where(
                exists().where(
                    Enrollment.student_id == Student.id,
                    Enrollment.offering_id == klass,
                    Enrollment.status.in_(HOLDING),
                    scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.DIRECTORY),
                )
            )
        parts.append(students)
    light = list(parts)
    if role in (None, "teacher"):
        staff = {"teachers_only": role == "teacher", "school": school, "klass": klass}
        parts.append(_staff_rows(session, scope, q, **staff))  # type: ignore[arg-type]
        light.append(_staff_rows(session, scope, q, **staff, light=True))  # type: ignore[arg-type]
    if role is None and school is None and klass is None and scope.can(DataClass.CONTACT):
        parts.append(_guardian_rows(session, scope))
        light.append(_guardian_rows(session, scope, light=True))
    if not parts:
        nobody = _staff_rows(session, scope, q, teachers_only=True, school=None, klass=None).where(false())
        parts, light = [nobody], [nobody]

    def combined(selects: list[AnySelect]) -> AnySelect:
        return union_all(*selects).subquery("users").select() if len(selects) > 1 else selects[0]

    fields = {
        **COMMON_FIELDS,
        "enabledUser": ("enabledUser", Kind.TEXT),
        "givenName": ("givenName", Kind.TEXT),
        "familyName": ("familyName", Kind.TEXT),
        "preferredFirstName": ("preferredFirstName", Kind.TEXT),
        "identifier": ("identifier", Kind.TEXT),
        "email": ("email", Kind.TEXT),
        "role": ("role", Kind.TEXT),
        "roles.role": ("role", Kind.TEXT),
        "primaryOrg.sourcedId": ("primary_org_id", Kind.UUID),
    }
    heavy = frozenset({"role", "roles.role", "primaryOrg.sourcedId"})
    branches = tuple(light) if len(light) > 1 else ()
    return Source(combined(parts), fields, _render_users, "user", light=combined(light), heavy=heavy, branches=branches)


def _visible_grant(scope: Scope, q: OneRosterQuery, user_id: Any) -> ColumnElement[bool]:
    return and_(
        RoleGrant.user_id == user_id,
        RoleGrant.role.in_(sorted(STAFF_ROLES)),
        scope.org_filter(RoleGrant.org_id, DataClass.DIRECTORY),
        or_(RoleGrant.expires_on.is_(None), RoleGrant.expires_on >= q.as_of),
    )


def _staff_rows(
    session: Session,
    scope: Scope,
    q: OneRosterQuery,
    *,
    teachers_only: bool,
    school: uuid.UUID | None,
    klass: uuid.UUID | None,
    light: bool = False,
) -> AnySelect:
    mapped = case(*[(RoleGrant.role == sis, oneroster) for sis, oneroster in STAFF_ROLES.items()])
    visible = _visible_grant(scope, q, User.id)
    if teachers_only:
        visible = and_(visible, RoleGrant.role == "guide")
    if school is not None:
        visible = and_(visible, RoleGrant.org_id == school)
    role_col: Any = select(func.min(mapped)).where(visible).scalar_subquery()
    primary_org: Any = (
        select(RoleGrant.org_id).where(visible).order_by(RoleGrant.granted_at, RoleGrant.id).limit(1).scalar_subquery()
    )
    if light:
        role_col, primary_org = cast(null(), String), cast(null(), RoleGrant.org_id.type)
    stmt = select(*_user_account_columns(session, scope, role_col, primary_org, "staff")).where(
        User.kind == UserKind.STAFF, exists().where(visible)
    )
    if klass is not None:
        pairs = _teacher_pairs(scope, q.as_of).subquery()
        stmt = stmt.where(User.id.in_(select(pairs.c.user_id).where(pairs.c.class_id == klass, pairs.c.current == 1)))
    return stmt


def _user_account_columns(session: Session, scope: Scope, role_col: Any, primary_org: Any, kind: str) -> list[Any]:
    """The OneRoster user columns of a user_account row (staff or guardian); email only where visible."""
    given, family = _split_name(session, User.display_name)
    email = null() if scope.hides("user_account", "email") else User.email
    return [
        User.id.label("sourcedId"),
        _status(User.is_active).label("status"),
        User.updated_at.label("dateLastModified"),
        case((User.is_active, "true"), else_="false").label("enabledUser"),
        given.label("givenName"),
        family.label("familyName"),
        cast(null(), String).label("preferredFirstName"),
        cast(null(), String).label("identifier"),
        cast(email, String).label("email"),
        role_col.label("role"),
        primary_org.label("primary_org_id"),
        literal(kind).label("kind"),
        cast(null(), Integer).label("grade"),
    ]


def _guardian_link(scope: Scope, user_id: Any) -> ColumnElement[bool]:
    return and_(
        HouseholdGuardian.user_id == user_id,
        Household.id == HouseholdGuardian.household_id,
        scope.org_filter(Household.org_id, DataClass.CONTACT),
    )


def _guardian_rows(session: Session, scope: Scope, *, light: bool = False) -> AnySelect:
    link = _guardian_link(scope, User.id)
    role_col: Any = (
        select(func.max(case((HouseholdGuardian.relationship.in_(PARENT_RELATIONSHIPS), "parent"), else_="guardian")))
        .select_from(HouseholdGuardian, Household)
        .where(link)
        .scalar_subquery()
    )
    primary_org: Any = (
        select(Household.org_id)
        .select_from(HouseholdGuardian, Household)
        .where(link)
        .order_by(HouseholdGuardian.is_primary.desc(), Household.created_at, Household.id)
        .limit(1)
        .scalar_subquery()
    )
    if light:
        role_col, primary_org = cast(null(), String), cast(null(), Household.org_id.type)
    return select(*_user_account_columns(session, scope, role_col, primary_org, "guardian")).where(
        User.kind == UserKind.GUARDIAN, exists().select_from(HouseholdGuardian, Household).where(link)
    )


def _render_users(session: Session, scope: Scope, rows: Sequence[RowMapping], ctx: Context) -> list[dict[str, Any]]:
    by_kind: dict[str, list[uuid.UUID]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r["sourcedId"])
    roles: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    agents: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if by_kind["staff"]:
        seen_org: set[tuple[uuid.UUID, uuid.UUID]] = set()
        for user_id, role, org_id in session.execute(
            select(RoleGrant.user_id, RoleGrant.role, RoleGrant.org_id)
            .where(RoleGrant.user_id.in_(by_kind["staff"]), _visible_grant(scope, ctx.query, RoleGrant.user_id))
            .order_by(RoleGrant.granted_at, RoleGrant.id)
        ):
            # One primary role per org, as the standard asks; further roles there are secondary.
            kind = "secondary" if (user_id, org_id) in seen_org else "primary"
            seen_org.add((user_id, org_id))
            roles[user_id].append({"roleType": kind, "role": STAFF_ROLES[role], "org": ctx.refs("org", org_id)})
    if by_kind["student"] and scope.can(DataClass.CONTACT):
        for student_id, guardian_id in session.execute(
            select(HouseholdStudent.student_id, HouseholdGuardian.user_id)
            .join(HouseholdGuardian, HouseholdGuardian.household_id == HouseholdStudent.household_id)
            .join(Household, Household.id == HouseholdStudent.household_id)
            .where(
                HouseholdStudent.student_id.in_(by_kind["student"]),
                scope.org_filter(Household.org_id, DataClass.CONTACT),
            )
            .order_by(HouseholdGuardian.is_primary.desc(), HouseholdGuardian.user_id)
        ):
            if guardian_id not in agents[student_id]:
                agents[student_id].append(guardian_id)
    if by_kind["guardian"]:
        seen_guardian_org: set[tuple[uuid.UUID, uuid.UUID]] = set()
        for guardian_id, relationship, org_id in session.execute(
            select(HouseholdGuardian.user_id, HouseholdGuardian.relationship, Household.org_id)
            .join(Household, Household.id == HouseholdGuardian.household_id)
            .where(
                HouseholdGuardian.user_id.in_(by_kind["guardian"]),
                scope.org_filter(Household.org_id, DataClass.CONTACT),
            )
            .order_by(HouseholdGuardian.is_primary.desc(), Household.id)
        ):
            if (guardian_id, org_id) in seen_guardian_org:
                continue
            seen_guardian_org.add((guardian_id, org_id))
            role = "parent" if relationship in PARENT_RELATIONSHIPS else "guardian"
            roles[guardian_id].append({"roleType": "primary", "role": role, "org": ctx.refs("org", org_id)})
        for guardian_id, student_id in session.execute(
            select(HouseholdGuardian.user_id, HouseholdStudent.student_id)
            .join(HouseholdStudent, HouseholdStudent.household_id == HouseholdGuardian.household_id)
            .join(Household, Household.id == HouseholdGuardian.household_id)
            .join(Student, Student.id == HouseholdStudent.student_id)
            .where(
                HouseholdGuardian.user_id.in_(by_kind["guardian"]),
                scope.org_filter(Household.org_id, DataClass.CONTACT),
                scope.student_filter(DataClass.DIRECTORY),
            )
            .order_by(HouseholdStudent.student_id)
        ):
            if student_id not in agents[guardian_id]:
                agents[guardian_id].append(student_id)
    out = []
    for r in rows:
        user_id = r["sourcedId"]
        item: dict[str, Any] = {
            "sourcedId": str(user_id),
            "status": r["status"],
            "dateLastModified": timestamp(r["dateLastModified"]),
            "enabledUser": r["enabledUser"],
            "givenName": r["givenName"],
            "familyName": r["familyName"],
        }
        if r["preferredFirstName"]:
            item["preferredFirstName"] = r["preferredFirstName"]
        if r["kind"] == "student":
            item["roles"] = [{"roleType": "primary", "role": "student", "org": ctx.refs("org", r["primary_org_id"])}]
        else:
            item["roles"] = roles.get(user_id) or [
                {"roleType": "primary", "role": r["role"], "org": ctx.refs("org", r["primary_org_id"])}
            ]
        if r["primary_org_id"] is not None:
            item["primaryOrg"] = ctx.refs("org", r["primary_org_id"])
        if r["identifier"] is not None:
            item["identifier"] = r["identifier"]
            item["userIds"] = [{"type": "studentNumber", "identifier": r["identifier"]}]
        if r["email"] is not None:
            item["email"] = r["email"]
        item["agents"] = [ctx.refs("user", a) for a in agents.get(user_id, [])]
        if r["grade"] is not None:
            item["grades"] = [grade_code(r["grade"])]
        item["metadata"] = {"sis": {"kind": r["kind"]}}
        out.append(item)
    return out


def _enrollment_source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    e, org = Enrollment, aliased(Organization)
    school = as_uuid(q.school_id) if q.school_id is not None else None
    klass = as_uuid(q.class_id) if q.class_id is not None else None
    students = (
        select(
            uuid_text(session, e.id).label("sourcedId"),
            _status(e.status.in_(HOLDING)).label("status"),
            e.updated_at.label("dateLastModified"),
            e.student_id.label("user_id"),
            e.offering_id.label("class_id"),
            _school_of(org).label("school_id"),
            literal("student").label("role"),
            cast(null(), String).label("primary"),
            e.start_on.label("beginDate"),
            e.end_on.label("endDate"),
            e.student_id.label("student_id"),
        )
        .join(org, org.id == e.org_id)
        .where(scope.row_filter(e.org_id, e.student_id, DataClass.DIRECTORY))
    )
    pairs = _teacher_pairs(scope, q.as_of).subquery("pairs")
    porg = aliased(Organization)
    teachers = select(
        (uuid_text(session, pairs.c.class_id) + "." + uuid_text(session, pairs.c.user_id)).label("sourcedId"),
        _status(pairs.c.current == 1).label("status"),
        pairs.c.modified_at.label("dateLastModified"),
        pairs.c.user_id.label("user_id"),
        pairs.c.class_id.label("class_id"),
        _school_of(porg).label("school_id"),
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


def _demographics_source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    stmt = select(
        Student.id.label("sourcedId"),
        literal("active").label("status"),
        Student.updated_at.label("dateLastModified"),
        Student.birth_on.label("birthDate"),
        Student.sex.label("sex"),
        Student.ethnicity.label("ethnicity"),
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
        ethnicity = r["ethnicity"]
        if ethnicity:
            # One recorded value: its flag is true and the others false; nothing when unrecorded.
            for label, flag in RACE_FLAGS.items():
                item[flag] = "true" if ethnicity == label else "false"
            item["hispanicOrLatinoEthnicity"] = "true" if ethnicity == HISPANIC else "false"
        out.append(item)
    return out


# -- academic sessions (derived from offering periods) -------------------------------------------


SESSION_KINDS: dict[str, Kind] = {
    "sourcedId": Kind.UUID,
    "status": Kind.TEXT,
    "dateLastModified": Kind.DATETIME,
    "title": Kind.TEXT,
    "type": Kind.TEXT,
    "startDate": Kind.DATE,
    "endDate": Kind.DATE,
    "schoolYear": Kind.TEXT,
    "parent.sourcedId": Kind.UUID,
}


def _periods(session: Session, scope: Scope, school: str | None) -> list[tuple[str, dt.date, dt.date, dt.datetime]]:
    """Distinct offering periods visible to the caller, with their latest modification."""
    stmt = (
        select(
            ProgramOffering.session_label,
            ProgramOffering.start_on,
            ProgramOffering.end_on,
            func.max(ProgramOffering.updated_at),
        )
        .join(Organization, Organization.id == ProgramOffering.org_id)
        .where(scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY))
        .group_by(ProgramOffering.session_label, ProgramOffering.start_on, ProgramOffering.end_on)
    )
    if school is not None:
        school_id = as_uuid(school)
        stmt = stmt.where(_school_of(Organization) == school_id if school_id else false())
    return [(label, start, end, modified) for label, start, end, modified in session.execute(stmt)]


def _term_period(session: Session, scope: Scope, ident: str) -> tuple[str, dt.date, dt.date] | None:
    wanted = as_uuid(ident)
    for label, start, end, _ in _periods(session, scope, None):
        if term_id(label, start, end) == wanted:
            return label, start, end
    return None


def _session_rows(session: Session, scope: Scope, q: OneRosterQuery) -> list[dict[str, Any]]:
    """Flat rows of every visible term and school year (filterable fields plus what rendering needs)."""
    rows: list[dict[str, Any]] = []
    years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for label, start, end, modified in _periods(session, scope, q.school_id):
        year = school_year_of(end)
        row = {
            "sourcedId": term_id(label, start, end),
            "status": "active",
            "dateLastModified": modified,
            "title": label,
            "type": "term",
            "startDate": start,
            "endDate": end + dt.timedelta(days=1),
            "schoolYear": str(year),
            "parent.sourcedId": session_id("schoolYear", year),
            "children": [],
        }
        years[year].append(row)
        rows.append(row)
    for year, terms in years.items():
        rows.append(
            {
                "sourcedId": session_id("schoolYear", year),
                "status": "active",
                "dateLastModified": max(t["dateLastModified"] for t in terms),
                "title": f"School year {year - 1}-{year % 100:02d}",
                "type": "schoolYear",
                "startDate": min(t["startDate"] for t in terms),
                "endDate": max(t["endDate"] for t in terms),
                "schoolYear": str(year),
                "parent.sourcedId": None,
                "children": sorted((t["sourcedId"] for t in terms), key=str),
            }
        )
    return rows


def _render_session(row: Mapping[str, Any], refs: Refs) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sourcedId": str(row["sourcedId"]),
        "status": row["status"],
        "dateLastModified": timestamp(row["dateLastModified"]),
        "title": row["title"],
        "startDate": row["startDate"].isoformat(),
        "endDate": row["endDate"].isoformat(),
        "type": row["type"],
        "schoolYear": row["schoolYear"],
        "children": [refs("academicSession", c) for c in row["children"]],
    }
    if row["parent.sourcedId"] is not None:
        item["parent"] = refs("academicSession", row["parent.sourcedId"])
    return item


def _read_sessions(session: Session, scope: Scope, q: OneRosterQuery, parsed: Filter | None) -> tuple[int, list[Any]]:
    """Sessions are a handful of derived rows: scoped in SQL (_periods), then filtered and paged here."""
    wanted_type = {Collection.TERMS: "term", Collection.GRADING_PERIODS: "gradingPeriod"}.get(q.collection)
    if q.term_id is not None and q.collection is not Collection.GRADING_PERIODS:
        wanted_type = "nothing"
    rows = [
        r
        for r in _session_rows(session, scope, q)
        if (wanted_type is None or r["type"] == wanted_type) and matches(parsed, r, SESSION_KINDS)
    ]
    if q.sourced_id is not None:
        wanted = as_uuid(q.sourced_id)
        rows = [r for r in rows if r["sourcedId"] == wanted]
    sort = q.sort or "sourcedId"
    if sort not in SESSION_KINDS:
        raise InvalidSelectionField(f"cannot sort by {sort!r}; sortable: {', '.join(SESSION_KINDS)}", field="sort")
    rows.sort(key=lambda r: (r[sort] is None, str(r[sort]) if sort.endswith("sourcedId") else r[sort] or ""))
    if q.order_by == "desc":
        rows.reverse()
    return len(rows), rows


# -- the read ----------------------------------------------------------------------------------


def _source(session: Session, scope: Scope, q: OneRosterQuery) -> Source:
    c = q.collection
    if c in (Collection.ORGS, Collection.SCHOOLS):
        return _org_source(session, scope, q, schools_only=c is Collection.SCHOOLS)
    if c is Collection.COURSES:
        return _course_source(session, scope, q)
    if c is Collection.CLASSES:
        return _class_source(session, scope, q)
    if c in (Collection.USERS, Collection.STUDENTS, Collection.TEACHERS):
        role = {Collection.STUDENTS: "student", Collection.TEACHERS: "teacher"}.get(c)
        return _user_source(session, scope, q, role=role)
    if c is Collection.ENROLLMENTS:
        return _enrollment_source(session, scope, q)
    return _demographics_source(session, scope, q)


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
    session: Session, source: Source, parsed: Any, sort: str, descending: bool, offset: int, limit: int
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
        top = (
            select(b.c.sourcedId, key.label("sort_key"))
            .where(to_sql(parsed, columns))
            .order_by(*ordered)
            .limit(wanted)
            .subquery()
        )
        picked.append(select(top.c.sourcedId, top.c.sort_key))
    merged = union_all(*picked).subquery("picked")
    order = (merged.c.sort_key.desc() if descending else merged.c.sort_key.asc(), merged.c.sourcedId.asc())
    return list(session.execute(select(merged.c.sourcedId).order_by(*order).limit(limit).offset(offset)).scalars())


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
    if entity == "academicSession":
        total, rows = _read_sessions(session, scope, q, parsed)
        page = rows if q.sourced_id is not None else rows[q.offset : q.offset + limit]
        items = [_render_session(r, refs) for r in page]
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
        total = session.execute(select(func.count()).select_from(sub).where(condition)).scalar_one()
        # Two steps: pick the page's ids from the cheap columns, then read whole rows for those ids only,
        # so per-row subqueries (roles, primary orgs) run for one page, never for the whole collection.
        if light and source.branches and q.sourced_id is None:
            ids = _page_ids_per_branch(session, source, parsed, sort, q.order_by == "desc", q.offset, limit)
        else:
            ids = list(
                session.execute(
                    select(sub.c.sourcedId)
                    .where(condition)
                    .order_by(order, sub.c.sourcedId)
                    .limit(limit)
                    .offset(q.offset)
                ).scalars()
            )
        full_rows = session.execute(select(full).where(full.c.sourcedId.in_(ids))).mappings().all() if ids else []
        by_id = {row["sourcedId"]: row for row in full_rows}
        page_rows = [by_id[i] for i in ids if i in by_id]
        items = source.render(session, scope, page_rows, Context(q, refs))
        disclosed = _disclosed(q.collection, items, page_rows)
    if q.sourced_id is not None and not items:
        raise NotFound(f"{entity} {q.sourced_id} not found", field="sourcedId")
    return OneRosterPage(
        collection=q.collection.value,
        total=total,
        limit=limit,
        offset=q.offset,
        items=_project(items, fields),
        disclosed=[DisclosedStudent(student_id=s) for s in dict.fromkeys(disclosed)],
    )
