"""Behavior incidents: scoped listing (newest first) and recording, with change events.

An incident belongs to the student's home campus at the time it is recorded. A guide sees and
records incidents of assigned students only; everyone else sees the orgs of their BEHAVIOR scope.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import BehaviorIncident, Student
from domain.audit.changes import record_changes
from domain.behavior.rules import is_in_future, severities_at_least
from domain.behavior.schemas import (
    BehaviorIncidentPage,
    BehaviorIncidentQuery,
    BehaviorIncidentRead,
    RecordBehaviorIncidentInput,
)
from domain.errors import InvalidInput, PermissionDenied
from domain.org.service import org_names
from domain.paging import page_meta
from domain.visibility import org_condition, transfers_of, travelled_from, visible_student, with_transferred
from policies.scope import Action, DataClass, Scope


def _read(incident: BehaviorIncident, student: Student, transferred_from: str | None = None) -> BehaviorIncidentRead:
    """The read model of an incident, with the student's name for answers in plain language."""
    return BehaviorIncidentRead(
        transferred_from=transferred_from,
        id=incident.id,
        student_id=student.id,
        student_number=student.student_number,
        first_name=student.first_name,
        last_name=student.last_name,
        org_id=incident.org_id,
        occurred_on=incident.occurred_on,
        category=incident.category,
        severity=incident.severity,
        description=incident.description,
        action_taken=incident.action_taken,
        reported_by_user_id=incident.reported_by_user_id,
        recorded_at=incident.recorded_at,
    )


def list_behavior_incidents(session: Session, scope: Scope, data: BehaviorIncidentQuery) -> BehaviorIncidentPage:
    """Incidents inside the caller's scope matching the filters, newest first, with the total.

    Raises:
        NotFound: the org or student is outside the caller's scope.
    """
    bi = BehaviorIncident
    scope, in_org = org_condition(session, scope, bi.org_id, data.org_id, DataClass.BEHAVIOR)
    conditions: list[ColumnElement[bool]] = [in_org]
    transfers: dict[uuid.UUID, dt.date] = {}
    names: dict[uuid.UUID, str] = {}
    if data.student_id is not None:
        # One student's history: incidents from campuses the student transferred from travel with it.
        student = visible_student(session, scope, data.student_id, DataClass.BEHAVIOR)
        conditions += [
            bi.student_id == data.student_id,
            with_transferred(scope, bi.org_id, bi.student_id, bi.occurred_on, DataClass.BEHAVIOR),
        ]
        transfers = transfers_of(session, student)
        names = org_names(session, scope, transfers)
    else:
        conditions.append(scope.row_filter(bi.org_id, bi.student_id, DataClass.BEHAVIOR))
    if data.start_on is not None:
        conditions.append(bi.occurred_on >= data.start_on)
    if data.end_on is not None:
        conditions.append(bi.occurred_on <= data.end_on)
    if data.min_severity is not None:
        conditions.append(bi.severity.in_(severities_at_least(data.min_severity)))
    if data.category is not None:
        conditions.append(func.lower(bi.category) == data.category.strip().lower())

    total = session.execute(select(func.count()).select_from(bi).where(*conditions)).scalar_one()
    rows = session.execute(
        select(bi, Student)
        .join(Student, Student.id == bi.student_id)
        .where(*conditions)
        .order_by(bi.occurred_on.desc(), bi.recorded_at.desc(), bi.id)
        .limit(data.limit)
        .offset(data.offset)
    ).all()
    return BehaviorIncidentPage(
        **page_meta(int(total), data.limit, data.offset),
        items=[
            _read(incident, student, travelled_from(transfers, incident.org_id, incident.occurred_on, names))
            for incident, student in rows
        ],
    )


def record_behavior_incident(
    session: Session, scope: Scope, data: RecordBehaviorIncidentInput, *, today: dt.date
) -> BehaviorIncidentRead:
    """Record an incident for a visible student at their home campus.

    Raises:
        NotFound: the student is outside the caller's BEHAVIOR scope.
        PermissionDenied: the caller may read but not write behavior records at the campus.
        InvalidInput: occurred_on is after `today`.
    """
    student = visible_student(session, scope, data.student_id, DataClass.BEHAVIOR)
    if not scope.allows_org(student.org_id, DataClass.BEHAVIOR, Action.WRITE):
        raise PermissionDenied("you may not record behavior incidents at this campus", field="student_id")
    if is_in_future(data.occurred_on, today):
        raise InvalidInput(
            f"occurred_on {data.occurred_on.isoformat()} is after today ({today.isoformat()})", field="occurred_on"
        )
    incident = BehaviorIncident(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=student.org_id,
        occurred_on=data.occurred_on,
        category=data.category.strip(),
        severity=data.severity,
        description=data.description,
        action_taken=data.action_taken,
        reported_by_user_id=scope.actor.user_id,
    )
    session.add(incident)
    record_changes(session, scope, incident, reason=data.reason)
    session.flush()
    return _read(incident, student)
