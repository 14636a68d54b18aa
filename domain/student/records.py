"""Student records as a system of record: create (with duplicate detection), update, deactivate.

Data classes: creating a student is a directory write at the home campus, and the demographic
fields come with it (a partner school's integration client holds only directory write and must
be able to roster a new child); contact fields at creation need contact write. Later changes
are checked field by field: names, grade and identifiers need directory write, demographics
need demographics write, contact fields need contact write.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Enrollment, EnrollmentStatus, Organization, OrgLevel, Race, Student, StudentIdentifier
from db.sequences import STUDENT_NUMBER, allocate_numbers
from domain.audit.changes import pending_changes, record_changes
from domain.errors import DuplicateRecord, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from domain.events import emit_event
from domain.student.names import person_key
from domain.student.record_schemas import (
    STATE_SYSTEM,
    CreateStudentInput,
    DeactivateStudentInput,
    StudentPerson,
    UpdateStudentInput,
)
from domain.visibility import visible_student
from policies.scope import CLASS_WORDS, Action, DataClass, Scope

# Youngest and oldest plausible age of a student on the day the record is made (pre-K starts at 3;
# special education may serve students to 21).
MIN_AGE, MAX_AGE = 2, 22
# The grades a campus serves when it does not say: pre-K through 12.
DEFAULT_GRADES = (-1, 12)

FIELD_CLASSES: dict[str, DataClass] = {
    "first_name": DataClass.DIRECTORY,
    "middle_name": DataClass.DIRECTORY,
    "last_name": DataClass.DIRECTORY,
    "preferred_name": DataClass.DIRECTORY,
    "grade_level": DataClass.DIRECTORY,
    "identifiers": DataClass.DIRECTORY,
    "birth_on": DataClass.DEMOGRAPHICS,
    "sex": DataClass.DEMOGRAPHICS,
    "races": DataClass.DEMOGRAPHICS,
    "hispanic_latino": DataClass.DEMOGRAPHICS,
    "home_language": DataClass.DEMOGRAPHICS,
    "email": DataClass.CONTACT,
    "phone": DataClass.CONTACT,
    "address": DataClass.CONTACT,
}
REQUIRED_FIELDS = frozenset({"first_name", "last_name", "birth_on", "grade_level", "sex"})
CONTACT_FIELDS = ("email", "phone", "address")


# -- checks ------------------------------------------------------------------------------------


def check_birth_on(birth_on: dt.date, today: dt.date, *, field: str = "birth_on") -> None:
    """A birth date that is not in the future and gives a plausible school age.

    Raises:
        InvalidInput: field birth_on.
    """
    if birth_on > today:
        raise InvalidInput(f"{field} {birth_on} is in the future", field=field)
    age = today.year - birth_on.year - ((today.month, today.day) < (birth_on.month, birth_on.day))
    if not MIN_AGE <= age <= MAX_AGE:
        raise InvalidInput(
            f"{field} {birth_on} makes the student {age} years old; a student is {MIN_AGE} to {MAX_AGE}",
            field=field,
        )


def check_grade(org: Organization, grade: int) -> None:
    """A grade the campus serves (its own range when it states one, else pre-K..12).

    Raises:
        InvalidInput: field grade_level.
    """
    # An org may state its grade band (the orgs area adds grade_min / grade_max); else PK-12.
    low = getattr(org, "grade_min", None)
    high = getattr(org, "grade_max", None)
    low = DEFAULT_GRADES[0] if low is None else low
    high = DEFAULT_GRADES[1] if high is None else high
    if not low <= grade <= high:
        raise InvalidInput(
            f"grade {grade} is outside {org.name}'s grades {_grade_word(low)}..{_grade_word(high)}",
            field="grade_level",
        )


def _grade_word(grade: int) -> str:
    return {-1: "PK", 0: "K"}.get(grade, str(grade))


def home_campus(session: Session, scope: Scope, org_id: uuid.UUID, action: Action = Action.WRITE) -> Organization:
    """The org a new student's records will belong to: a campus the caller may write to.

    Raises:
        NotFound: no such org or outside the caller's directory scope.
        PermissionDenied: visible, but the caller may not add students there.
        InvalidInput: not a campus, or closed.
    """
    org = session.get(Organization, org_id)
    if org is None or not scope.allows_org(org.id, DataClass.DIRECTORY):
        raise NotFound(f"organization {org_id} not found", field="org_id")
    if not scope.allows_org(org.id, DataClass.DIRECTORY, action):
        raise PermissionDenied(f"your role may not add students at {org.name}", field="org_id")
    if org.level in (OrgLevel.NETWORK, OrgLevel.BRAND):
        raise InvalidInput(f"{org.name} is a {org.level.value}: a student's home is a campus", field="org_id")
    if not org.is_active:
        raise InvalidInput(f"{org.name} is closed", field="org_id")
    return org


def find_duplicates(session: Session, scope: Scope, person: StudentPerson) -> list[Student]:
    """Students in the caller's directory scope with the same normalized first+last name and birth date."""
    key = person_key(person.first_name, person.last_name)
    same_day = session.execute(
        select(Student)
        .where(
            Student.birth_on == person.birth_on,
            Student.merged_into_id.is_(None),
            scope.student_filter(DataClass.DIRECTORY),
        )
        .order_by(Student.student_number)
    ).scalars()
    return [s for s in same_day if person_key(s.first_name, s.last_name) == key]


