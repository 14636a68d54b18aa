"""Guide assignments: a guide's 1:1 students for a period (guides see only these students).

Assigning is a directory write at the student's campus (registrars and directors assign guides);
the guide must hold a guide grant in force at that campus, and one guide-student pair never has
two assignments that overlap.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import GuideAssignment, RoleGrant, User
from domain.access.errors import AssignmentEnded, AssignmentOverlap, UserInactive
from domain.access.schemas import AssignGuideInput, EndGuideAssignmentInput, GuideAssignmentRead
from domain.audit.changes import record_changes
from domain.errors import InvalidInput, NotFound
from domain.visibility import visible_student
from policies.scope import Action, DataClass, Scope

GUIDE = "guide"


def _read(assignment: GuideAssignment) -> GuideAssignmentRead:
    return GuideAssignmentRead(
        assignment_id=assignment.id,
        guide_user_id=assignment.guide_user_id,
        student_id=assignment.student_id,
        org_id=assignment.org_id,
        start_on=assignment.start_on,
        end_on=assignment.end_on,
    )


def assign_guide(session: Session, scope: Scope, data: AssignGuideInput) -> GuideAssignmentRead:
    """Assign a guide to a student of the guide's campus from start_on (to end_on, if given).

    Raises:
        NotFound, PermissionDenied (the student), InvalidInput (no guide grant there), UserInactive,
        AssignmentOverlap.
    """
    student = visible_student(session, scope, data.student_id, DataClass.DIRECTORY, Action.WRITE)
    guide = session.get(User, data.guide_user_id)
    holds_grant = session.execute(
        select(RoleGrant.id).where(
            RoleGrant.user_id == data.guide_user_id,
            RoleGrant.role == GUIDE,
            RoleGrant.org_id == student.org_id,
            RoleGrant.revoked_at.is_(None),
            or_(RoleGrant.expires_on.is_(None), RoleGrant.expires_on >= data.start_on),
        )
    ).first()
    if guide is None or holds_grant is None:
        raise InvalidInput(
            f"user {data.guide_user_id} holds no guide grant at the student's campus (grant_role role=guide there)",
            field="guide_user_id",
        )
    if not guide.is_active:
        raise UserInactive(f"{guide.display_name} is deactivated", field="guide_user_id")
    existing = session.execute(
        select(GuideAssignment).where(
            GuideAssignment.guide_user_id == guide.id, GuideAssignment.student_id == student.id
        )
    ).scalars()
    for other in existing:
        if other.start_on <= (data.end_on or dt.date.max) and data.start_on <= (other.end_on or dt.date.max):
            until = f" to {other.end_on}" if other.end_on else ""
            raise AssignmentOverlap(
                f"{guide.display_name} is already assigned to student {student.student_number} "
                f"from {other.start_on}{until} (assignment {other.id})",
                field="start_on",
            )
    assignment = GuideAssignment(
        id=uuid.uuid4(),
        guide_user_id=guide.id,
        student_id=student.id,
        org_id=student.org_id,
        start_on=data.start_on,
        end_on=data.end_on,
    )
    session.add(assignment)
    record_changes(session, scope, assignment, reason=data.reason)
    session.flush()
    return _read(assignment)


def end_guide_assignment(session: Session, scope: Scope, data: EndGuideAssignmentInput) -> GuideAssignmentRead:
    """Set the last day of an assignment (earlier than any end it already has).

    Raises:
        NotFound, PermissionDenied, InvalidInput (end before start), AssignmentEnded.
    """
    assignment = session.get(GuideAssignment, data.assignment_id)
    if assignment is None:
        raise NotFound(f"guide assignment {data.assignment_id} not found", field="assignment_id")
    try:
        visible_student(session, scope, assignment.student_id, DataClass.DIRECTORY, Action.WRITE)
    except NotFound:
        raise NotFound(f"guide assignment {data.assignment_id} not found", field="assignment_id") from None
    if data.end_on < assignment.start_on:
        raise InvalidInput(
            f"end_on {data.end_on} is before the assignment's start {assignment.start_on}", field="end_on"
        )
    if assignment.end_on is not None and assignment.end_on <= data.end_on:
        raise AssignmentEnded(f"the assignment already ends on {assignment.end_on}", field="end_on")
    assignment.end_on = data.end_on
    record_changes(session, scope, assignment, reason=data.reason)
    session.flush()
    return _read(assignment)
