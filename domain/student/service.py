"""Student directory: search and profile; contact and demographic fields only for roles that hold them."""

from __future__ import annotations

import uuid

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from db.models import Enrollment, HouseholdStudent, Organization, Student
from domain.enrollment.schemas import EnrollmentRead
from domain.errors import NotFound
from domain.org.service import org_names
from domain.paging import page_meta
from domain.student.schemas import (
    StudentEnrollment,
    StudentPage,
    StudentProfile,
    StudentSearchQuery,
    StudentSummary,
)
from domain.visibility import org_condition, transfers_of, travelled_from, with_transferred
from policies.scope import DataClass, Scope


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_students(session: Session, scope: Scope, data: StudentSearchQuery) -> StudentPage:
    """Students visible in the caller's directory scope matching a name fragment or number."""
    scope, in_org = org_condition(session, scope, Student.org_id, data.org_id)
    where = [scope.student_filter(DataClass.DIRECTORY), in_org]
    if data.grade is not None:
        where.append(Student.grade_level == data.grade)
    text = (data.text or "").strip()
    if text:
        terms = text.split()
        for term in terms:
            pattern = f"%{_like_escape(term.lower())}%"
            where.append(
                or_(
                    func.lower(Student.first_name).like(pattern, escape="\\"),
                    func.lower(Student.last_name).like(pattern, escape="\\"),
                    func.lower(func.coalesce(Student.preferred_name, "")).like(pattern, escape="\\"),
                    cast(Student.student_number, String) == term,
                )
            )
    base = select(Student, Organization.name).join(Organization, Organization.id == Student.org_id).where(*where)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        base.order_by(Student.last_name, Student.first_name, Student.student_number)
        .limit(data.limit)
        .offset(data.offset)
    ).all()
    return StudentPage(items=[_summary(s, campus) for s, campus in rows], **page_meta(total, data.limit, data.offset))


def _summary(student: Student, campus: str) -> StudentSummary:
    return StudentSummary(
        id=student.id,
        student_number=student.student_number,
        first_name=student.first_name,
        last_name=student.last_name,
        preferred_name=student.preferred_name,
        grade_level=student.grade_level,
        org_id=student.org_id,
        campus=campus,
    )


def get_student(session: Session, scope: Scope, student_id: uuid.UUID) -> StudentProfile:
    """A student's profile; contact and demographics appear only where the caller's role holds them.

    Raises:
        NotFound: no such student, or outside the caller's directory scope.
    """
    row = session.execute(
        select(Student, Organization.name)
        .join(Organization, Organization.id == Student.org_id)
        .where(Student.id == student_id, scope.student_filter(DataClass.DIRECTORY))
    ).one_or_none()
    if row is None:
        raise NotFound(f"student {student_id} not found", field="student_id")
    student, campus = row
    contact = scope.allows_org(student.org_id, DataClass.CONTACT)
    demographics = scope.allows_org(student.org_id, DataClass.DEMOGRAPHICS)
    # Prior stints at a campus the student transferred from travel with the student (domain/visibility.py).
    enrollments = (
        session.execute(
            select(Enrollment)
            .where(
                Enrollment.student_id == student.id,
                with_transferred(
                    scope, Enrollment.org_id, Enrollment.student_id, Enrollment.start_on, DataClass.DIRECTORY
                ),
            )
            .order_by(Enrollment.start_on.desc())
        )
        .scalars()
        .all()
    )
    transfers = transfers_of(session, student)
    names = org_names(session, scope, {e.org_id for e in enrollments})
    households = session.execute(
        select(HouseholdStudent.household_id)
        .where(HouseholdStudent.student_id == student.id)
        .order_by(HouseholdStudent.household_id)
    ).scalars()
    hidden = [name for name, shown in (("contact", contact), ("demographics", demographics)) if not shown]
    return StudentProfile(
        **_summary(student, campus).model_dump(),
        birth_on=student.birth_on if demographics else None,
        sex=student.sex.value if demographics else None,
        ethnicity=student.ethnicity if demographics else None,
        email=student.email if contact else None,
        phone=student.phone if contact else None,
        address=student.address if contact else None,
        enrollments=[
            StudentEnrollment(
                **EnrollmentRead.model_validate(e).model_dump(),
                campus=names.get(e.org_id, ""),
                transferred_from=travelled_from(transfers, e.org_id, e.start_on, names),
            )
            for e in enrollments
        ],
        household_ids=list(households),
        hidden=hidden,
    )