def refuse_duplicates(
    session: Session, scope: Scope, person: StudentPerson, *, confirmed: bool, link_hint: bool = False
) -> None:
    """Refuse a new record for a child who seems to have one, unless the caller confirmed a new person.

    Raises:
        DuplicateRecord: naming the candidates' student numbers (only students the caller may see).
    """
    if confirmed:
        return
    candidates = find_duplicates(session, scope, person)
    if not candidates:
        return
    names = {
        o.id: o.name
        for o in session.execute(
            select(Organization).where(Organization.id.in_({c.org_id for c in candidates}))
        ).scalars()
    }
    listed = "; ".join(
        f"{c.student_number} ({c.first_name} {c.last_name}, {names[c.org_id]}"
        + ("" if c.is_active else ", inactive")
        + ")"
        for c in candidates
    )
    raise DuplicateRecord(
        f"possible duplicate: {person.first_name} {person.last_name}, born {person.birth_on}, matches student "
        f"{listed}. "
        + ("Pass student_id to link that record" if link_hint else "Use the existing record")
        + ", or set confirm_new_person=true if this is a different child",
        field="confirm_new_person",
    )


def _owner_words(session: Session, scope: Scope, student_id: uuid.UUID) -> str:
    """'student 100123' when the caller may see the owner; otherwise nothing that reveals them."""
    number = session.execute(
        select(Student.student_number).where(Student.id == student_id, scope.student_filter(DataClass.DIRECTORY))
    ).scalar_one_or_none()
    return f"student {number}" if number is not None else "another student record"


def set_identifiers(
    session: Session,
    scope: Scope,
    student: Student,
    identifiers: Mapping[str, str | None],
    *,
    reason: str | None,
    field: str = "identifiers",
) -> None:
    """Set (or, with None, remove) the student's id in each named system; one owner per (system, value).

    Raises:
        DuplicateRecord: the id already belongs to another student (named when visible to the caller).
    """
    for system, value in sorted(identifiers.items()):
        current = (
            session.execute(
                select(StudentIdentifier).where(
                    StudentIdentifier.student_id == student.id, StudentIdentifier.system == system
                )
            )
            .scalars()
            .all()
        )
        if value is not None:
            owner = session.execute(
                select(StudentIdentifier.student_id).where(
                    StudentIdentifier.system == system, StudentIdentifier.value == value
                )
            ).scalar_one_or_none()
            if owner is not None and owner != student.id:
                raise DuplicateRecord(
                    f"{system} id {value!r} already belongs to {_owner_words(session, scope, owner)}",
                    field=field,
                )
            if owner == student.id:
                continue
        for row in current:
            _remove_identifier(session, scope, row, reason)
        if value is not None:
            row = StudentIdentifier(
                id=uuid.uuid4(), student_id=student.id, org_id=student.org_id, system=system, value=value
            )
            session.add(row)
            record_changes(session, scope, row, reason=reason)
    session.flush()


