"""Merging two records of one child: every row that names the duplicate moves to the survivor.

The rows to move are found from the schema, not from a list kept by hand: every column with a
foreign key to `student.id` (a table added later is covered without a change here). Two tables
have a uniqueness rule that a move could break, and their conflicts are resolved as data:

- attendance (one record per student and day): the survivor's record of a day stands; the
  duplicate's record of that day is dropped, its content kept in the change event.
- household membership (one per household and student): where both belonged to a household,
  the survivor's membership (and billing share) stands; households only the duplicate belonged
  to keep the child with a 0 share, so the survivor's shares still sum to 100%.

Any other uniqueness conflict refuses the merge (MergeConflict) rather than guess. So do two
active or pending stints in the same offering: withdraw one first. The duplicate becomes a
tombstone (inactive, `merged_into_id` = survivor); records merged into it earlier are re-pointed.
Everything happens in the caller's transaction: a failure anywhere leaves nothing changed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import Base
from db.models import AttendanceRecord, Enrollment, EnrollmentStatus, HouseholdStudent, Sex, Student
from domain.audit.changes import record_changes, record_deletion
from domain.errors import DomainError, InvalidInput, InvalidTransition, MergeConflict
from domain.events import emit_event
from domain.student.record_schemas import MergeStudentsInput
from domain.student.records import student_payload
from domain.visibility import visible_student
from policies.scope import Action, DataClass, Scope

# Survivor fields filled from the duplicate when the survivor has none.
FILLED = (
    "middle_name",
    "preferred_name",
    "races",
    "hispanic_latino",
    "home_language",
    "ethnicity",
    "email",
    "phone",
    "address",
    "user_id",
)
HOLDING = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)


def student_references() -> list[tuple[type[Any], str]]:
    """(mapped class, column name) of every column holding a student id, except the tombstone pointer."""
    found = []
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        for column in table.columns:
            if table.name == "student":  # type: ignore[attr-defined]
                continue
            if any(fk.column.table.name == "student" and fk.column.name == "id" for fk in column.foreign_keys):
                found.append((mapper.class_, column.name))
    return sorted(found, key=lambda ref: (ref[0].__tablename__, ref[1]))


def _writable(session: Session, scope: Scope, student_id: uuid.UUID, field: str) -> Student:
    try:
        student = visible_student(session, scope, student_id, DataClass.DIRECTORY, Action.WRITE)
    except DomainError as err:
        raise type(err)(err.message, field=field) from None
    if student.id != student_id:
        raise InvalidTransition(
            f"student {student_id} was already merged into student {student.student_number} ({student.id})",
            field=field,
        )
    return student


def _record_drop(session: Session, scope: Scope, row: Base, reason: str) -> None:
    """Put a dropped row's content on the record (its change events, as every deletion), then delete it."""
    record_deletion(session, scope, row, reason=reason)
    session.delete(row)
    session.flush()


def _move(session: Session, scope: Scope, row: Any, column: str, to: uuid.UUID, reason: str) -> None:
    setattr(row, column, to)
    record_changes(session, scope, row, reason=reason)


def _refuse_shared_offerings(session: Session, survivor: Student, merged: Student) -> None:
    def holding(student: Student) -> dict[uuid.UUID, uuid.UUID]:
        rows = session.execute(
            select(Enrollment.offering_id, Enrollment.id).where(
                Enrollment.student_id == student.id, Enrollment.status.in_(HOLDING)
            )
        ).all()
        return {offering: enrollment for offering, enrollment in rows}

    kept, moving = holding(survivor), holding(merged)
    both = sorted(set(kept) & set(moving))
    if both:
        raise MergeConflict(
            f"both records hold a stint in offering {both[0]} (enrollments {kept[both[0]]} and {moving[both[0]]}); "
            "withdraw the duplicate's stint first (withdraw_enrollment)",
            field="merged_id",
        )


