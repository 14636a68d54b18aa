"""API keys: shown once, stored as a hash, narrowed to the owner's grants, refused when revoked or expired."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from db.base import utcnow
from db.models import ApiKey, OrgLevel
from domain.errors import InvalidInput, NotFound
from mcp_server.auth import (
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    AuthenticationFailed,
    authenticate_api_key,
    authenticate_bearer,
    authenticate_stdio,
    create_api_key,
    revoke_api_key,
)
from mcp_server.settings import Settings
from policies.principal import AuthMethod
from policies.scope import Action, DataClass
from tests.factories import create_org
from tests.integration.policies.conftest import persona, scope_of


@pytest.fixture()
def registrar(session):
    root = create_org(session, level=OrgLevel.NETWORK)
    campus = create_org(session, parent=root)
    user, _ = persona(session, ("registrar", campus))
    return user, root, campus


def test_the_key_is_shown_once_and_only_its_hash_is_stored(session, registrar):
    user, _, _ = registrar
    key, plaintext = create_api_key(session, user, "gradebook sync", ["roster.readonly"])

    assert plaintext.startswith(key.prefix + "_") and key.prefix.startswith("sis_live_")
    assert len(plaintext) >= len(key.prefix) + 1 + 32
    stored = session.execute(select(ApiKey.__table__).where(ApiKey.id == key.id)).one()._asdict()
    assert stored["secret_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in {str(v) for v in stored.values()}
    assert plaintext[len(key.prefix) + 1 :] not in "".join(str(v) for v in stored.values())


def test_a_key_authenticates_as_its_owner_narrowed_by_its_scopes_and_org(session, registrar):
    user, _, campus = registrar
    _, plaintext = create_api_key(session, user, "sync", ["roster.readonly"], org_id=campus.id)

    principal = authenticate_api_key(session, plaintext)
    assert principal.user_id == user.id and principal.auth_method is AuthMethod.API_KEY
    assert principal.token_scopes == ("roster.readonly",) and principal.org_limit_path == campus.path
    scope = scope_of(session, principal)
    assert scope.orgs(DataClass.DIRECTORY) == {campus.id}
    assert not scope.can(DataClass.DIRECTORY, Action.WRITE) and not scope.can(DataClass.CONTACT)
    assert scope.actor.api_key_prefix == principal.api_key_prefix


def test_wrong_unknown_and_malformed_keys_are_rejected_alike(session, registrar):
    user, _, _ = registrar
    key, plaintext = create_api_key(session, user, "sync", ["sis.read"])
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")

    for presented in (tampered, "sis_live_00000000_" + "x" * 43, "not-a-key", "", key.prefix):
        with pytest.raises(ApiKeyInvalid):
            authenticate_api_key(session, presented)


def test_revoked_key_is_rejected_with_its_own_error(session, registrar):
    user, _, _ = registrar
    key, plaintext = create_api_key(session, user, "sync", ["sis.read"])
    revoke_api_key(session, key.prefix)

    with pytest.raises(ApiKeyRevoked, match="revoked"):
        authenticate_api_key(session, plaintext)
    first = key.revoked_at
    assert revoke_api_key(session, key.prefix).revoked_at == first
    with pytest.raises(NotFound):
        revoke_api_key(session, "sis_live_ffffffff")


def test_expired_key_is_rejected_with_its_own_error(session, registrar):
    user, _, _ = registrar
    _, plaintext = create_api_key(session, user, "sync", ["sis.read"], expires_at=utcnow() + dt.timedelta(days=1))

    authenticate_api_key(session, plaintext)
    with pytest.raises(ApiKeyExpired, match="expired"):
        authenticate_api_key(session, plaintext, now=utcnow() + dt.timedelta(days=2))


def test_using_a_key_records_when_it_was_last_used(session, registrar):
    user, _, _ = registrar
    key, plaintext = create_api_key(session, user, "sync", ["sis.read"])
    assert key.last_used_at is None

    authenticate_api_key(session, plaintext)
    session.expire_all()
    assert session.get(ApiKey, key.id).last_used_at is not None


def test_a_key_of_an_inactive_owner_is_rejected(session, registrar):
    user, _, _ = registrar
    _, plaintext = create_api_key(session, user, "sync", ["sis.read"])
    user.is_active = False
    session.flush()

    with pytest.raises(ApiKeyInvalid, match="not an active user"):
        authenticate_api_key(session, plaintext)


def test_keys_need_a_name_known_scopes_and_a_future_expiry(session, registrar):
    user, _, _ = registrar
    with pytest.raises(InvalidInput):
        create_api_key(session, user, " ", ["sis.read"])
    with pytest.raises(InvalidInput, match="unknown scope"):
        create_api_key(session, user, "x", ["sis.everything"])
    with pytest.raises(InvalidInput):
        create_api_key(session, user, "x", [])
    with pytest.raises(InvalidInput):
        create_api_key(session, user, "x", ["sis.read"], expires_at=utcnow() - dt.timedelta(seconds=1))


def test_bearer_header_and_stdio_environment_carry_the_same_key(session, registrar):
    user, _, _ = registrar
    _, plaintext = create_api_key(session, user, "desktop", ["sis.read"])

    assert authenticate_bearer(session, f"Bearer {plaintext}").auth_method is AuthMethod.BEARER
    assert (
        authenticate_stdio(session, Settings.from_environ({"SIS_API_KEY": plaintext}).api_key).auth_method
        is AuthMethod.STDIO
    )
    with pytest.raises(AuthenticationFailed):
        authenticate_bearer(session, f"Basic {plaintext}")
    with pytest.raises(AuthenticationFailed, match="SIS_API_KEY"):
        authenticate_stdio(session, Settings.from_environ({}).api_key)
