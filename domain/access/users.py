"""Users: staff, guardians and integration clients; who may see and change them.

A user is visible to a caller whose administration scope includes the user's home org (where
`create_user` made them), an org where the user holds or held a role grant, or the org of a
household the user is a guardian in. Anyone else gets "not found". Changing a user also
needs administration write there, and the caller's own grants must cover every grant the user
holds in force (a campus director cannot rename or deactivate a network administrator).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.base import utcnow
from db.models import ApiKey, Household, HouseholdGuardian, Organization, RoleGrant, User, UserKind
from domain.access.errors import GrantTooWide, LastAdministrator, UserInactive
from domain.access.schemas import CreateUserInput, DeactivateUserInput, UpdateUserInput, UserRead
from domain.audit.changes import record_changes
from domain.errors import DuplicateRecord, InvalidInput, NotFound, PermissionDenied
from domain.events import emit_event
from policies.scope import Action, DataClass, Scope

ADMIN = DataClass.ADMINISTRATION
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^[0-9+().\- x]{3,40}$")
NETWORK_ADMIN = "network_admin"

# (role, org id, org path) of each grant a person holds in force -> the (data class, action)
# pairs those grants would reach beyond the caller's own scope (built by the tool layer, which
# owns the policy; the domain never reads policy.csv).
Excess = Callable[[Sequence[tuple[str, uuid.UUID, str]]], list[tuple[DataClass, Action]]]


def normalize_email(email: str) -> str:
    """The stored form of an email: trimmed and lower-case.

    Raises:
        InvalidInput: not an email address.
    """
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidInput(f"{email!r} is not an email address", field="email")
    return value


def _phone(phone: str | None) -> str | None:
    if phone is None or not phone.strip():
        return None
    if not _PHONE.match(phone.strip()):
        raise InvalidInput(f"{phone!r} is not a phone number (digits, spaces, + - ( ) . x)", field="phone")
    return phone.strip()


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this email (any case), or None. Emails are unique across the whole network."""
    wanted = normalize_email(email)
    return session.execute(select(User).where(func.lower(User.email) == wanted)).scalar_one_or_none()


def _refuse_taken(session: Session, email: str, *, other_than: uuid.UUID | None = None) -> None:
    taken = session.execute(select(User.id).where(func.lower(User.email) == email)).scalar_one_or_none()
    if taken is not None and taken != other_than:
        raise DuplicateRecord(f"a user with email {email} already exists", field="email")


