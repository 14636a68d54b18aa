"""Helpers for the organization and calendar tools, called through the runner as the demo personas."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import ChangeEvent, Organization, SchoolDay
from policies.principal import Grant, Principal
from tools.runner import ToolCallError, run_tool


@pytest.fixture()
def call(demo_deps: Any, persona: Any) -> Callable[..., dict[str, Any]]:
    """call("network_admin", "create_organization", {...}) -> the tool's answer as JSON data."""

    def run(who: str | Principal, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        principal = persona(who) if isinstance(who, str) else who
        return run_tool(demo_deps, principal, tool, arguments or {}, channel="test").data

    return run


@pytest.fixture()
def refused(call: Callable[..., dict[str, Any]]) -> Callable[..., ToolCallError]:
    """refused(who, tool, args) -> the ToolCallError the call raised (the test fails if it succeeded)."""

    def run(who: str | Principal, tool: str, arguments: dict[str, Any] | None = None) -> ToolCallError:
        with pytest.raises(ToolCallError) as failed:
            call(who, tool, arguments)
        return failed.value

    return run


@pytest.fixture()
def org_id(demo_deps: Any) -> Callable[[str], str]:
    """org_id("/alpha/academy/miami/") -> that org's id as text."""

    def find(path: str) -> str:
        with demo_deps.session_factory() as s:
            return str(s.execute(select(Organization.id).where(Organization.path == path)).scalar_one())

    return find


@pytest.fixture()
def counts(demo_deps: Any) -> Callable[[], tuple[int, int, int]]:
    """(organizations, school days, change events) now: a refused write leaves all three as they were."""

    def count() -> tuple[int, int, int]:
        with demo_deps.session_factory() as s:
            return tuple(  # type: ignore[return-value]
                s.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (Organization, SchoolDay, ChangeEvent)
            )

    return count


def read_only(principal: Principal) -> Principal:
    """The same person through an API key with only the sis.read scope."""
    return dataclasses.replace(principal, token_scopes=("sis.read",))


def with_grant(principal: Principal, role: str, org_id: Any, path: str) -> Principal:
    """`principal` holding one role grant instead of its own."""
    return dataclasses.replace(principal, grants=(Grant(role, org_id, path),))