def _remove_identifier(session: Session, scope: Scope, row: StudentIdentifier, reason: str | None) -> None:
    # The removal is on the record as the value going to nothing, then the row goes.
    row.value = ""
    record_changes(session, scope, row, reason=reason)
    session.delete(row)
    session.flush()


def student_payload(student: Student, **extra: Any) -> dict[str, Any]:
    """The data of a student.* event: ids, number, campus and grade; no names, birth date or contact."""
    return {
        "student_id": student.id,
        "student_number": student.student_number,
        "org_id": student.org_id,
        "grade_level": student.grade_level,
        "is_active": student.is_active,
        **extra,
    }


# -- writes ------------------------------------------------------------------------------------


def insert_student(
    session: Session,
    scope: Scope,
    person: StudentPerson,
    org: Organization,
    *,
    grade: int,
    today: dt.date,
    identifiers: Mapping[str, str] | None = None,
    contact: Mapping[str, str | None] | None = None,
    reason: str | None = None,
) -> Student:
    """Add a student with the next student number (callers have checked the campus and duplicates).

    Raises:
        InvalidInput: birth date or grade; DuplicateRecord: an identifier belongs to someone else.
    """
    check_birth_on(person.birth_on, today)
    check_grade(org, grade)
    student = Student(
        id=uuid.uuid4(),
        student_number=allocate_numbers(session, STUDENT_NUMBER)[0],
        org_id=org.id,
        first_name=person.first_name,
        middle_name=person.middle_name,
        last_name=person.last_name,
        preferred_name=person.preferred_name,
        birth_on=person.birth_on,
        grade_level=grade,
        sex=person.sex,
        races=[r.value for r in person.races] if person.races is not None else None,
        hispanic_latino=person.hispanic_latino,
        home_language=person.home_language,
        is_active=True,
        **dict(contact or {}),
    )
    session.add(student)
    record_changes(session, scope, student, reason=reason or "student created")
    session.flush()
    set_identifiers(session, scope, student, dict(identifiers or {}), reason=reason or "student created")
    emit_event(
        session,
        event_type="student.created",
        org_id=student.org_id,
        payload=student_payload(student, identifiers=sorted(f"{k}:{v}" for k, v in (identifiers or {}).items())),
    )
    return student


def create_student(session: Session, scope: Scope, data: CreateStudentInput, *, today: dt.date) -> Student:
    """Create a student at a campus, refusing a likely duplicate unless `confirm_new_person`.

    Raises:
        NotFound, PermissionDenied (campus or contact fields), InvalidInput, DuplicateRecord.
    """
    org = home_campus(session, scope, data.org_id)
    contact = {name: getattr(data, name) for name in CONTACT_FIELDS if getattr(data, name) is not None}
    if contact and not scope.allows_org(org.id, DataClass.CONTACT, Action.WRITE):
        raise PermissionDenied(
            f"your role may not record {CLASS_WORDS[DataClass.CONTACT]}; leave out {', '.join(contact)}",
            field=next(iter(contact)),
        )
    check_birth_on(data.birth_on, today)
    check_grade(org, data.grade_level)
    identifiers = dict(data.identifiers)
    if data.state_student_id is not None:
        if identifiers.get(STATE_SYSTEM) not in (None, data.state_student_id):
            raise InvalidInput("state_student_id and identifiers['state'] differ", field="state_student_id")
        identifiers[STATE_SYSTEM] = data.state_student_id
    refuse_duplicates(session, scope, data, confirmed=data.confirm_new_person)
    return insert_student(
        session,
        scope,
        data,
        org,
        grade=data.grade_level,
        today=today,
        identifiers={k: v for k, v in identifiers.items() if v is not None},
        contact=contact,
        reason=data.reason,
    )


