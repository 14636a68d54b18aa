"""Student records through the real MCP client: a registrar creates a child, a duplicate is refused, then confirmed."""

from __future__ import annotations

import json
import uuid

import pytest
from mcp import Client
from sqlalchemy import select

from db.models import Organization
from mcp_server.mcp_face import fixed_principal_server

pytestmark = pytest.mark.anyio


async def test_a_registrar_creates_a_student_and_a_duplicate_is_refused_until_confirmed(demo_deps, persona):
    with demo_deps.session_factory() as s:
        austin = str(s.execute(select(Organization.id).where(Organization.slug == "austin")).scalar_one())
    child = {
        "org_id": austin,
        "first_name": "Élodie",
        "last_name": f"Mcp{uuid.uuid4().hex[:6]}",
        "birth_on": "2017-01-20",
        "grade_level": 3,
        "races": ["White"],
        "identifiers": {"oneroster": f"src-{uuid.uuid4().hex[:6]}"},
    }
    async with Client(fixed_principal_server(demo_deps, persona("registrar_austin")), raise_exceptions=True) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"create_student", "update_student", "merge_students", "deactivate_student"} <= tools
        created = await client.call_tool("create_student", child)
        assert not created.is_error, created.content[0].text
        number = created.structured_content["student_number"]
        again = await client.call_tool("create_student", {**child, "first_name": "elodie", "identifiers": {}})
        error = json.loads(again.content[0].text)["error"]
        assert again.is_error and error["code"] == "duplicate_record" and str(number) in error["message"]
        confirmed = await client.call_tool("create_student", {**child, "identifiers": {}, "confirm_new_person": True})
        assert not confirmed.is_error and confirmed.structured_content["student_number"] != number
    async with Client(fixed_principal_server(demo_deps, persona("nurse_austin")), raise_exceptions=True) as nurse:
        assert "create_student" not in {t.name for t in (await nurse.list_tools()).tools}
        refused = await nurse.call_tool("create_student", child)
        assert refused.is_error and json.loads(refused.content[0].text)["error"]["code"] == "permission_denied"
