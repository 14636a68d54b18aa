"""Household record tools: create households, add and remove guardians and students, emergency contacts."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.household import guardians, records, service
from domain.household.record_schemas import (
    AddGuardianInput,
    CreateHouseholdInput,
    EmergencyContactList,
    GuardianAdded,
    RemoveGuardianInput,
    SetEmergencyContactsInput,
    StudentRef,
)
from domain.household.schemas import AddStudentToHouseholdInput, HouseholdRead, RemoveStudentFromHouseholdInput
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, tool


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Create a household", idempotent=False)
def create_household(session: Session, scope: Scope, data: CreateHouseholdInput, ctx: ToolContext) -> HouseholdRead:
    """Create a family household at a campus (org_id from whoami); then add_guardian and add_student_to_household.

    For split custody create one household per home. The address is contact data: leave it empty if your
    role may not write contact details. Fails when the org is outside your scope or closed.
    """
    return records.create_household(session, scope, data)


@tool(data_class=DataClass.CONTACT, action=Action.WRITE, title="Add a guardian", idempotent=False)
def add_guardian(session: Session, scope: Scope, data: AddGuardianInput, ctx: ToolContext) -> GuardianAdded:
    """Add a guardian to a household: an existing guardian by guardian_user_id (from get_household, e.g. the other
    parent's household), or a new one from name, email and phone, with relationship, contact priority (1 = first
    to call), pick-up, lives-with, mail and custody notes. Fails on an email already in use (the error names the
    guardian to link when you may see them), a taken priority, or a household outside your scope.
    """
    return guardians.add_guardian(session, scope, data)


@tool(data_class=DataClass.CONTACT, action=Action.WRITE, title="Remove a guardian", destructive=True, idempotent=False)
def remove_guardian(session: Session, scope: Scope, data: RemoveGuardianInput, ctx: ToolContext) -> HouseholdRead:
    """Take a guardian off a household; their account stays (they may guard another household).

    household_id and user_id come from get_household. Fails when the user is not a guardian of the household.
    """
    return guardians.remove_guardian(session, scope, data)


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Add a student to a household", idempotent=False)
def add_student_to_household(
    session: Session, scope: Scope, data: AddStudentToHouseholdInput, ctx: ToolContext
) -> HouseholdRead:
    """Put a student (search_students) in a household (create_household / get_household). A first household pays
    100%. A second one (split custody) needs `shares` for every household whose share changes, summing to 10000
    basis points (needs financial write), or {new household: 0} to add without changing who pays (then a finance
    officer runs set_billing_shares). Fails on shares not summing to 10000; nothing is written then.
    """
    return service.add_student_to_household(session, scope, data)


@tool(
    data_class=DataClass.DIRECTORY,
    action=Action.WRITE,
    title="Remove a student from a household",
    destructive=True,
    idempotent=False,
)
def remove_student_from_household(
    session: Session, scope: Scope, data: RemoveStudentFromHouseholdInput, ctx: ToolContext
) -> HouseholdRead:
    """Take a student out of a household (ids from get_household). When the household paid a share and the student
    keeps other households, give `shares` for those, summing to 10000 basis points (needs financial write).
    Fails when the student is not in the household or the shares do not sum to 10000; nothing is written then.
    """
    return service.remove_student_from_household(session, scope, data)


@tool(data_class=DataClass.CONTACT, action=Action.WRITE, title="Set emergency contacts", idempotent=True)
def set_emergency_contacts(
    session: Session, scope: Scope, data: SetEmergencyContactsInput, ctx: ToolContext
) -> EmergencyContactList:
    """Replace a student's emergency contacts (people to call when no guardian answers) with the given list.

    student_id from search_students; each contact has name, relationship, phone, priority (1 = first, unique)
    and may_pick_up. [] clears the list. Fails on a bad phone number or a repeated priority.
    """
    return records.set_emergency_contacts(session, scope, data)


@tool(data_class=DataClass.CONTACT, title="Emergency contacts")
def get_emergency_contacts(session: Session, scope: Scope, data: StudentRef, ctx: ToolContext) -> EmergencyContactList:
    """List a student's emergency contacts in calling order (priority 1 first). student_id from search_students.

    Guardians are in get_household. A student outside your scope is not found.
    """
    return records.get_emergency_contacts(session, scope, data.student_id)
