"""Authentication: API keys (also presented as HTTP bearer tokens or SIS_API_KEY over stdio) -> Principal.

A key looks like "sis_live_ab12cd34_<43 random url-safe characters>". The first three parts are
its public prefix, stored in clear and shown in lists and logs; the whole key is stored only
as its SHA-256. Identity always comes from the credential, never from a tool argument.
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.orm import Session, aliased

from db.base import utcnow
from db.engine import take_write_lock
from db.models import ApiKey, Organization, RoleGrant, User
from domain.access.keys import hash_key, new_key_row, seal
from domain.errors import DomainError, InvalidInput, NotFound
from policies.principal import (
    AuthMethod,
    Principal,
    UnknownTokenScope,
    grant_in_force,
    principal_of,
    token_permissions,
)
from policies.verified import RecentlyVerified

# last_used_at is written at most this often per key, so busy keys do not contend on their row.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
ENV_VAR = "SIS_API_KEY"


class AuthenticationFailed(DomainError):
    """The credential is missing, malformed, unknown, revoked or expired."""

    code = "unauthenticated"
    status = 401


class ApiKeyInvalid(AuthenticationFailed):
    code = "api_key_invalid"


class ApiKeyRevoked(AuthenticationFailed):
    code = "api_key_revoked"


class ApiKeyExpired(AuthenticationFailed):
    code = "api_key_expired"


def _split(presented: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    parts = presented.strip().split("_", 3)
    if len(parts) != 4 or parts[0] != "sis" or not parts[1] or len(parts[2]) != 8 or len(parts[3]) < 32:
        return None
    return "_".join(parts[:3]), parts[3]


def create_api_key(
    session: Session,
    user: User,
    name: str,
    scopes: Sequence[str],
    *,
    org_id: uuid.UUID | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key for `user`; returns the row and the plaintext key, which is never shown again.

    Raises:
        InvalidInput: empty name, no or unknown scopes, unknown org, or an expiry in the past.
    """
    if not name.strip():
        raise InvalidInput("an API key needs a name", field="name")
    if not scopes:
        raise InvalidInput("an API key needs at least one scope", field="scopes")
    try:
        token_permissions(tuple(scopes))
    except UnknownTokenScope as err:
        raise InvalidInput(str(err), field="scopes") from err
    if org_id is not None and session.get(Organization, org_id) is None:
        raise InvalidInput(f"organization {org_id} not found", field="org_id")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("the expiry must be in the future", field="expires_at")
    key, plaintext = new_key_row(user, name, scopes, org_id=org_id, expires_at=expires_at)
    seal(key, plaintext)
    session.add(key)
    session.flush()
    return key, plaintext


def authenticate_api_key(
    session: Session, presented: str, *, method: AuthMethod = AuthMethod.API_KEY, now: dt.datetime | None = None
) -> Principal:
    """The Principal a presented key acts for: its owner's grants, narrowed by the key's org and scopes.

    Raises:
        ApiKeyInvalid: malformed, unknown or wrong key, or its owner is inactive.
        ApiKeyRevoked: the key was revoked.
        ApiKeyExpired: the key's expiry has passed.
    """
    now = now or utcnow()
    parts = _split(presented or "")
    # One round trip: the key, its owner, its org limit and the owner's grants in force.
    rows = session.execute(_KEY_WITH_OWNER, {"prefix": parts[0], "today": now.date()}).all() if parts else []
    key = rows[0][0] if rows else None
    # Compare even when nothing matched, so a wrong key and an unknown one take the same time.
    stored = key.secret_hash if key is not None else hash_key("")
    if not hmac.compare_digest(stored, hash_key(presented or "")) or key is None:
        raise ApiKeyInvalid("the API key is not valid")
    if key.revoked_at is not None:
        raise ApiKeyRevoked(f"API key {key.prefix} was revoked on {key.revoked_at:%Y-%m-%d}")
    if key.expires_at is not None and key.expires_at <= now:
        raise ApiKeyExpired(f"API key {key.prefix} expired on {key.expires_at:%Y-%m-%d}")
    owner: User = rows[0][1]
    if not owner.is_active:
        raise ApiKeyInvalid(f"the owner of API key {key.prefix} is not an active user")
    grants = [(role, org_id, path) for _, _, _, role, org_id, path in rows if role is not None and path is not None]
    principal = principal_of(owner, grants, method)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        take_write_lock(session)
        key.last_used_at = now
        session.flush()
    return replace(
        principal,
        api_key_id=key.id,
        api_key_prefix=key.prefix,
        token_scopes=tuple(key.scopes),
        org_limit_id=key.org_id,
        org_limit_path=rows[0][2],
        rate_limits=_limits(key.limits),
    )


