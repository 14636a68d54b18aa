"""Through the real MCP client: a network admin onboards a finance officer and a guide, each then acting with their key."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from mcp import Client
from sqlalchemy import select

from db.demo.personas import AUSTIN_PATH, MIAMI_PATH
from db.models import Organization
from mcp_server.auth import authenticate_api_key
from mcp_server.mcp_face import fixed_principal_server

pytestmark = pytest.mark.anyio


async def call(server, name, args):
    async with Client(server, raise_exceptions=True) as client:
        result = await client.call_tool(name, args)
    body = result.structured_content or json.loads(result.content[0].text)
    return result.is_error, body


def org(deps, path):
    with deps.session_factory() as session:
        return str(session.execute(select(Organization.id).where(Organization.path == path)).scalar_one())


async def test_admin_onboards_staff_whose_keys_act_as_them(demo_deps, persona):
    admin = replace(persona("network_admin"), token_scopes=("sis.read", "sis.write", "audit.read"))
    server = fixed_principal_server(demo_deps, admin)
    people = {"finance": (MIAMI_PATH, "fin.miami@sis.example"), "guide": (AUSTIN_PATH, "guide2.austin@sis.example")}
    keys = {}
    for role, (path, email) in people.items():
        failed, user = await call(
            server, "create_user", {"email": email, "display_name": role, "org_id": org(demo_deps, path)}
        )
        assert not failed, user
        failed, grant = await call(
            server, "grant_role", {"user_id": user["user_id"], "role": role, "org_id": org(demo_deps, path)}
        )
        assert not failed and grant["status"] == "active", grant
        failed, key = await call(
            server, "create_api_key", {"name": role, "scopes": ["sis.read", "sis.write"], "user_id": user["user_id"]}
        )
        assert not failed, key
        keys[role] = key["api_key"]

    for role, (path, email) in people.items():
        with demo_deps.session_factory.begin() as session:
            principal = authenticate_api_key(session, keys[role])
        failed, me = await call(fixed_principal_server(demo_deps, principal), "whoami", {})
        assert not failed and me["email"] == email
        assert [(r["role"], r["org_path"]) for r in me["roles"]] == [(role, path)]
    # The finance officer cannot hand out grants; her tool call is refused, not run.
    with demo_deps.session_factory.begin() as session:
        finance = authenticate_api_key(session, keys["finance"])
    failed, body = await call(
        fixed_principal_server(demo_deps, finance),
        "grant_role",
        {"user_id": str(finance.user_id), "role": "finance", "org_id": org(demo_deps, MIAMI_PATH)},
    )
    assert failed and body["error"]["code"] == "permission_denied"
