"""Typed create_* factories: rows a test needs, added to its (rolled-back) session."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from sqlalchemy.orm import Session

from db.models import (
    Enrollment,
    EnrollmentStatus,
    GuideAssignment,
    Household,
    HouseholdStudent,
    ImmunizationRecord,
    Organization,
    OrgKind,
    OrgLevel,
    Program,
    ProgramKind,
    ProgramOffering,
    Sex,
    Student,
    User,
    UserKind,
)
from db.sequences import STUDENT_NUMBER, allocate_numbers
from policies.scope import Actor, Scope, scope_for_orgs

_counter = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}{uuid.uuid4().hex[:6]}"


def create_org(
    session: Session,
    *,
    parent: Organization | None = None,
    slug: str | None = None,
    level: OrgLevel = OrgLevel.CAMPUS,
    kind: OrgKind = OrgKind.FULL_SIS,
    jurisdiction: str | None = "TX",
    name: str | None = None,
) -> Organization:
    slug = slug or _unique("org")
    path = f"{parent.path if parent else '/'}{slug}/"
    org = Organization(
        id=uuid.uuid4(),
        parent_id=parent.id if parent else None,
        slug=slug,
        name=name or slug.title(),
        level=level,
        kind=kind,
        path=path,
        jurisdiction=jurisdiction,
    )
    session.add(org)
    session.flush()
    return org


def create_user(session: Session, *, email: str | None = None, kind: UserKind = UserKind.STAFF) -> User:
    user = User(id=uuid.uuid4(), email=email or f"{_unique('u')}@test.example", display_name="Test User", kind=kind)
    session.add(user)
    session.flush()
    return user


def create_student(
    session: Session,
    org: Organization,
    *,
    grade: int = 5,
    birth_on: dt.date | None = None,
    first_name: str = "Test",
    last_name: str | None = None,
) -> Student:
    number = allocate_numbers(session, STUDENT_NUMBER)[0]
    student = Student(
        id=uuid.uuid4(),
        student_number=number,
        org_id=org.id,
        first_name=first_name,
        last_name=last_name or _unique("Student"),
        birth_on=birth_on or dt.date(2025 - grade - 6, 3, 15),
        grade_level=grade,
        sex=Sex.UNSPECIFIED,
    )
    session.add(student)
    session.flush()
    return student


def create_offering(
    session: Session,
    org: Organization,
    *,
    start_on: dt.date = dt.date(2025, 8, 18),
    end_on: dt.date = dt.date(2026, 5, 29),
    capacity: int | None = 30,
    kind: ProgramKind = ProgramKind.REGULAR_YEAR,
    session_label: str = "2025-26",
    tuition_cents: int = 1_500_000,
    **kw: Any,
) -> ProgramOffering:
    program = Program(id=uuid.uuid4(), org_id=org.id, code=_unique("P"), name=f"Program {org.slug}", kind=kind)
    session.add(program)
    offering = ProgramOffering(
        id=uuid.uuid4(),
        program_id=program.id,
        org_id=org.id,
        name=f"{program.name} {session_label}",
        session_label=session_label,
        start_on=start_on,
        end_on=end_on,
        capacity=capacity,
        tuition_cents=tuition_cents,
        **kw,
    )
    session.add(offering)
    session.flush()
    return offering


def create_enrollment(
    session: Session,
    student: Student,
    offering: ProgramOffering,
    *,
    start_on: dt.date | None = None,
    end_on: dt.date | None = None,
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE,
) -> Enrollment:
    enrollment = Enrollment(
        id=uuid.uuid4(),
        student_id=student.id,
        offering_id=offering.id,
        org_id=offering.org_id,
        grade_level=student.grade_level,
        start_on=start_on or offering.start_on,
        end_on=end_on,
        status=status,
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def create_household(session: Session, org: Organization, students: dict[Student, int]) -> Household:
    household = Household(id=uuid.uuid4(), org_id=org.id, name=_unique("Household "))
    session.add(household)
    session.flush()
    for student, share in students.items():
        session.add(HouseholdStudent(household_id=household.id, student_id=student.id, billing_share_bp=share))
    session.flush()
    return household


def create_dose(
    session: Session,
    student: Student,
    *,
    group: str,
    on: dt.date,
    cvx: str | None = None,
    product: str | None = None,
) -> ImmunizationRecord:
    record = ImmunizationRecord(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=student.org_id,
        vaccine_group=group,
        cvx_code=cvx,
        product=product,
        administered_on=on,
    )
    session.add(record)
    session.flush()
    return record


def assign_guide(session: Session, guide: User, student: Student, *, start_on: dt.date) -> GuideAssignment:
    assignment = GuideAssignment(
        id=uuid.uuid4(), guide_user_id=guide.id, student_id=student.id, org_id=student.org_id, start_on=start_on
    )
    session.add(assignment)
    session.flush()
    return assignment


def scope_at(*orgs: Organization, descendants: list[Organization] | None = None, **kw: Any) -> Scope:
    """A test scope covering the given org nodes (and any listed descendants) for every data class."""
    ids = [o.id for o in orgs] + [o.id for o in descendants or []]
    return scope_for_orgs(Actor(user_id=None, label="test"), ids, **kw)
