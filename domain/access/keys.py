"""API keys as catalog tools: a key is never wider than its owner, nor than the key that made it.

A key acts for its owner: the owner's grants in force, narrowed by the key's org and token
scopes (policies/principal.py TOKEN_SCOPES), so a key can only narrow. On top of that, the
tools refuse a key whose scopes the creating credential itself lacks, and only network
administrators make keys for other users. The plaintext is returned once by `create_api_key`
and stored nowhere: the row keeps its SHA-256, change events never carry the hash, and the
query log records a call's arguments, never its answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import ApiKey, User
from domain.access.errors import ApiKeyAlreadyRevoked
from domain.access.schemas import (
    ApiKeyList,
    ApiKeyQuery,
    ApiKeyRead,
    CreateApiKeyInput,
    CreatedApiKey,
    RevokeApiKeyInput,
    SetApiKeyLimitsInput,
)
from domain.access.users import Excess, manageable_user, user_filter, visible_user
from domain.audit.changes import record_changes
from domain.errors import InvalidInput, NotFound, PermissionDenied
from policies.scope import Scope

KEY_ENVIRONMENT = "live"
SECRET_BYTES = 32  # token_urlsafe(32): 43 characters, 256 bits


def hash_key(presented: str) -> str:
    """The stored form of a key: hex SHA-256 of the whole key."""
    return hashlib.sha256(presented.encode("utf-8")).hexdigest()


def new_key_row(
    owner: User,
    name: str,
    scopes: Sequence[str],
    *,
    org_id: uuid.UUID | None,
    expires_at: dt.datetime | None,
) -> tuple[ApiKey, str]:
    """A new, unsaved key row for `owner` without its hash yet, and the plaintext key (set the hash with `seal`)."""
    prefix = f"sis_{KEY_ENVIRONMENT}_{secrets.token_hex(4)}"
    plaintext = f"{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey(
        id=uuid.uuid4(),
        prefix=prefix,
        name=name.strip(),
        user_id=owner.id,
        org_id=org_id,
        scopes=sorted(set(scopes)),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    return key, plaintext


def seal(key: ApiKey, plaintext: str) -> None:
    """Set the key's hash (after its change events are recorded, so that no event carries it)."""
    key.secret_hash = hash_key(plaintext)


def _read(scope: Scope, key: ApiKey, owner_email: str) -> ApiKeyRead:
    return ApiKeyRead(
        key_id=key.id,
        prefix=key.prefix,
        name=key.name,
        owner_user_id=key.user_id,
        owner_email=None
        if scope.hides("user_account", "email") and key.user_id != scope.actor.user_id
        else owner_email,
        scopes=list(key.scopes),
        org_id=key.org_id,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        limits=dict(key.limits) if key.limits else None,
    )


def set_api_key_limits(
    session: Session, scope: Scope, data: SetApiKeyLimitsInput, *, excess: Excess, today: dt.date, read_only: bool
) -> ApiKeyRead:
    """Set a key's own rate limits and quota (null: the plan default; 0: unlimited) for a user you administer.

    Never your own key: a partner must not raise its own quota.

    Raises:
        NotFound: no such key, or its owner is not visible. PermissionDenied: your own key, a read-only
            key, or an owner you may not change.
    """
    if read_only:
        raise PermissionDenied("a read-only key cannot change API keys", field="key_id")
    row = session.execute(
        select(ApiKey, User.email).join(User, User.id == ApiKey.user_id).where(ApiKey.id == data.key_id)
    ).first()
    if row is None:
        raise NotFound(f"API key {data.key_id} not found", field="key_id")
    key, email = row
    if key.user_id == scope.actor.user_id:
        raise PermissionDenied(
            "you may not set the limits of your own keys; a network administrator does", field="key_id"
        )
    try:
        visible_user(session, scope, key.user_id)
    except NotFound:
        raise NotFound(f"API key {data.key_id} not found", field="key_id") from None
    try:
        manageable_user(session, scope, key.user_id, excess=excess, today=today)
    except PermissionDenied as err:
        raise PermissionDenied(f"you may not change this key: {err.message}", field="key_id") from None
    key.limits = {"per_minute": data.per_minute, "per_day": data.per_day, "per_month": data.per_month}
    record_changes(session, scope, key, reason=data.reason)
    session.flush()
    return _read(scope, key, email)


def issue_api_key(
    session: Session,
    scope: Scope,
    owner: User,
    name: str,
    scopes: Sequence[str],
    *,
    org_id: uuid.UUID | None,
    expires_at: dt.datetime | None,
) -> CreatedApiKey:
    """Add a key for `owner` with its change events (the tool has checked every bound); the plaintext, once."""
    key, plaintext = new_key_row(owner, name, scopes, org_id=org_id, expires_at=expires_at)
    # Recorded while the row is still outside the session and without its hash: no change event carries it.
    record_changes(session, scope, key, reason=f"API key {key.prefix} created")
    seal(key, plaintext)
    session.add(key)
    session.flush()
    return CreatedApiKey(**_read(scope, key, owner.email).model_dump(), api_key=plaintext)


