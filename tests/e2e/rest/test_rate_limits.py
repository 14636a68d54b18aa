"""#20 "Rate limits and quotas": per API key, counted in the database, so every server process agrees.

Two apps over one database stand in for two server processes (they share no memory: each has its
own Deps). A key's own limit, set by a network administrator, is enforced across both; over it,
REST answers 429 with Retry-After and RateLimit-* headers and MCP a tool error; refusals are on the
query log and do not use the quota; other keys are untouched; a key's owner cannot raise their own.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ApiKey, QueryLog
from mcp_server.app import create_app
from mcp_server.settings import Settings
from tests.e2e.integrators import KEYS


def _key_id(integrator_db, name: str) -> str:
    prefix = "_".join(integrator_db.keys[name].split("_")[:3])
    with Session(integrator_db.engine) as s:
        return str(s.execute(select(ApiKey.id).where(ApiKey.prefix == prefix)).scalar_one())


def _clients(integrator_db, name: str) -> list[TestClient]:
    settings = Settings.from_environ({"SIS_AUTH_CACHE_SECONDS": "0"})
    apps = [create_app(integrator_db.engine, settings=settings) for _ in range(2)]
    clients = [TestClient(app, raise_server_exceptions=False) for app in apps]
    for client in clients:
        client.headers["Authorization"] = f"Bearer {integrator_db.keys[name]}"
    return clients


def test_a_keys_limit_holds_across_processes_with_429_headers_and_leaves_others_alone(integrator_db):
    admin = integrator_db.client("network_admin")
    key_id = _key_id(integrator_db, "nurse_austin")
    try:
        set_limits = admin.put(f"/api/v1/api-keys/{key_id}/limits", json={"per_minute": 4, "reason": "trial plan"})
        assert set_limits.status_code == 200, set_limits.text
        assert set_limits.json()["limits"]["per_minute"] == 4
        first, second = _clients(integrator_db, "nurse_austin")
        answers = [(first if n % 2 else second).get("/api/v1/me") for n in range(6)]
        statuses = [a.status_code for a in answers]
        assert statuses[:4] == [200, 200, 200, 200] and statuses[4:] == [429, 429], statuses
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Limit"] == "4" and refused.headers["RateLimit-Remaining"] == "0"
        assert int(refused.headers["RateLimit-Reset"]) == int(refused.headers["Retry-After"])
        with Session(integrator_db.engine) as s:
            logged = s.execute(
                select(QueryLog).where(QueryLog.seq == refused.json()["error"]["audit_seq"])
            ).scalar_one()
        assert logged.outcome.value == "denied" and logged.error_code == "rate_limited"
        other = _clients(integrator_db, "registrar_austin")[0]
        assert other.get("/api/v1/me").status_code == 200, "another key has its own counters"
    finally:
        admin.put(f"/api/v1/api-keys/{key_id}/limits", json={})


def test_mcp_gets_a_tool_error_that_says_when_to_retry(integrator_db):
    from tools.runner import ToolCallError, run_tool

    admin = integrator_db.client("network_admin")
    key_id = _key_id(integrator_db, "guide_austin")
    try:
        assert admin.put(f"/api/v1/api-keys/{key_id}/limits", json={"per_day": 1}).status_code == 200
        app = create_app(integrator_db.engine, settings=Settings.from_environ({"SIS_AUTH_CACHE_SECONDS": "0"}))
        deps = app.state.deps
        with deps.session_factory() as session:
            from mcp_server.auth import authenticate_api_key

            principal = authenticate_api_key(session, integrator_db.keys["guide_austin"])
            session.commit()
        assert run_tool(deps, principal, "whoami", {}).data["email"]
        try:
            run_tool(deps, principal, "whoami", {})
        except ToolCallError as err:
            assert err.code == "rate_limited" and err.status == 429 and "today (UTC)" in err.message
            assert "try again in" in err.message and err.headers["RateLimit-Limit"] == "1"
        else:
            raise AssertionError("the second call of the day should be refused")
    finally:
        admin.put(f"/api/v1/api-keys/{key_id}/limits", json={})


def test_nobody_raises_their_own_limits_and_bad_limits_are_refused(integrator_db):
    admin = integrator_db.client("network_admin")
    own = admin.put(f"/api/v1/api-keys/{_key_id(integrator_db, 'network_admin')}/limits", json={"per_minute": 0})
    assert own.status_code == 403 and "own keys" in own.json()["error"]["message"]
    partner = integrator_db.client("partner")
    theirs = partner.put(
        f"/api/v1/api-keys/{_key_id(integrator_db, 'registrar_austin')}/limits", json={"per_minute": 9}
    )
    assert theirs.status_code in (403, 404)
    negative = admin.put(f"/api/v1/api-keys/{_key_id(integrator_db, 'nurse_austin')}/limits", json={"per_minute": -1})
    assert negative.status_code == 422 and negative.json()["error"]["field"] == "per_minute"
    assert set(KEYS) >= {"network_admin", "partner", "nurse_austin"}
