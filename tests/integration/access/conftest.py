"""Helpers for the access tools: calls through the runner as demo personas, on the demo data set."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from db.demo.personas import AUSTIN_PATH, MIAMI_PATH, NETWORK_PATH
from db.models import ChangeEvent, Organization
from mcp_server.auth import authenticate_api_key
from tools.runner import ToolCallError, run_tool

READ_ONLY = ("sis.read",)


def call(deps: Any, principal: Any, tool: str, **arguments: Any) -> Any:
    """The tool's output for `principal` (raises ToolCallError on a refusal)."""
    return run_tool(deps, principal, tool, arguments).output


def refusal(deps: Any, principal: Any, tool: str, **arguments: Any) -> ToolCallError:
    """The error a call is refused with (the test fails if it succeeds)."""
    with pytest.raises(ToolCallError) as caught:
        run_tool(deps, principal, tool, arguments)
    return caught.value


def org_id(deps: Any, path: str) -> uuid.UUID:
    with deps.session_factory() as session:
        return session.execute(select(Organization.id).where(Organization.path == path)).scalar_one()


def change_fields(deps: Any, entity_id: uuid.UUID) -> set[str]:
    """The fields that have change events for one entity."""
    with deps.session_factory() as session:
        return set(session.execute(select(ChangeEvent.field).where(ChangeEvent.entity_id == str(entity_id))).scalars())


def count(deps: Any, model: Any, *where: Any) -> int:
    with deps.session_factory() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def keyed(principal: Any, scopes: tuple[str, ...] = READ_ONLY) -> Any:
    """The principal as an API key with these token scopes would present it."""
    return replace(principal, token_scopes=scopes)


def authenticate(deps, plaintext):
    """The caller of a REST request presenting `plaintext`, through the app's verified-key memory."""

    def check():
        with deps.session_factory.begin() as session:
            return authenticate_api_key(session, plaintext)

    return deps.recently_verified.verify("rest", plaintext, check, lambda p: p.api_key_prefix)


@pytest.fixture()
def places(demo_deps):
    return {
        "network": org_id(demo_deps, NETWORK_PATH),
        "austin": org_id(demo_deps, AUSTIN_PATH),
        "miami": org_id(demo_deps, MIAMI_PATH),
    }
