"""The credentials token (migration 0017): replaced by every change that makes a remembered verification
stale, not by sign-ins; and the watch of a process empties its auth cache when another process commits one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import CacheVersion, RoleGrant
from mcp_server.auth import create_api_key, revoke_api_key
from mcp_server.cache_watch import CredentialWatch
from policies.verified import RecentlyVerified
from tests.conftest import ENGINES, fresh_database
from tests.factories import create_org, create_user


def _token(session: Session) -> str:
    return session.execute(select(CacheVersion.token).where(CacheVersion.name == "credentials")).scalar_one()


def test_revocations_grants_and_user_changes_replace_the_token_and_sign_ins_do_not(session: Session) -> None:
    org = create_org(session)
    user = create_user(session)
    key, _ = create_api_key(session, user, "watched", ["sis.read"])
    before = _token(session)
    key.last_used_at = utcnow()  # what every sign-in writes, at most once a minute per key
    session.flush()
    assert _token(session) == before

    seen = [before]
    session.add(RoleGrant(id=uuid.uuid4(), user_id=user.id, role="registrar", org_id=org.id))
    session.flush()
    seen.append(_token(session))
    revoke_api_key(session, key.prefix)
    seen.append(_token(session))
    user.is_active = False
    session.flush()
    seen.append(_token(session))
    # Raw SQL too: the trigger, not the ORM, keeps the token.
    session.execute(text("UPDATE role_grant SET role = role"))
    seen.append(_token(session))
    assert len(set(seen)) == len(seen)


@pytest.fixture(scope="module", params=ENGINES)
def committed_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own: the watch reads what other connections commit."""
    engine = fresh_database(request.param, request, tmp_path_factory, "cachewatch")
    yield engine
    engine.dispose()


def test_a_revocation_committed_elsewhere_empties_the_watching_process_auth_cache(committed_engine: Engine) -> None:
    with Session(committed_engine) as session, session.begin():
        key, plaintext = create_api_key(session, create_user(session), "elsewhere", ["sis.read"])
        prefix = key.prefix
    verified = RecentlyVerified(ttl=600)
    verified.put("mcp", plaintext, "principal", api_key_prefix=prefix)
    watch = CredentialWatch(committed_engine, verified.invalidate, poll_seconds=60)
    watch.start()
    try:
        assert not watch.check_now() and verified.get("mcp", plaintext) == "principal"
        # Another process (here: another connection, as `sis apikey revoke` would) revokes the key.
        with Session(committed_engine) as session, session.begin():
            revoke_api_key(session, prefix)
        watch.check_now()  # read once after the commit (on PostgreSQL its thread may have heard it first)
        assert verified.get("mcp", plaintext) is None
    finally:
        watch.stop()


def test_on_postgresql_the_watch_hears_the_commit_without_waiting_for_its_poll(committed_engine: Engine) -> None:
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's; SQLite's watch polls")
    changes: list[int] = []
    with Session(committed_engine) as session, session.begin():
        key, _ = create_api_key(session, create_user(session), "notified", ["sis.read"])
        prefix = key.prefix
    # A poll interval longer than the test may take: only the notification can bring the change.
    watch = CredentialWatch(committed_engine, lambda: changes.append(1), poll_seconds=3600)
    watch.start()
    try:
        for _ in range(500):  # sequencing: the thread opens its listening connection first
            if watch.listening:
                break
            time.sleep(0.01)
        with Session(committed_engine) as session, session.begin():
            revoke_api_key(session, prefix)
        for _ in range(500):  # sequencing: wait for the thread to handle the notification
            if changes:
                break
            time.sleep(0.01)
    finally:
        watch.stop()
    assert changes == [1]
