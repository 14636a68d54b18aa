"""Principals: who is calling (a user or an integration client), with the role grants they hold.

A Principal is built by authentication (mcp_server/auth.py) from a credential, never from a
tool argument. It is immutable and hashable, so the Scope decided for it can be cached.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Organization, RoleGrant, User, UserKind
from domain.errors import NotFound
from policies.scope import Action, Actor, DataClass


class PrincipalKind(enum.StrEnum):
    USER = "user"
    INTEGRATION = "integration"


class AuthMethod(enum.StrEnum):
    API_KEY = "api_key"
    BEARER = "bearer"
    STDIO = "stdio"
    SESSION = "session"
    SYSTEM = "system"


# OAuth-style scopes an API key may carry; each allows a set of (data class, action) pairs and
# can only narrow what the owner's roles already allow.
_NON_AUDIT = tuple(dc for dc in DataClass if dc is not DataClass.AUDIT)
TOKEN_SCOPES: dict[str, frozenset[tuple[DataClass, Action]]] = {
    "roster.readonly": frozenset({(DataClass.DIRECTORY, Action.READ)}),
    "sis.read": frozenset((dc, Action.READ) for dc in _NON_AUDIT),
    "sis.write": frozenset((dc, act) for dc in _NON_AUDIT for act in Action),
    "audit.read": frozenset({(DataClass.AUDIT, Action.READ)}),
}


class UnknownTokenScope(ValueError):
    """A scope name that TOKEN_SCOPES does not define."""


def token_permissions(scopes: tuple[str, ...]) -> frozenset[tuple[DataClass, Action]]:
    """The (data class, action) pairs a set of token scopes allows."""
    allowed: set[tuple[DataClass, Action]] = set()
    for name in scopes:
        if name not in TOKEN_SCOPES:
            raise UnknownTokenScope(f"unknown scope {name!r}; known: {', '.join(sorted(TOKEN_SCOPES))}")
        allowed |= TOKEN_SCOPES[name]
    return frozenset(allowed)


@dataclass(frozen=True, order=True)
class Grant:
    role: str
    org_id: uuid.UUID
    org_path: str


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and everything its Scope is decided from."""

    user_id: uuid.UUID
    email: str
    display_name: str
    kind: PrincipalKind
    grants: tuple[Grant, ...]
    auth_method: AuthMethod = AuthMethod.SESSION
    api_key_id: uuid.UUID | None = None
    api_key_prefix: str | None = None
    # None: not narrowed by a token (an interactive session); otherwise the key's scopes.
    token_scopes: tuple[str, ...] | None = None
    # When set, every grant is cut down to this org's subtree (an API key's org scope).
    org_limit_id: uuid.UUID | None = None
    org_limit_path: str | None = None
    # An API key's own (per minute, per day, per month) call limits; None each: the plan default.
    rate_limits: tuple[int | None, int | None, int | None] | None = None

    @property
    def rate_subject(self) -> str | None:
        """What rate limits count against: the API key, or the OAuth client; None for an interactive session."""
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        if self.api_key_prefix and self.api_key_prefix.startswith("oauth:"):
            return self.api_key_prefix
        return None

    @property
    def roles(self) -> tuple[str, ...]:
        """The distinct roles held, sorted."""
        return tuple(sorted({g.role for g in self.grants}))

    def token_allows(self, data_class: DataClass, action: Action) -> bool:
        """True when the credential's scopes (if any) allow this data class and action."""
        return self.token_scopes is None or (data_class, action) in token_permissions(self.token_scopes)

    def actor(self, operation_id: str | None = None) -> Actor:
        """The Actor recorded on change events and query-log entries for this principal."""
        actor = Actor(
            user_id=self.user_id,
            label=self.email,
            kind=self.kind.value,
            auth_method=self.auth_method.value,
            api_key_prefix=self.api_key_prefix,
        )
        return replace(actor, operation_id=operation_id) if operation_id else actor


def load_principal(
    session: Session,
    *,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
    auth_method: AuthMethod = AuthMethod.SESSION,
    today: dt.date | None = None,
) -> Principal:
    """The active user named by id or email, with their unexpired role grants.

    Raises:
        NotFound: no active user matches.
    """
    if (user_id is None) == (email is None):
        raise ValueError("give exactly one of user_id or email")
    match = User.id == user_id if user_id is not None else func.lower(User.email) == (email or "").strip().lower()
    user = session.execute(select(User).where(match, User.is_active.is_(True))).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no active user {user_id or email}", field="user")
    today = today or dt.datetime.now(dt.UTC).date()
    rows = session.execute(
        select(RoleGrant.role, RoleGrant.org_id, Organization.path)
        .join(Organization, Organization.id == RoleGrant.org_id)
        .where(RoleGrant.user_id == user.id, grant_in_force(today))
    ).all()
    return principal_of(user, rows, auth_method)


def grant_in_force(today: dt.date | ColumnElement[dt.date]) -> ColumnElement[bool]:
    """A role grant that is not revoked and has not expired by `today` (revoked grants stay as history)."""
    return and_(RoleGrant.revoked_at.is_(None), or_(RoleGrant.expires_on.is_(None), RoleGrant.expires_on >= today))


def principal_of(
    user: User, grants: Iterable[tuple[str, uuid.UUID, str]], auth_method: AuthMethod = AuthMethod.SESSION
) -> Principal:
    """The Principal of an active `user` holding `grants` (role, org id, org path)."""
    return Principal(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        kind=PrincipalKind.INTEGRATION if user.kind == UserKind.CLIENT else PrincipalKind.USER,
        grants=tuple(sorted(Grant(role, org_id, path) for role, org_id, path in grants)),
        auth_method=auth_method,
    )
