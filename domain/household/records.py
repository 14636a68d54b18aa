"""Creating households, and students' emergency contacts (a list replaced as a whole)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import EmergencyContact, Household, Organization
from domain.audit.changes import record_changes, record_deletion
from domain.errors import InvalidInput, NotFound, PermissionDenied
from domain.events import emit_event
from domain.household.record_schemas import (
    CreateHouseholdInput,
    EmergencyContactList,
    EmergencyContactRead,
    SetEmergencyContactsInput,
)
from domain.household.rules import duplicate_priorities
from domain.household.schemas import HouseholdRead
from domain.household.service import household_read
from domain.visibility import visible_student
from policies.scope import Action, DataClass, Scope


def create_household(session: Session, scope: Scope, data: CreateHouseholdInput) -> HouseholdRead:
    """A new household at an org; add guardians and students to it next.

    Raises:
        NotFound: the org does not exist or is outside the caller's scope.
        PermissionDenied: the caller may not create households there, or may not write its address.
        InvalidInput: the org is closed.
    """
    org = session.get(Organization, data.org_id)
    if org is None or not scope.allows_org(org.id, DataClass.DIRECTORY):
        raise NotFound(f"organization {data.org_id} not found", field="org_id")
    if not scope.allows_org(org.id, DataClass.DIRECTORY, Action.WRITE):
        raise PermissionDenied("your role may not create households here", field="org_id")
    if data.address is not None and not scope.allows_org(org.id, DataClass.CONTACT, Action.WRITE):
        raise PermissionDenied("your role may not write contact details (the address); leave it empty", field="address")
    if not org.is_active:
        raise InvalidInput(f"{org.name} is closed; households are created at open organizations", field="org_id")
    household = Household(id=uuid.uuid4(), org_id=org.id, name=data.name, address=data.address)
    session.add(household)
    record_changes(session, scope, household, reason=data.reason)
    emit_event(
        session, event_type="household.created", org_id=org.id, payload={"household_id": household.id, "org_id": org.id}
    )
    session.flush()
    return household_read(session, scope, household)


def _contacts(session: Session, student_id: uuid.UUID) -> list[EmergencyContact]:
    return list(
        session.execute(
            select(EmergencyContact)
            .where(EmergencyContact.student_id == student_id)
            .order_by(EmergencyContact.priority)
        ).scalars()
    )


def _list(student_id: uuid.UUID, rows: list[EmergencyContact]) -> EmergencyContactList:
    return EmergencyContactList(
        student_id=student_id,
        contacts=[
            EmergencyContactRead(
                id=c.id,
                name=c.name,
                relationship=c.relationship,
                phone=c.phone,
                priority=c.priority,
                may_pick_up=c.may_pick_up,
            )
            for c in rows
        ],
    )


def get_emergency_contacts(session: Session, scope: Scope, student_id: uuid.UUID) -> EmergencyContactList:
    """A student's emergency contacts in calling order.

    Raises:
        NotFound: the student is outside the caller's contact scope.
    """
    student = visible_student(session, scope, student_id, DataClass.CONTACT)
    return _list(student.id, _contacts(session, student.id))


def set_emergency_contacts(session: Session, scope: Scope, data: SetEmergencyContactsInput) -> EmergencyContactList:
    """Replace a student's emergency contacts with the given list (every removed and added row is audited).

    Raises:
        NotFound: the student is outside the caller's contact scope.
        PermissionDenied: visible, but the caller may not change contact details.
        InvalidInput: two contacts share a priority.
    """
    twice = duplicate_priorities([c.priority for c in data.contacts])
    if twice:
        raise InvalidInput(f"each contact needs its own priority; given twice: {twice}", field="contacts")
    student = visible_student(session, scope, data.student_id, DataClass.CONTACT, Action.WRITE)
    for old in _contacts(session, student.id):
        record_deletion(session, scope, old, reason=data.reason)
        session.delete(old)
    # The deletes go first: the new list may reuse the old priorities (unique per student).
    session.flush()
    rows = []
    for contact in sorted(data.contacts, key=lambda c: c.priority):
        row = EmergencyContact(
            id=uuid.uuid4(),
            student_id=student.id,
            org_id=student.org_id,
            name=contact.name,
            relationship=contact.relationship,
            phone=contact.phone,
            priority=contact.priority,
            may_pick_up=contact.may_pick_up,
        )
        session.add(row)
        record_changes(session, scope, row, reason=data.reason)
        rows.append(row)
    session.flush()
    return _list(student.id, rows)
