"""Guardians of a household: linking an existing guardian account or creating one, and taking one off.

A guardian is a `user_account` of kind guardian (accounts are unique by email). An existing
guardian may be linked by id when they already guard a household the caller can see (the other
parent's household in split custody) or guard no household yet; a new guardian's email must be
unused, and when it belongs to a guardian the caller can see the refusal names the user_id to
link instead. Contact priority is unique within a household; priority 1 is the primary guardian.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Household, HouseholdGuardian, User, UserKind
from domain.access.users import create_user_row
from domain.audit.changes import record_changes, record_deletion
from domain.errors import DuplicateRecord, InvalidInput, NotFound, PermissionDenied
from domain.events import emit_event
from domain.household.record_schemas import AddGuardianInput, GuardianAdded, RemoveGuardianInput
from domain.household.schemas import HouseholdRead
from domain.household.service import household_read
from domain.household.visibility import household_condition, may_change, visible_household
from policies.scope import DataClass, Scope


def _writable_household(session: Session, scope: Scope, household_id: uuid.UUID) -> Household:
    """The household, when the caller may change its guardians (contact details).

    Raises:
        NotFound: outside the caller's scope.
        PermissionDenied: visible, but the caller may not change contact details there.
    """
    household = visible_household(session, scope, household_id)
    if not may_change(session, scope, household, DataClass.CONTACT):
        raise PermissionDenied("your role may not change this household's guardians", field="household_id")
    return household


def _linkable(session: Session, scope: Scope, user: User) -> bool:
    """A guardian account the caller may link: it guards a household they see, or no household at all."""
    households = select(HouseholdGuardian.household_id).where(HouseholdGuardian.user_id == user.id)
    if session.execute(households.limit(1)).first() is None:
        return True
    seen = session.execute(
        select(Household.id).where(Household.id.in_(households), household_condition(scope)).limit(1)
    ).first()
    return seen is not None


def _existing_guardian(session: Session, scope: Scope, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None or user.kind is not UserKind.GUARDIAN or not _linkable(session, scope, user):
        raise NotFound(f"guardian {user_id} not found", field="guardian_user_id")
    if not user.is_active:
        raise InvalidInput(f"guardian {user_id} is deactivated", field="guardian_user_id")
    return user


def create_guardian_user(
    session: Session, scope: Scope, *, name: str, email: str, phone: str | None, org_id: uuid.UUID, reason: str | None
) -> User:
    """A new guardian account (email already normalized), through the one user-creation path.

    Raises:
        DuplicateRecord: an account already has this email (naming it when the caller may link it).
    """
    taken = session.execute(select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
    if taken is not None and taken.kind is UserKind.GUARDIAN and _linkable(session, scope, taken):
        raise DuplicateRecord(
            f"a guardian account with email {email} already exists (user {taken.id}); "
            f"pass guardian_user_id={taken.id} to add them",
            field="email",
        )
    if taken is not None:
        raise DuplicateRecord(f"an account with email {email} already exists; use another email", field="email")
    # Guardians need no role grant; their home org is the household's, where their events belong.
    return create_user_row(session, scope, email, name, UserKind.GUARDIAN, phone, org_id=org_id, reason=reason)


def _priority(session: Session, household: Household, wanted: int | None) -> int:
    taken = set(
        session.execute(
            select(HouseholdGuardian.contact_priority).where(HouseholdGuardian.household_id == household.id)
        ).scalars()
    )
    if wanted is None:
        return max(taken, default=0) + 1
    if wanted in taken:
        raise InvalidInput(
            f"contact priority {wanted} is taken in this household (taken: {sorted(taken)}); choose another",
            field="contact_priority",
        )
    return wanted


def add_guardian(session: Session, scope: Scope, data: AddGuardianInput) -> GuardianAdded:
    """Link an existing guardian to a household, or create the guardian account and link it.

    Raises:
        NotFound: the household or the named guardian is outside the caller's scope.
        PermissionDenied: the caller may not change the household's contact details.
        InvalidInput: neither or both of guardian_user_id and the new guardian's details; a taken priority.
        DuplicateRecord: the guardian already belongs to the household, or the email is taken.
    """
    household = _writable_household(session, scope, data.household_id)
    details = data.name is not None or data.email is not None or data.phone is not None
    if data.guardian_user_id is not None and details:
        raise InvalidInput(
            "give guardian_user_id to link an existing guardian, or name/email/phone for a new one, not both",
            field="guardian_user_id",
        )
    if data.guardian_user_id is None and (data.name is None or data.email is None):
        missing = "name" if data.name is None else "email"
        raise InvalidInput(f"a new guardian needs a name and an email ({missing} is missing)", field=missing)
    priority = _priority(session, household, data.contact_priority)
    if data.guardian_user_id is not None:
        user, created = _existing_guardian(session, scope, data.guardian_user_id), False
        already = session.execute(
            select(HouseholdGuardian.id).where(
                HouseholdGuardian.household_id == household.id, HouseholdGuardian.user_id == user.id
            )
        ).first()
        if already is not None:
            raise DuplicateRecord(f"guardian {user.id} already belongs to this household", field="guardian_user_id")
    else:
        assert data.name is not None and data.email is not None
        user = create_guardian_user(
            session,
            scope,
            name=data.name,
            email=data.email,
            phone=data.phone,
            org_id=household.org_id,
            reason=data.reason,
        )
        created = True
    link = HouseholdGuardian(
        id=uuid.uuid4(),
        household_id=household.id,
        user_id=user.id,
        relationship=data.relationship,
        is_primary=priority == 1,
        contact_priority=priority,
        may_pick_up=data.may_pick_up,
        lives_with_student=data.lives_with_student,
        receives_mail=data.receives_mail,
        custody_notes=data.custody_notes,
    )
    session.add(link)
    record_changes(session, scope, link, reason=data.reason, org_id=household.org_id)
    emit_event(
        session,
        event_type="household.guardian_added",
        org_id=household.org_id,
        payload={"household_id": household.id, "user_id": user.id, "relationship": data.relationship},
    )
    session.flush()
    return GuardianAdded(user_id=user.id, created_user=created, household=household_read(session, scope, household))


def remove_guardian(session: Session, scope: Scope, data: RemoveGuardianInput) -> HouseholdRead:
    """Take a guardian off a household (their account stays: they may guard another household).

    Raises:
        NotFound: the household is outside the caller's scope, or the user is not its guardian.
        PermissionDenied: the caller may not change the household's contact details.
    """
    household = _writable_household(session, scope, data.household_id)
    link = session.execute(
        select(HouseholdGuardian).where(
            HouseholdGuardian.household_id == household.id, HouseholdGuardian.user_id == data.user_id
        )
    ).scalar_one_or_none()
    if link is None:
        raise NotFound(f"guardian {data.user_id} of household {household.id} not found", field="user_id")
    record_deletion(session, scope, link, reason=data.reason, org_id=household.org_id)
    session.delete(link)
    emit_event(
        session,
        event_type="household.guardian_removed",
        org_id=household.org_id,
        payload={"household_id": household.id, "user_id": data.user_id},
    )
    session.flush()
    return household_read(session, scope, household)