def _key_with_owner_statement() -> Select[ApiKey, User, str, str, uuid.UUID, str]:
    limit_org, grant_org = aliased(Organization), aliased(Organization)
    return (
        select(ApiKey, User, limit_org.path, RoleGrant.role, RoleGrant.org_id, grant_org.path)
        .join(User, User.id == ApiKey.user_id)
        .outerjoin(limit_org, limit_org.id == ApiKey.org_id)
        .outerjoin(RoleGrant, and_(RoleGrant.user_id == User.id, grant_in_force(bindparam("today"))))
        .outerjoin(grant_org, grant_org.id == RoleGrant.org_id)
        .where(ApiKey.prefix == bindparam("prefix"))
    )


# Built once: authentication runs on every HTTP request.
_KEY_WITH_OWNER = _key_with_owner_statement()


def _limits(stored: dict[str, Any] | None) -> tuple[int | None, int | None, int | None] | None:
    """A key's own (per minute, per day, per month) limits as stored, or None when it has none."""
    if not stored:
        return None
    minute, day, month = (stored.get(w) for w in ("per_minute", "per_day", "per_month"))
    return (minute, day, month)


def authenticate_bearer(session: Session, authorization: str | None) -> Principal:
    """The Principal of an HTTP `Authorization: Bearer <key>` header.

    Raises:
        AuthenticationFailed: the header is missing or not a bearer credential, or the key is not accepted.
    """
    scheme, _, credential = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise AuthenticationFailed("send the API key as `Authorization: Bearer <key>`")
    return authenticate_api_key(session, credential.strip(), method=AuthMethod.BEARER)


def authenticate_stdio(session: Session, api_key: str | None) -> Principal:
    """The Principal of an MCP stdio server process, from its SIS_API_KEY (`Settings.api_key`).

    Raises:
        AuthenticationFailed: SIS_API_KEY is unset, or the key is not accepted.
    """
    presented = (api_key or "").strip()
    if not presented:
        raise AuthenticationFailed(f"set {ENV_VAR} to an API key (create one with `sis apikey create`)")
    return authenticate_api_key(session, presented, method=AuthMethod.STDIO)


def revoke_api_key(
    session: Session, prefix: str, *, now: dt.datetime | None = None, verified: RecentlyVerified | None = None
) -> ApiKey:
    """Revoke the key with this public prefix (idempotent: the first revocation time is kept).

    `verified`, the serving process's cache (`Deps.recently_verified`), forgets the key at once;
    every other process forgets it when its watch sees the credentials token change
    (mcp_server/cache_watch.py, docs/running/processes.md).

    Raises:
        NotFound: no key has this prefix.
    """
    key = session.execute(select(ApiKey).where(ApiKey.prefix == prefix.strip())).scalar_one_or_none()
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}", field="prefix")
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.flush()
    if verified is not None:
        verified.forget_key(key.prefix)
    return key


def list_api_keys(session: Session) -> list[tuple[ApiKey, str]]:
    """Every key with its owner's email, newest first (the secret hash is never part of a listing)."""
    rows = session.execute(
        select(ApiKey, User.email).join(User, User.id == ApiKey.user_id).order_by(ApiKey.created_at.desc())
    ).all()
    return [(key, email) for key, email in rows]
