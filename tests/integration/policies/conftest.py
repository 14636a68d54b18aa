"""Helpers for policy tests: users holding role grants, principals and scopes built the real way."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from db.models import Organization, RoleGrant, User
from policies.authorize import build_scope
from policies.enforcer import default_enforcer
from policies.principal import Principal, load_principal
from policies.scope import Scope
from tests.factories import create_user


def grant(session: Session, user: User, role: str, org: Organization, *, expires_on: dt.date | None = None) -> None:
    """Give `user` the role `role` at `org` (and so its subtree)."""
    session.add(RoleGrant(id=uuid.uuid4(), user_id=user.id, role=role, org_id=org.id, expires_on=expires_on))
    session.flush()


def persona(session: Session, *grants: tuple[str, Organization]) -> tuple[User, Principal]:
    """A new staff user holding `grants`, and its Principal as authentication would load it."""
    user = create_user(session)
    for role, org in grants:
        grant(session, user, role, org)
    return user, load_principal(session, user_id=user.id)


def scope_of(session: Session, principal: Principal) -> Scope:
    """The Scope authorization decides for `principal` with the packaged policy."""
    return build_scope(session, default_enforcer(), principal)
