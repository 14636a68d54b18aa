"""Issue #15, "Brute force is invisible and unthrottled" and "Audit: authentication failures are
recorded": wrong keys and OAuth secrets are throttled per source address (429 with Retry-After),
logged with the key prefix only, and recorded in the query log; a valid key keeps working.
"""

from __future__ import annotations

import logging
import secrets

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import QueryLog
from mcp_server.app import create_app

BASE = "http://127.0.0.1:8000"
ATTACKER = ("203.0.113.66", 40000)
VICTIM = ("198.51.100.20", 40001)
SECRET_MARK = "Zq9SecretPartThatMustNeverBeLogged0000000000"
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def wrong_key() -> str:
    return f"sis_live_{secrets.token_hex(4)}_{SECRET_MARK}"


def valid_key(served_db) -> str:
    return next(k for name, k in served_db.keys.items() if name != "integration_lakeside")


def entries(engine, capability: str, address: str) -> list[QueryLog]:
    with Session(engine) as session:
        rows = session.execute(select(QueryLog).where(QueryLog.capability == capability)).scalars().all()
    return [r for r in rows if r.arguments.get("source_address") == address]


def test_thirty_wrong_rest_keys_get_429_and_a_valid_key_from_elsewhere_still_works(served_db, caplog):
    """#15 brute force (REST bearer) and audit of authentication failures."""
    app = create_app(served_db.engine)
    attacker = TestClient(app, client=ATTACKER)
    victim = TestClient(app, client=VICTIM)
    caplog.set_level(logging.WARNING, logger="sis.auth")
    statuses = [attacker.get("/api/v1/me", headers={"Authorization": f"Bearer {wrong_key()}"}) for _ in range(30)]
    assert statuses[0].status_code == 401
    assert statuses[-1].status_code == 429
    assert int(statuses[-1].headers["Retry-After"]) > 0
    assert statuses[-1].json()["error"]["code"] == "too_many_failures"
    assert victim.get("/api/v1/me", headers={"Authorization": f"Bearer {valid_key(served_db)}"}).status_code == 200
    # The attacker's own valid key waits too: the address is throttled, not the key.
    assert attacker.get("/api/v1/me", headers={"Authorization": f"Bearer {valid_key(served_db)}"}).status_code == 429
    assert "sis_live_" in caplog.text and ATTACKER[0] in caplog.text
    assert SECRET_MARK not in caplog.text
    logged = entries(served_db.engine, "auth:rest", ATTACKER[0])
    assert logged and all(e.outcome.value == "denied" for e in logged)
    assert logged[0].api_key_prefix.startswith("sis_live_")
    assert all(SECRET_MARK not in str(e.arguments) + str(e.error_message) for e in logged)
    # Rate-limited: 30 failures do not make 30 entries.
    assert len(logged) < 30


def test_spraying_a_victims_prefix_from_elsewhere_does_not_lock_the_victim_out(served_db):
    """#15 brute force: per-prefix throttling applies to failures; the right secret still works."""
    app = create_app(served_db.engine)
    key = valid_key(served_db)
    prefix = "_".join(key.split("_")[:3])
    answers = []
    for n in range(12):
        sprayer = TestClient(app, client=(f"192.0.2.{n + 1}", 40000))
        answers.append(sprayer.get("/api/v1/me", headers={"Authorization": f"Bearer {prefix}_{SECRET_MARK}"}))
    assert answers[-1].status_code == 429 and "Retry-After" in answers[-1].headers
    victim = TestClient(app, client=VICTIM)
    assert victim.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_thirty_wrong_keys_over_mcp_http_get_429_and_a_valid_key_still_works(served_db):
    """#15 brute force (MCP over streamable HTTP)."""
    app = create_app(served_db.engine, base_url=BASE)
    with TestClient(app, base_url=BASE, client=ATTACKER) as attacker:
        victim = TestClient(app, base_url=BASE, client=VICTIM)
        answers = [
            attacker.post("/mcp/", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {wrong_key()}"})
            for _ in range(30)
        ]
        assert answers[0].status_code == 401
        assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
        ok = victim.post(
            "/mcp/", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {valid_key(served_db)}"}
        )
        assert ok.status_code == 200
    assert entries(served_db.engine, "auth:mcp", ATTACKER[0])


def test_thirty_wrong_oauth_secrets_get_429(served_db, caplog):
    """#15 brute force (POST /oauth/token) and audit of bad OAuth secrets."""
    app = create_app(served_db.engine)
    attacker = TestClient(app, client=ATTACKER)
    caplog.set_level(logging.WARNING, logger="sis.auth")
    client_id = f"sis_live_{secrets.token_hex(4)}"
    answers = [
        attacker.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": SECRET_MARK},
        )
        for _ in range(30)
    ]
    assert answers[0].status_code == 401
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
    assert client_id in caplog.text and SECRET_MARK not in caplog.text
    assert entries(served_db.engine, "auth:oauth", ATTACKER[0])


@pytest.mark.parametrize("path", ["/ims/oneroster/rostering/v1p2/orgs"])
def test_thirty_wrong_oneroster_bearers_get_429(served_db, path):
    """#15 brute force (OneRoster bearer)."""
    attacker = TestClient(create_app(served_db.engine), client=ATTACKER)
    answers = [attacker.get(path, headers={"Authorization": f"Bearer {wrong_key()}"}) for _ in range(30)]
    assert answers[0].status_code == 401
    assert answers[-1].status_code == 429 and "Retry-After" in answers[-1].headers


def test_thirty_wrong_chat_sign_ins_get_429_and_are_recorded(served_db):
    """#15 brute force and audit (chat sign-in)."""
    app = create_app(served_db.engine)
    attacker = TestClient(app, client=ATTACKER)
    answers = [attacker.post("/chat/api/session", json={"api_key": wrong_key()}) for _ in range(30)]
    assert answers[0].status_code == 401
    assert answers[-1].status_code == 429 and "Retry-After" in answers[-1].headers
    assert entries(served_db.engine, "auth:chat", ATTACKER[0])
    victim = TestClient(app, client=VICTIM)
    assert victim.post("/chat/api/session", json={"api_key": valid_key(served_db)}).status_code == 200


def test_wrong_keys_sent_with_invalid_requests_count_as_failed_authentications(served_db):
    """#15 brute force: a request FastAPI refuses (422) still checks its key through the guard, so malformed
    requests are no way around the throttle, and an address that must wait is not checked at all."""
    app = create_app(served_db.engine)
    attacker = TestClient(app, client=("203.0.113.67", 40002))
    malformed = {"Authorization": "", "Content-Type": "application/json"}
    statuses = []
    for _ in range(30):
        malformed["Authorization"] = f"Bearer {wrong_key()}"
        statuses.append(attacker.post("/api/v1/behavior-incidents", content=b"[", headers=malformed).status_code)
    assert set(statuses) == {422}, "the body is still refused as malformed"
    logged = entries(served_db.engine, "auth:rest", "203.0.113.67")
    assert logged and logged[0].api_key_prefix.startswith("sis_live_"), "the wrong keys were recorded as failures"
    me = attacker.get("/api/v1/me", headers={"Authorization": f"Bearer {valid_key(served_db)}"})
    assert me.status_code == 429, "the failures behind the malformed requests throttle the address"
