"""OAuth 2.0 client credentials for integrators, and the credential check of the OneRoster face.

An integration's API key is its client: client_id is the key's public prefix ("sis_live_ab12cd34")
and client_secret the rest of the key (the whole key is accepted too). `POST /oauth/token`
issues a bearer token that lives TOKEN_TTL, stored only as its SHA-256, bound to the key (a
revoked or expired key ends its tokens at once) and carrying the OneRoster scopes it was granted.
An API key may also be sent directly as the bearer; it then carries every roster scope its own
scopes allow. Tokens are for the OneRoster API only: the SIS REST API takes API keys.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import ApiKey, OAuthToken, Organization
from domain.access.keys import hash_key
from domain.errors import NotFound
from mcp_server.auth import (
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    AuthenticationFailed,
    authenticate_api_key,
)
from policies.principal import AuthMethod, Principal, load_principal

SCOPE_PREFIX = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
ROSTER = SCOPE_PREFIX + "roster.readonly"
ROSTER_CORE = SCOPE_PREFIX + "roster-core.readonly"
ROSTER_DEMOGRAPHICS = SCOPE_PREFIX + "roster-demographics.readonly"
ALL_SCOPES = (ROSTER, ROSTER_CORE, ROSTER_DEMOGRAPHICS)
TOKEN_TTL = dt.timedelta(hours=1)
TOKEN_PREFIX = "sis_oat_"
SECRET_BYTES = 32


class InvalidScope(ValueError):
    """A requested scope is unknown or not allowed for the client."""


@dataclass(frozen=True)
class Credential:
    """Who is calling and which OneRoster scopes the presented credential carries."""

    principal: Principal
    scopes: frozenset[str]


def allowed_scopes(key_scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    """The OneRoster scopes an API key may carry: roster always; demographics with SIS read access."""
    allowed = {ROSTER, ROSTER_CORE}
    if {"sis.read", "sis.write"} & set(key_scopes):
        allowed.add(ROSTER_DEMOGRAPHICS)
    return frozenset(allowed)


def client_key(client_id: str, client_secret: str) -> str:
    """The API key a client id and secret stand for (the secret may also be the whole key)."""
    client_id, client_secret = client_id.strip(), client_secret.strip()
    if client_secret.startswith(client_id + "_"):
        return client_secret
    return f"{client_id}_{client_secret}"


def issue_token(
    session: Session, client_id: str, client_secret: str, requested: str | None, *, now: dt.datetime | None = None
) -> tuple[str, OAuthToken]:
    """A new bearer token for a client; returns the plaintext (shown once) and the stored row.

    Raises:
        AuthenticationFailed: the client id and secret are not a valid, active API key.
        InvalidScope: a requested scope is unknown or beyond what the key allows.
    """
    now = now or utcnow()
    principal = authenticate_api_key(session, client_key(client_id, client_secret), method=AuthMethod.API_KEY)
    key = session.get_one(ApiKey, principal.api_key_id)
    allowed = allowed_scopes(key.scopes)
    wanted = set(requested.split()) if requested and requested.strip() else set(allowed)
    unknown = sorted(wanted - set(ALL_SCOPES))
    if unknown:
        raise InvalidScope(f"unknown scope(s): {' '.join(unknown)}")
    refused = sorted(wanted - allowed)
    if refused:
        raise InvalidScope(f"scope(s) not allowed for this client: {' '.join(refused)}")
    prefix = f"{TOKEN_PREFIX}{secrets.token_hex(4)}"
    plaintext = f"{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    token = OAuthToken(
        prefix=prefix,
        token_hash=hash_key(plaintext),
        api_key_id=key.id,
        scopes=sorted(wanted),
        issued_at=now,
        expires_at=now + TOKEN_TTL,
    )
    session.add(token)
    session.flush()
    return plaintext, token


def _principal_of_key(session: Session, key: ApiKey, now: dt.datetime) -> Principal:
    """The principal a key acts for, checked as authenticate_api_key checks it (the key text is not at hand)."""
    if key.revoked_at is not None:
        raise ApiKeyRevoked(f"API key {key.prefix} was revoked; its tokens are no longer valid")
    if key.expires_at is not None and key.expires_at <= now:
        raise ApiKeyExpired(f"API key {key.prefix} expired; its tokens are no longer valid")
    try:
        principal = load_principal(session, user_id=key.user_id, auth_method=AuthMethod.BEARER)
    except NotFound as err:
        raise ApiKeyInvalid(f"the owner of API key {key.prefix} is not an active user") from err
    limit_path = session.execute(select(Organization.path).where(Organization.id == key.org_id)).scalar()
    return replace(
        principal,
        api_key_id=key.id,
        api_key_prefix=key.prefix,
        token_scopes=tuple(key.scopes),
        org_limit_id=key.org_id,
        org_limit_path=limit_path,
    )


def authenticate_token(session: Session, presented: str, *, now: dt.datetime | None = None) -> Credential:
    """The caller behind an issued OAuth bearer token.

    Raises:
        AuthenticationFailed: unknown, wrong or expired token, or its key is no longer valid.
    """
    now = now or utcnow()
    prefix = "_".join(presented.split("_", 3)[:3]) if presented.startswith(TOKEN_PREFIX) else ""
    token = session.execute(select(OAuthToken).where(OAuthToken.prefix == prefix)).scalar_one_or_none()
    stored = token.token_hash if token is not None else hash_key("")
    if not hmac.compare_digest(stored, hash_key(presented)) or token is None:
        raise AuthenticationFailed("the access token is not valid")
    if token.expires_at <= now:
        raise AuthenticationFailed("the access token has expired; request a new one at /oauth/token")
    principal = _principal_of_key(session, session.get_one(ApiKey, token.api_key_id), now)
    return Credential(principal, frozenset(token.scopes))


def authenticate_oneroster(session: Session, authorization: str | None) -> Credential:
    """The caller of a OneRoster request: an issued token, or an API key sent directly as the bearer.

    Raises:
        AuthenticationFailed: no bearer credential, or one that is not accepted.
    """
    scheme, _, presented = (authorization or "").strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationFailed("send `Authorization: Bearer <token>` (get a token at POST /oauth/token)")
    if presented.startswith(TOKEN_PREFIX):
        return authenticate_token(session, presented)
    principal = authenticate_api_key(session, presented, method=AuthMethod.BEARER)
    key = session.get_one(ApiKey, principal.api_key_id)
    return Credential(principal, allowed_scopes(key.scopes))
