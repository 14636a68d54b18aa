"""One composition root: two apps built in one process with different settings share nothing.

Each `create_app` wires its own `Deps` with `build_deps` (mcp_server/wiring.py): its own memory of
verified credentials and the settings it was given, so one app (or one test) never answers from
another's state.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import User
from mcp_server.app import create_app
from mcp_server.auth import create_api_key, revoke_api_key
from mcp_server.settings import Settings
from tests.e2e.conftest import served_db  # noqa: F401 - the shared committed demo database fixture
from tests.personas import email_of
from tools.chat_settings import ChatSettings


def _fresh_key(served_db) -> tuple[str, dict[str, str]]:  # noqa: F811
    """A new key of registrar.austin's: its prefix and the header that presents it."""
    with Session(served_db.engine) as session, session.begin():
        user = session.execute(select(User).where(User.email == email_of("registrar_austin"))).scalar_one()
        key, plaintext = create_api_key(session, user, "composition root test", ["sis.read"])
        return key.prefix, {"Authorization": f"Bearer {plaintext}"}


def _revoke_behind_their_backs(served_db, prefix: str) -> None:  # noqa: F811
    """Revoke in the database without telling either app's cache."""
    with Session(served_db.engine) as session, session.begin():
        revoke_api_key(session, prefix)


def test_a_key_verified_by_one_app_is_not_taken_as_verified_by_another(served_db):  # noqa: F811
    prefix, key = _fresh_key(served_db)
    # The credentials watch off: this is about the apps' memories, not the database telling them (processes.md).
    settings = Settings(auth_cache_seconds=60, cache_poll_seconds=0)
    with (
        TestClient(create_app(served_db.engine, settings=settings)) as first,
        TestClient(create_app(served_db.engine, settings=settings)) as second,
    ):
        assert first.get("/api/v1/me", headers=key).status_code == 200
        _revoke_behind_their_backs(served_db, prefix)
        remembered = first.get("/api/v1/me", headers=key)
        checked = second.get("/api/v1/me", headers=key)
    assert remembered.status_code == 200, "the first app verified the key moments ago and remembers it"
    assert checked.status_code == 401 and "revoked" in checked.text, "the second app never verified it"


def test_each_app_answers_with_the_settings_it_was_built_with(served_db):  # noqa: F811
    prefix, key = _fresh_key(served_db)
    online = Settings(auth_cache_seconds=0, chat=ChatSettings(api_key="sk-ant-test", model="claude-haiku-5-5"))
    offline = Settings(auth_cache_seconds=60, cache_poll_seconds=0)
    with (
        TestClient(create_app(served_db.engine, settings=online, demo_mode=True)) as first,
        TestClient(create_app(served_db.engine, settings=offline, demo_mode=True)) as second,
    ):
        assert first.get("/chat/api/config").json()["assistant"] == {"mode": "anthropic", "model": "claude-haiku-5-5"}
        assert second.get("/chat/api/config").json()["assistant"] == {"mode": "offline", "model": None}
        assert first.get("/api/v1/me", headers=key).status_code == 200
        assert second.get("/api/v1/me", headers=key).status_code == 200
        _revoke_behind_their_backs(served_db, prefix)
        uncached = first.get("/api/v1/me", headers=key)
        cached = second.get("/api/v1/me", headers=key)
    assert uncached.status_code == 401, "a zero cache lifetime checks the database on every request"
    assert cached.status_code == 200, "the other app keeps its own lifetime"
