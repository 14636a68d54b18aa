"""The users, students and teachers collections: one union of students, rostered staff and guardians.

Staff are rostered by role (guide: teacher, campus director: principal, registrar:
siteAdministrator, network admin: districtAdministrator); other staff roles are not. Guardians
appear as parent or guardian, linked to their students through `agents` in both directions, only
for callers who may read contact data. Emails are left out where the caller's scope hides them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, exists, false, func, literal, null, or_, select, union_all
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import (
    Enrollment,
    Household,
    HouseholdGuardian,
    HouseholdStudent,
    RoleGrant,
    Student,
    User,
    UserKind,
)
from domain.oneroster.enrollments import teacher_pairs
from domain.oneroster.filters import Kind
from domain.oneroster.mapping import (
    COMMON_FIELDS,
    CURRENT,
    AnySelect,
    Context,
    Source,
    as_uuid,
    grade_code,
    status_of,
    timestamp,
)
from domain.oneroster.schemas import OneRosterQuery
from policies.scope import DataClass, Scope

# SIS roles exported as OneRoster users; other staff roles (nurse, finance, ...) are not rostered.
STAFF_ROLES = {
    "guide": "teacher",
    "campus_director": "principal",
    "registrar": "siteAdministrator",
    "network_admin": "districtAdministrator",
}
PARENT_RELATIONSHIPS = ("mother", "father", "stepmother", "stepfather", "parent")


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


def user_source(session: Session, scope: Scope, q: OneRosterQuery, *, role: str | None) -> Source:
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
            # A deactivated or merged record is tobedeleted: consumers drop it (a merge's survivor stays).
            status_of(Student.is_active).label("status"),
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
                    Enrollment.status.in_(CURRENT),
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
        pairs = teacher_pairs(scope, q.as_of).subquery()
        stmt = stmt.where(User.id.in_(select(pairs.c.user_id).where(pairs.c.class_id == klass, pairs.c.current == 1)))
    return stmt


def _user_account_columns(session: Session, scope: Scope, role_col: Any, primary_org: Any, kind: str) -> list[Any]:
    """The OneRoster user columns of a user_account row (staff or guardian); email only where visible."""
    given, family = _split_name(session, User.display_name)
    email = null() if scope.hides("user_account", "email") else User.email
    return [
        User.id.label("sourcedId"),
        status_of(User.is_active).label("status"),
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
