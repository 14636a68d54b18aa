"""The one rule for "out of scope looks like not found", used by every domain service.

Two questions, each answered in one place:

- `visible_student`: may the caller see this student's records of a data class (and, for a
  write, change them)? A student outside the caller's scope is reported exactly as a student
  that does not exist; one that is visible but not writable is a PermissionDenied.
- `with_transferred`: the rows of one student's record, including the rows that travelled
  with a transfer (see below).
- `org_condition`: the rows of an org subtree the caller asked about. Asking about an org
  answers for the part of its subtree the caller may see: a registrar at Austin who names the
  Alpha Academy brand gets Austin's rows, never Miami's. An org none of whose subtree is
  visible (or that does not exist) is "organization not found". The returned scope is cut to
  the subtree, so the caller's filters on the same org column become short id lists.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from db.models import Enrollment, EnrollmentStatus, Organization, Student
from domain.errors import NotFound, PermissionDenied
from domain.org.service import subtree_ids
from policies.scope import CLASS_WORDS, Action, DataClass, Scope


def visible_student(
    session: Session,
    scope: Scope,
    student_id: uuid.UUID,
    data_class: DataClass = DataClass.DIRECTORY,
    action: Action = Action.READ,
) -> Student:
    """The student if the caller may read their `data_class` records; for a write, also change them.

    The id of a merged record (a tombstone) answers with the record it was merged into.

    Raises:
        NotFound: no such student, or outside the caller's scope for `data_class`.
        PermissionDenied: visible, but the caller may not change these records.
    """
    asked = aliased(Student)
    current = select(func.coalesce(asked.merged_into_id, asked.id)).where(asked.id == student_id).scalar_subquery()
    student = session.execute(
        select(Student).where(Student.id == current, scope.student_filter(data_class))
    ).scalar_one_or_none()
    if student is None:
        raise NotFound(f"student {student_id} not found", field="student_id")
    if action is not Action.READ:
        allowed = session.execute(
            select(Student.id).where(Student.id == student.id, scope.student_filter(data_class, action))
        ).first()
        if allowed is None:
            words = CLASS_WORDS[data_class]
            raise PermissionDenied(f"your role may not change {words} of this student", field="student_id")
    return student


def visible_enrollment(
    session: Session, scope: Scope, enrollment_id: uuid.UUID, action: Action = Action.READ
) -> Enrollment:
    """The stint if visible; for writes, also writable.

    Raises:
        NotFound: no such stint or outside the caller's scope.
        PermissionDenied: visible but the caller may not change it.
    """
    enrollment = session.execute(
        select(Enrollment).where(
            Enrollment.id == enrollment_id,
            scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.DIRECTORY),
        )
    ).scalar_one_or_none()
    if enrollment is None:
        raise NotFound(f"enrollment {enrollment_id} not found", field="enrollment_id")
    if action is Action.WRITE and not scope.allows_org(enrollment.org_id, DataClass.DIRECTORY, Action.WRITE):
        raise PermissionDenied("your role may not change this enrollment", field="enrollment_id")
    return enrollment


def org_condition(
    session: Session,
    scope: Scope,
    org_column: Any,
    org_id: uuid.UUID | None,
    data_class: DataClass = DataClass.DIRECTORY,
) -> tuple[Scope, ColumnElement[bool]]:
    """The scope and condition for rows of `org_column` in the visible part of `org_id`'s subtree.

    None asks for everything the caller may see: the scope unchanged and no condition. Apply the
    returned scope's filters to the same `org_column` (the cut is exact there, see `Scope.within`).

    Raises:
        NotFound: no such org, or no org of its subtree is in the caller's scope for `data_class`.
    """
    if org_id is None:
        return scope, true()
    narrowed, condition = scope.within(org_id), scope.subtree_filter(org_column, org_id)
    if narrowed is not None and condition is not None:
        if not narrowed.orgs(data_class):
            raise NotFound(f"organization {org_id} not found", field="org_id")
        return narrowed, condition
    subtree = subtree_ids(session, org_id)
    visible = session.execute(
        select(Organization.id)
        .where(Organization.id.in_(subtree), scope.org_filter(Organization.id, data_class))
        .limit(1)
    ).first()
    if visible is None:
        raise NotFound(f"organization {org_id} not found", field="org_id")
    condition = org_column.in_(subtree)
    return scope, condition


# -- records that follow the student -----------------------------------------------------------
#
# After a transfer the cumulative record travels (FERPA 34 CFR 99.31(a)(2)): staff who may read a
# student's records of a class at the student's home campus, which a transfer moves to the
# receiving campus, also see that student's rows of the class from each campus the student
# transferred away from, dated up to the last day there. The sending campus keeps its rows (they
# keep its org). Which classes travel is decided by the callers (docs/running/lifecycle.md):
# directory (prior stints), attendance and behavior.


def transferred_condition(org_column: Any, student_id_column: Any, day_column: Any) -> ColumnElement[bool]:
    """Rows at a campus the student left by transfer, dated on or before the last day there."""
    left = aliased(Enrollment)
    result: ColumnElement[bool] = exists().where(
        left.student_id == student_id_column,
        left.org_id == org_column,
        left.status == EnrollmentStatus.TRANSFERRED,
        day_column <= left.end_on,
    )
    return result


def with_transferred(
    scope: Scope, org_column: Any, student_id_column: Any, day_column: Any, data_class: DataClass
) -> ColumnElement[bool]:
    """The caller's own rows of a student record, plus those that travelled to the student's home campus."""
    travelled = and_(
        student_id_column.in_(scope.visible_students(data_class)),
        transferred_condition(org_column, student_id_column, day_column),
    )
    return or_(scope.row_filter(org_column, student_id_column, data_class), travelled)


def transfers_of(session: Session, student: Student) -> dict[uuid.UUID, dt.date]:
    """The campuses a student left by transfer (other than the home campus): org id -> last day there."""
    rows = session.execute(
        select(Enrollment.org_id, Enrollment.end_on).where(
            Enrollment.student_id == student.id,
            Enrollment.status == EnrollmentStatus.TRANSFERRED,
            Enrollment.org_id != student.org_id,
        )
    ).all()
    left: dict[uuid.UUID, dt.date] = {}
    for org_id, end_on in rows:
        if end_on is not None and (org_id not in left or end_on > left[org_id]):
            left[org_id] = end_on
    return left


def travelled_from(
    transfers: dict[uuid.UUID, dt.date], org_id: uuid.UUID, day: dt.date, names: dict[uuid.UUID, str]
) -> str | None:
    """The sending campus's name when a row dated `day` at `org_id` came with a transfer, else None."""
    last = transfers.get(org_id)
    return names.get(org_id, str(org_id)) if last is not None and day <= last else None
