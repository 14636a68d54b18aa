"""Student directory: search and profile; contact and demographic fields only for roles that hold them."""

from __future__ import annotations

import uuid

from sqlalchemy import String, bindparam, cast, func, or_, select, tuple_
from sqlalchemy.orm import Session

from db.models import Enrollment, HouseholdStudent, Organization, Student, StudentIdentifier
from domain import cursor
from domain.enrollment.schemas import EnrollmentRead
from domain.errors import InvalidInput, NotFound
from domain.org.service import org_names
from domain.paging import page_meta
from domain.student.schemas import (
    IdentifierRead,
    MergedRecord,
    StudentEnrollment,
    StudentPage,
    StudentProfile,
    StudentSearchQuery,
    StudentSummary,
)
from domain.visibility import org_condition, transfers_of, travelled_from, with_transferred
from policies.scope import DataClass, Scope

# The search's order, unique (student numbers are): a cursor names a row by it (domain/cursor.py).
_ORDER = (Student.last_name, Student.first_name, Student.student_number)
_KINDS = ("str", "str", "int")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_students(session: Session, scope: Scope, data: StudentSearchQuery) -> StudentPage:
    """Students visible in the caller's directory scope matching a name fragment or number."""
    scope, in_org = org_condition(session, scope, Student.org_id, data.org_id)
    where = [scope.student_filter(DataClass.DIRECTORY), in_org, Student.merged_into_id.is_(None)]
    if not data.include_inactive:
        where.append(Student.is_active.is_(True))
    if data.grade is not None:
        where.append(Student.grade_level == data.grade)
    text = (data.text or "").strip()
    # An old number of a merged record finds the survivor (and the row says so).
    merged_numbers = _merged_numbers(session, [t for t in text.split() if t.isdigit()])
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
                    Student.id.in_([survivor for number, survivor in merged_numbers.items() if str(number) == term]),
                )
            )
    base = select(Student, Organization.name).join(Organization, Organization.id == Student.org_id).where(*where)
    bound_to = cursor.fingerprint("search_students", data.model_dump(mode="json", exclude={"limit", "offset", "after"}))
    if data.after is not None:
        if data.offset:
            raise InvalidInput("give either after (a cursor) or offset, not both", field="offset")
        position = cursor.decode(data.after, bound_to, _KINDS, field="after")
        # The order is unique (the student number is), so the row-value bound resumes right after the last row.
        base = base.where(
            tuple_(*_ORDER)
            > tuple_(*(bindparam(None, v, type_=c.type) for c, v in zip(_ORDER, position.key, strict=True)))
        )
        total, passed = position.totals["total"], position.passed
    else:
        total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        passed = data.offset
    fetched = session.execute(base.order_by(*_ORDER).limit(data.limit + 1).offset(data.offset)).all()
    rows, more = fetched[: data.limit], len(fetched) > data.limit
    next_cursor = None
    if more:
        last = rows[-1][0]
        key = (last.last_name, last.first_name, last.student_number)
        next_cursor = cursor.encode(bound_to, _KINDS, cursor.Position(key, passed + len(rows), {"total": total}))
    items = [_summary(s, campus) for s, campus in rows]
    for item in items:
        old = sorted(number for number, survivor in merged_numbers.items() if survivor == item.id)
        if old:
            item.note = f"student number {', '.join(map(str, old))} was merged into this record"
    meta = page_meta(max(total, passed + len(rows) + more), data.limit, passed)
    if not more:
        meta["next_offset"] = None
    return StudentPage(items=items, next_cursor=next_cursor, **meta)


def _merged_numbers(session: Session, terms: list[str]) -> dict[int, uuid.UUID]:
    """Old student number -> survivor id, for the numbers among `terms` that belong to merged records."""
    numbers = [int(t) for t in terms if len(t) <= 9]
    if not numbers:
        return {}
    rows = session.execute(
        select(Student.student_number, Student.merged_into_id).where(
            Student.student_number.in_(numbers), Student.merged_into_id.is_not(None)
        )
    ).all()
    return {number: survivor for number, survivor in rows if survivor is not None}


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
        is_active=student.is_active,
    )


def get_student(session: Session, scope: Scope, student_id: uuid.UUID) -> StudentProfile:
    """A student's profile; contact and demographics appear only where the caller's role holds them.

    A merged record's id answers with the survivor's profile, `resolved_from` naming the old record.

    Raises:
        NotFound: no such student, or outside the caller's directory scope.
    """
    asked = session.execute(
        select(Student.student_number, Student.merged_into_id).where(Student.id == student_id)
    ).one_or_none()
    resolved_from = None
    if asked is not None and asked.merged_into_id is not None:
        resolved_from = MergedRecord(student_id=student_id, student_number=asked.student_number)
    row = session.execute(
        select(Student, Organization.name)
        .join(Organization, Organization.id == Student.org_id)
        .where(
            Student.id == (asked.merged_into_id if resolved_from and asked else student_id),
            scope.student_filter(DataClass.DIRECTORY),
        )
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
    identifiers = session.execute(
        select(StudentIdentifier.system, StudentIdentifier.value)
        .where(StudentIdentifier.student_id == student.id)
        .order_by(StudentIdentifier.system, StudentIdentifier.value)
    ).all()
    merged = session.execute(
        select(Student.id, Student.student_number)
        .where(Student.merged_into_id == student.id)
        .order_by(Student.student_number)
    ).all()
    return StudentProfile(
        **_summary(student, campus).model_dump(),
        middle_name=student.middle_name,
        identifiers=[IdentifierRead(system=system, value=value) for system, value in identifiers],
        inactive_reason=student.inactive_reason,
        resolved_from=resolved_from,
        merged_records=[MergedRecord(student_id=i, student_number=n) for i, n in merged],
        races=student.races if demographics else None,
        hispanic_latino=student.hispanic_latino if demographics else None,
        home_language=student.home_language if demographics else None,
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