def _unique_conflict(session: Session, cls: type[Any], column: str, row: Any, survivor_id: uuid.UUID) -> bool:
    """True when moving `row` to the survivor would break a uniqueness rule of its table."""
    table = cls.__table__
    for constraint in table.constraints:
        names = [c.name for c in getattr(constraint, "columns", [])]
        if constraint.__class__.__name__ != "UniqueConstraint" or column not in names:
            continue
        others = [n for n in names if n != column]
        where = [getattr(cls, column) == survivor_id] + [getattr(cls, n) == getattr(row, n) for n in others]
        if session.execute(select(getattr(cls, column)).where(*where).limit(1)).first() is not None:
            return True
    return False


def merge_students(
    session: Session, scope: Scope, data: MergeStudentsInput
) -> tuple[Student, Student, dict[str, int], dict[str, int]]:
    """Move every row of `merged_id` to `survivor_id` and leave a tombstone; returns (survivor, tombstone, moved, dropped).

    Raises:
        InvalidInput: the same student twice.
        NotFound, PermissionDenied: either record is out of scope or not writable.
        InvalidTransition: either record is already a tombstone.
        MergeConflict: both hold a stint in one offering, or another uniqueness rule would break.
    """
    if data.survivor_id == data.merged_id:
        raise InvalidInput("a student cannot be merged with itself", field="merged_id")
    survivor = _writable(session, scope, data.survivor_id, "survivor_id")
    merged = _writable(session, scope, data.merged_id, "merged_id")
    _refuse_shared_offerings(session, survivor, merged)
    reason = f"merge of student {merged.student_number} into {survivor.student_number}: {data.reason}"
    moved: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for cls, column in student_references():
        table = cls.__tablename__
        rows = session.execute(select(cls).where(getattr(cls, column) == merged.id)).scalars().all()
        if not rows:
            continue
        if cls is AttendanceRecord:
            days = set(
                session.execute(
                    select(AttendanceRecord.day_on).where(AttendanceRecord.student_id == survivor.id)
                ).scalars()
            )
            for row in rows:
                if row.day_on in days:
                    _record_drop(session, scope, row, reason + " (the survivor's record of the day stands)")
                    dropped[table] += 1
                else:
                    _move(session, scope, row, column, survivor.id, reason)
                    moved[table] += 1
            continue
        if cls is HouseholdStudent:
            kept = set(
                session.execute(
                    select(HouseholdStudent.household_id).where(HouseholdStudent.student_id == survivor.id)
                ).scalars()
            )
            for row in rows:
                if row.household_id in kept:
                    _record_drop(session, scope, row, reason + " (the survivor's membership stands)")
                    dropped[table] += 1
                    continue
                if kept:
                    row.billing_share_bp = 0  # the survivor's shares already sum to 100%
                _move(session, scope, row, column, survivor.id, reason)
                moved[table] += 1
            continue
        for row in rows:
            if _unique_conflict(session, cls, column, row, survivor.id):
                raise MergeConflict(
                    f"the survivor already has a {table} row like the duplicate's ({column}); resolve it first",
                    field="merged_id",
                )
            _move(session, scope, row, column, survivor.id, reason)
            moved[table] += 1
    for earlier in session.execute(select(Student).where(Student.merged_into_id == merged.id)).scalars().all():
        _move(session, scope, earlier, "merged_into_id", survivor.id, reason)
        moved["student (earlier merges)"] += 1
    for name in FILLED:
        if getattr(survivor, name) is None and getattr(merged, name) is not None:
            setattr(survivor, name, getattr(merged, name))
    if survivor.sex is Sex.UNSPECIFIED and merged.sex is not Sex.UNSPECIFIED:
        survivor.sex = merged.sex
    record_changes(session, scope, survivor, reason=reason)
    merged.is_active = False
    merged.merged_into_id = survivor.id
    merged.inactive_reason = f"merged into student {survivor.student_number}: {data.reason}"
    record_changes(session, scope, merged, reason=reason)
    session.flush()
    emit_event(
        session,
        event_type="student.merged",
        org_id=survivor.org_id,
        payload=student_payload(
            survivor, merged_id=merged.id, merged_student_number=merged.student_number, merged_org_id=merged.org_id
        ),
    )
    return survivor, merged, dict(moved), dict(dropped)