@dataclass(frozen=True)
class KeyBounds:
    """What the creating credential allows, from the policy layer (tools/access.py builds it)."""

    # The scope names the new key asks for -> why they are refused (unknown, or wider than the
    # creating key's own scopes), or None when allowed.
    refuse_scopes: Callable[[Sequence[str]], str | None]
    network_admin: bool
    # The creating key's own org limit: a key it makes is limited at least as much.
    org_limit_id: uuid.UUID | None
    # Is the creating credential read-only (it may not create or revoke keys)?
    read_only: bool


def create_api_key(session: Session, scope: Scope, data: CreateApiKeyInput, *, bounds: KeyBounds) -> CreatedApiKey:
    """A key for yourself (or, as a network administrator, for another user), never wider than its maker.

    Raises:
        PermissionDenied: a read-only credential, or a key for someone else by a non-administrator.
        NotFound: the owner or org is not visible. InvalidInput: scopes unknown or wider than yours.
    """
    if bounds.read_only:
        raise PermissionDenied("a read-only key cannot create API keys", field="scopes")
    owner_id = data.user_id or scope.actor.user_id
    if owner_id is None:
        raise PermissionDenied("only a user can own an API key", field="user_id")
    if owner_id != scope.actor.user_id:
        owner = visible_user(session, scope, owner_id)
        if not bounds.network_admin:
            raise PermissionDenied("only network administrators create keys for other users", field="user_id")
    else:
        me = session.get(User, owner_id)
        assert me is not None
        owner = me
    if not owner.is_active:
        raise InvalidInput(f"{owner.display_name} is deactivated", field="user_id")
    refused = bounds.refuse_scopes(data.scopes)
    if refused:
        raise InvalidInput(refused, field="scopes")
    org_id = data.org_id or bounds.org_limit_id
    if org_id is not None and not any(org_id in ids for ids in scope.grants.values()):
        raise NotFound(f"organization {org_id} not found", field="org_id")
    expires_at = utcnow() + dt.timedelta(days=data.expires_in_days) if data.expires_in_days else None
    return issue_api_key(session, scope, owner, data.name, data.scopes, org_id=org_id, expires_at=expires_at)


def revoke_api_key(
    session: Session, scope: Scope, data: RevokeApiKeyInput, *, excess: Excess, today: dt.date, read_only: bool
) -> ApiKeyRead:
    """Revoke a key now: your own, or one of a user you may change (their grants covered by yours).

    Raises:
        NotFound: no such key, or its owner is not visible. PermissionDenied, GrantTooWide: you may
            not change its owner. ApiKeyAlreadyRevoked.
    """
    if read_only:
        raise PermissionDenied("a read-only key cannot revoke API keys", field="key_id")
    row = session.execute(
        select(ApiKey, User.email).join(User, User.id == ApiKey.user_id).where(ApiKey.id == data.key_id)
    ).first()
    if row is None:
        raise NotFound(f"API key {data.key_id} not found", field="key_id")
    key, email = row
    if key.user_id != scope.actor.user_id:
        try:
            visible_user(session, scope, key.user_id)
        except NotFound:
            raise NotFound(f"API key {data.key_id} not found", field="key_id") from None
        try:
            manageable_user(session, scope, key.user_id, excess=excess, today=today)
        except PermissionDenied as err:
            raise PermissionDenied(f"you may not revoke this key: {err.message}", field="key_id") from None
    if key.revoked_at is not None:
        raise ApiKeyAlreadyRevoked(
            f"API key {key.prefix} was already revoked on {key.revoked_at:%Y-%m-%d}", field="key_id"
        )
    key.revoked_at = utcnow()
    record_changes(session, scope, key, reason=data.reason)
    session.flush()
    return _read(scope, key, email)


def list_api_keys(session: Session, scope: Scope, data: ApiKeyQuery) -> ApiKeyList:
    """Your own keys, and the keys of users visible to you; never a secret or its hash. Newest first.

    Raises:
        NotFound: `user_id` is neither you nor visible to you.
    """
    mine = ApiKey.user_id == scope.actor.user_id
    stmt = select(ApiKey, User.email).join(User, User.id == ApiKey.user_id)
    if data.user_id is not None:
        if data.user_id != scope.actor.user_id:
            visible_user(session, scope, data.user_id)
        stmt = stmt.where(ApiKey.user_id == data.user_id)
    else:
        stmt = stmt.where(mine | user_filter(scope))
    if not data.include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    rows = session.execute(stmt.order_by(ApiKey.created_at.desc(), ApiKey.prefix).limit(1000)).all()
    return ApiKeyList(items=[_read(scope, key, email) for key, email in rows])