def create_user_row(
    session: Session,
    scope: Scope,
    email: str,
    display_name: str,
    kind: UserKind | str,
    phone: str | None = None,
    *,
    org_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> User:
    """Validate and add a user with its change events (the caller has checked it may create one here).

    The shared entry for every face that creates people: `create_user`, and guardians added to a
    household. It checks no permission itself.

    Raises:
        InvalidInput: bad email, empty name, bad phone, or a kind that is not staff, guardian or client.
        DuplicateRecord: the email is taken (field `email`).
    """
    normalized = normalize_email(email)
    name = display_name.strip()
    if not name:
        raise InvalidInput("a user needs a display name", field="display_name")
    try:
        user_kind = UserKind(kind)
    except ValueError:
        raise InvalidInput(f"unknown user kind {kind!r}; use staff, guardian or client", field="kind") from None
    if user_kind is UserKind.STUDENT:
        raise InvalidInput("student users are created with their student record", field="kind")
    _refuse_taken(session, normalized)
    user = User(
        id=uuid.uuid4(),
        email=normalized,
        display_name=name,
        kind=user_kind,
        phone=_phone(phone),
        is_active=True,
        org_id=org_id,
    )
    session.add(user)
    record_changes(session, scope, user, reason=reason)
    session.flush()
    return user


# -- visibility ------------------------------------------------------------------------------


def user_filter(scope: Scope, action: Action = Action.READ) -> ColumnElement[bool]:
    """Predicate on User: its home org, a grant it holds or held, or its household is in the caller's scope."""
    if not scope.orgs(ADMIN, action):
        return false()
    granted = select(RoleGrant.user_id).where(scope.org_filter(RoleGrant.org_id, ADMIN, action))
    guardian = (
        select(HouseholdGuardian.user_id)
        .join(Household, Household.id == HouseholdGuardian.household_id)
        .where(scope.org_filter(Household.org_id, ADMIN, action))
    )
    return or_(scope.org_filter(User.org_id, ADMIN, action), User.id.in_(granted), User.id.in_(guardian))


def visible_user(session: Session, scope: Scope, user_id: uuid.UUID, *, field: str = "user_id") -> User:
    """The user if visible to the caller.

    Raises:
        NotFound: no such user, or outside the caller's administration scope.
    """
    user = session.execute(select(User).where(User.id == user_id, user_filter(scope))).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {user_id} not found", field=field)
    return user


def grants_in_force(session: Session, user_id: uuid.UUID, today: dt.date) -> list[tuple[str, uuid.UUID, str]]:
    """(role, org id, org path) of each grant the user holds on `today` (not revoked, not expired)."""
    rows = session.execute(
        select(RoleGrant.role, RoleGrant.org_id, Organization.path)
        .join(Organization, Organization.id == RoleGrant.org_id)
        .where(
            RoleGrant.user_id == user_id,
            RoleGrant.revoked_at.is_(None),
            or_(RoleGrant.expires_on.is_(None), RoleGrant.expires_on >= today),
        )
    ).all()
    return [(role, org_id, path) for role, org_id, path in rows]


def manageable_user(session: Session, scope: Scope, user_id: uuid.UUID, *, excess: Excess, today: dt.date) -> User:
    """The user if the caller may change them: visible, in administration write scope, grants covered.

    Raises:
        NotFound: not visible. PermissionDenied: visible but not writable. GrantTooWide: the user
            holds a grant the caller's own grants do not cover.
    """
    user = visible_user(session, scope, user_id)
    writable = session.execute(select(User.id).where(User.id == user_id, user_filter(scope, Action.WRITE))).first()
    if writable is None:
        raise PermissionDenied("your role may not change this user", field="user_id")
    wider = excess(grants_in_force(session, user.id, today))
    if wider:
        raise GrantTooWide(
            f"{user.display_name} holds grants wider than yours ({describe(wider)}); ask a network administrator",
            field="user_id",
        )
    return user


def describe(permissions: Sequence[tuple[DataClass, Action]]) -> str:
    """'financial write, audit read' for a refusal message."""
    return ", ".join(f"{dc.value} {act.value}" for dc, act in sorted(permissions))


def to_read(scope: Scope, user: User) -> UserRead:
    """The user as the caller may see it (contact columns null where hidden)."""
    return UserRead(
        user_id=user.id,
        email=None if scope.hides("user_account", "email") else user.email,
        display_name=user.display_name,
        kind=user.kind.value,
        phone=None if scope.hides("user_account", "phone") else user.phone,
        org_id=user.org_id,
        is_active=user.is_active,
    )


def key_prefixes_of(session: Session, user_id: uuid.UUID) -> set[str]:
    """Prefixes of every key the user owns (whose remembered verification must be dropped on a change)."""
    return set(session.execute(select(ApiKey.prefix).where(ApiKey.user_id == user_id)).scalars())


def admin_org(
    session: Session, scope: Scope, org_id: uuid.UUID, action: Action, *, field: str = "org_id"
) -> Organization:
    """The org if in the caller's administration scope; for a write, also writable.

    Raises:
        NotFound: no such org, or not in the caller's administration read scope.
        PermissionDenied: readable but the caller may not administer it.
    """
    org = session.get(Organization, org_id)
    if org is None or not scope.allows_org(org.id, ADMIN):
        raise NotFound(f"organization {org_id} not found", field=field)
    if action is Action.WRITE and not scope.allows_org(org.id, ADMIN, Action.WRITE):
        raise PermissionDenied(f"your role may not administer {org.name}", field=field)
    return org


# -- writes ----------------------------------------------------------------------------------


def create_user(session: Session, scope: Scope, data: CreateUserInput) -> UserRead:
    """Create a user belonging to `data.org_id`, where the caller administers.

    Raises:
        NotFound, PermissionDenied (the org), InvalidInput, DuplicateRecord (the email).
    """
    org = admin_org(session, scope, data.org_id, Action.WRITE)
    user = create_user_row(
        session, scope, data.email, data.display_name, data.kind.value, data.phone, org_id=org.id, reason=data.reason
    )
    emit_event(
        session,
        event_type="access.user_created",
        org_id=org.id,
        payload={"user_id": user.id, "kind": user.kind.value, "org_id": org.id},
    )
    return to_read(scope, user)


def update_user(session: Session, scope: Scope, data: UpdateUserInput, *, excess: Excess, today: dt.date) -> UserRead:
    """Change a user's email, display name or phone.

    Raises:
        NotFound, PermissionDenied, GrantTooWide, InvalidInput (nothing to change, bad values), DuplicateRecord.
    """
    asked = data.model_fields_set & {"email", "display_name", "phone"}
    if not asked:
        raise InvalidInput("give at least one of email, display_name, phone", field="user_id")
    user = manageable_user(session, scope, data.user_id, excess=excess, today=today)
    if "email" in asked:
        if data.email is None:
            raise InvalidInput("a user's email cannot be removed", field="email")
        email = normalize_email(data.email)
        _refuse_taken(session, email, other_than=user.id)
        user.email = email
    if "display_name" in asked:
        if data.display_name is None or not data.display_name.strip():
            raise InvalidInput("a user needs a display name", field="display_name")
        user.display_name = data.display_name.strip()
    if "phone" in asked:
        user.phone = _phone(data.phone)
    user.updated_at = utcnow()
    record_changes(session, scope, user, reason=data.reason)
    session.flush()
    return to_read(scope, user)


def deactivate_user(
    session: Session, scope: Scope, data: DeactivateUserInput, *, excess: Excess, today: dt.date
) -> UserRead:
    """Deactivate a user: they can no longer sign in, and their API keys are revoked. History stays.

    Raises:
        NotFound, PermissionDenied, GrantTooWide, UserInactive, LastAdministrator.
    """
    if data.user_id == scope.actor.user_id:
        raise PermissionDenied("you cannot deactivate yourself; ask another administrator", field="user_id")
    user = manageable_user(session, scope, data.user_id, excess=excess, today=today)
    if not user.is_active:
        raise UserInactive(f"{user.display_name} is already deactivated", field="user_id")
    held = grants_in_force(session, user.id, today)
    if any(role == NETWORK_ADMIN and path.count("/") == 2 for role, _, path in held):
        refuse_last_administrator(session, today, leaving=user.id)
    user.is_active = False
    user.updated_at = utcnow()
    record_changes(session, scope, user, reason=data.reason)
    now = utcnow()
    keys = session.execute(select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))).scalars()
    for key in keys:
        key.revoked_at = now
        record_changes(session, scope, key, reason=f"owner deactivated: {data.reason}")
    if user.org_id is not None:
        emit_event(
            session,
            event_type="access.user_deactivated",
            org_id=user.org_id,
            payload={"user_id": user.id, "reason": data.reason},
        )
    session.flush()
    return to_read(scope, user)


def refuse_last_administrator(session: Session, today: dt.date, *, leaving: uuid.UUID) -> None:
    """Refuse a change that leaves no other active network administrator at the network root.

    Raises:
        LastAdministrator: `leaving` is the only one.
    """
    others = session.execute(
        select(func.count())
        .select_from(RoleGrant)
        .join(Organization, Organization.id == RoleGrant.org_id)
        .join(User, User.id == RoleGrant.user_id)
        .where(
            RoleGrant.role == NETWORK_ADMIN,
            Organization.parent_id.is_(None),
            RoleGrant.revoked_at.is_(None),
            or_(RoleGrant.expires_on.is_(None), RoleGrant.expires_on >= today),
            User.is_active.is_(True),
            User.id != leaving,
        )
    ).scalar_one()
    if not others:
        raise LastAdministrator(
            "the network would be left without an active network administrator; grant the role to someone else first",
            field="user_id",
        )
