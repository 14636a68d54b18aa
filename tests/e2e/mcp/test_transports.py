"""The real MCP client over stdio (`sis mcp` as a subprocess) and over streamable HTTP with bearer keys."""

from __future__ import annotations

import json
import os
import sys

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from mcp_server.app import create_app
from tests.personas import email_of

pytestmark = pytest.mark.anyio
BASE = "http://127.0.0.1:8000"


def stdio_params(served_db, key: str | None) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env["SIS_DATABASE_URL"] = served_db.url
    if key is not None:
        env["SIS_API_KEY"] = key
    return StdioServerParameters(
        command=sys.executable, args=["-c", "from mcp_server.cli import main; main()", "mcp"], env=env
    )


async def test_stdio_server_acts_as_the_key_owner(served_db):
    async with Client(stdio_params(served_db, served_db.keys["nurse_austin"])) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        me = await client.call_tool("whoami", {})
        missing = await client.call_tool("find_missing_immunizations", {"grade": 5})
    assert "find_missing_immunizations" in names and "enroll_student" not in names
    assert me.structured_content["email"] == "nurse.austin@sis.example"
    assert not missing.is_error and missing.structured_content["summary"]["students_evaluated"] > 0


async def test_stdio_server_without_a_key_refuses_to_start(served_db):
    with pytest.raises(Exception):  # noqa: B017 - the process exits before the MCP handshake
        async with Client(stdio_params(served_db, None)) as client:
            await client.list_tools()


def http_app(served_db):
    return create_app(served_db.engine, base_url=BASE)


async def test_http_without_a_bearer_token_gets_401_with_www_authenticate(served_db):
    app = http_app(served_db)
    transport = httpx2.ASGITransport(app=app)
    async with app.state.mcp.session_manager.run(), httpx2.AsyncClient(transport=transport, base_url=BASE) as http:
        for headers in ({}, {"Authorization": "Bearer sis_live_nope_notakey"}):
            response = await http.post(
                "/mcp/",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"Accept": "application/json, text/event-stream", **headers},
            )
            assert response.status_code == 401
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith("Bearer") and "invalid_token" in challenge


async def _http_client_session(served_db, persona: str):
    app = http_app(served_db)
    transport = httpx2.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {served_db.keys[persona]}"}
    return app, httpx2.AsyncClient(transport=transport, base_url=BASE, headers=headers)


@pytest.mark.parametrize(
    ("persona", "visible", "hidden"),
    [
        ("registrar_austin", "find_missing_immunizations", "get_health_profile"),
        ("nurse_austin", "find_missing_immunizations", "enroll_student"),
        ("integration_lakeside", "query_roster", "enroll_student"),  # its key is roster.readonly
    ],
)
async def test_http_bearer_key_decides_the_tools_and_the_scope(served_db, persona, visible, hidden):
    app, http = await _http_client_session(served_db, persona)
    async with (
        app.state.mcp.session_manager.run(),
        http,
        Client(streamable_http_client(f"{BASE}/mcp/", http_client=http)) as client,
    ):
        names = {t.name for t in (await client.list_tools()).tools}
        me = await client.call_tool("whoami", {})
        refused = await client.call_tool(hidden, {})
    assert visible in names and hidden not in names
    assert me.structured_content["email"] == email_of(persona)
    assert refused.is_error


async def test_http_guide_sees_only_assigned_students(served_db):
    app, http = await _http_client_session(served_db, "guide_austin")
    async with (
        app.state.mcp.session_manager.run(),
        http,
        Client(streamable_http_client(f"{BASE}/mcp/", http_client=http)) as client,
    ):
        roster = await client.call_tool("query_roster", {"limit": 500})
    assert 0 < roster.structured_content["total"] <= 12


async def test_http_rejects_a_foreign_host_header(served_db):
    app, http = await _http_client_session(served_db, "network_admin")
    async with app.state.mcp.session_manager.run(), http:
        response = await http.post(
            "/mcp/",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"},
        )
    assert response.status_code in (403, 421)


async def test_http_a_key_revoked_here_is_refused_at_its_next_request_despite_the_auth_cache(served_db):
    from sqlalchemy.orm import Session

    from db.models import User
    from mcp_server.auth import create_api_key, revoke_api_key

    with Session(served_db.engine) as session, session.begin():
        user = session.query(User).filter(User.email.like("registrar.austin%")).one()
        key, plaintext = create_api_key(session, user, "revoked over http", ["sis.read"])
        prefix = key.prefix
    app = http_app(served_db)
    headers = {"Authorization": f"Bearer {plaintext}"}
    async with (
        app.state.mcp.session_manager.run(),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, headers=headers) as http,
    ):
        async with Client(streamable_http_client(f"{BASE}/mcp/", http_client=http)) as client:
            assert not (await client.call_tool("whoami", {})).is_error  # verified and now remembered
        with Session(served_db.engine) as session, session.begin():
            revoke_api_key(session, prefix, verified=app.state.deps.recently_verified)
        refused = await http.post(
            "/mcp/",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert refused.status_code == 401


async def test_stdio_server_stops_acting_for_a_key_revoked_while_it_runs(served_db):
    """`sis mcp` checked its key once, at start; a revoked key kept working for the life of the process."""
    from sqlalchemy.orm import Session

    from db.models import User
    from mcp_server.auth import create_api_key, revoke_api_key

    with Session(served_db.engine) as session, session.begin():
        user = session.query(User).filter(User.email == email_of("nurse_austin")).one()
        key, plaintext = create_api_key(session, user, "stdio revoked mid-session", ["sis.read"])
        prefix = key.prefix
    params = stdio_params(served_db, plaintext)
    params.env["SIS_AUTH_CACHE_SECONDS"] = "0"
    async with Client(params) as client:
        assert not (await client.call_tool("whoami", {})).is_error
        with Session(served_db.engine) as session, session.begin():
            revoke_api_key(session, prefix)
        refused = await client.call_tool("whoami", {})
    assert refused.is_error
    assert json.loads(refused.content[0].text)["error"]["code"] == "unauthenticated"