def _require_write(
    session: Session, scope: Scope, student: Student, data_class: DataClass, fields: Iterable[str]
) -> None:
    allowed = session.execute(
        select(Student.id).where(Student.id == student.id, scope.student_filter(data_class, Action.WRITE))
    ).first()
    if allowed is None:
        names = sorted(fields)
        raise PermissionDenied(
            f"your role may not change {CLASS_WORDS[data_class]} ({', '.join(names)}) of this student",
            field=names[0],
        )


def update_student(session: Session, scope: Scope, data: UpdateStudentInput, *, today: dt.date) -> Student:
    """Change the fields sent, each checked against its data class; every change is recorded with the reason.

    Raises:
        NotFound, PermissionDenied (naming the fields), InvalidInput, DuplicateRecord (identifiers).
    """
    student = visible_student(session, scope, data.student_id)
    sent = data.model_fields_set & set(FIELD_CLASSES)
    if not sent:
        raise InvalidInput("send at least one field to change", field="student_id")
    by_class: dict[DataClass, set[str]] = {}
    for name in sent:
        by_class.setdefault(FIELD_CLASSES[name], set()).add(name)
    for data_class, fields in sorted(by_class.items()):
        _require_write(session, scope, student, data_class, fields)
    for name in sorted(sent & REQUIRED_FIELDS):
        if getattr(data, name) is None:
            raise InvalidInput(f"{name} cannot be cleared", field=name)
    if "birth_on" in sent and data.birth_on is not None:
        check_birth_on(data.birth_on, today)
    if "grade_level" in sent and data.grade_level is not None:
        check_grade(session.get_one(Organization, student.org_id), data.grade_level)
    for name in sorted(sent - {"identifiers"}):
        value = getattr(data, name)
        if name == "races" and value is not None:
            value = [r.value for r in sorted(set(value), key=list(Race).index)]
        if isinstance(value, str):
            value = value.strip()
        setattr(student, name, value)
    changed = sorted(record_and_names(session, scope, student, data.reason))
    session.flush()
    if "identifiers" in sent and data.identifiers:
        set_identifiers(session, scope, student, data.identifiers, reason=data.reason)
        changed.append("identifiers")
    if changed:
        emit_event(
            session,
            event_type="student.updated",
            org_id=student.org_id,
            payload=student_payload(student, fields=changed),
        )
    return student


def record_and_names(session: Session, scope: Scope, row: Student, reason: str | None) -> list[str]:
    """Record the row's pending changes and return the names of the fields that changed."""
    names = sorted(pending_changes(row))
    record_changes(session, scope, row, reason=reason)
    return names


def deactivate_student(session: Session, scope: Scope, data: DeactivateStudentInput) -> Student:
    """Mark a student inactive with a reason; refused while any stint is active or pending.

    Raises:
        NotFound, PermissionDenied, InvalidTransition (already inactive, or stints still holding).
    """
    student = visible_student(session, scope, data.student_id, DataClass.DIRECTORY, Action.WRITE)
    if not student.is_active:
        raise InvalidTransition(f"student {student.student_number} is already inactive", field="student_id")
    holding = session.execute(
        select(Enrollment.id, Enrollment.status)
        .where(
            Enrollment.student_id == student.id,
            Enrollment.status.in_((EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)),
        )
        .order_by(Enrollment.start_on)
    ).all()
    if holding:
        listed = ", ".join(f"{e_id} ({status.value})" for e_id, status in holding)
        raise InvalidTransition(
            f"student {student.student_number} still holds enrollment {listed}; end it first (withdraw_enrollment)",
            field="student_id",
        )
    student.is_active = False
    student.inactive_reason = data.reason
    record_changes(session, scope, student, reason=data.reason)
    session.flush()
    emit_event(
        session,
        event_type="student.updated",
        org_id=student.org_id,
        payload=student_payload(student, fields=["inactive_reason", "is_active"]),
    )
    return student
