"""Shared steps of the student record tests: tool calls as personas, demo orgs and rows by path."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.demo.personas import AUSTIN_PATH, LAKESIDE_PATH, MIAMI_PATH
from db.models import ChangeEvent, DomainEvent, Organization, Student
from tools.runner import ToolCallError, run_tool

PATHS = {"austin": AUSTIN_PATH, "miami": MIAMI_PATH, "lakeside": LAKESIDE_PATH}


def call(deps: Any, principal: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    """Run a tool as the principal and return its output as JSON data."""
    return run_tool(deps, principal, tool, arguments, channel="test").data


def refused(deps: Any, principal: Any, tool: str, **arguments: Any) -> ToolCallError:
    """Run a tool that must fail and return the error."""
    with pytest.raises(ToolCallError) as caught:
        run_tool(deps, principal, tool, arguments, channel="test")
    return caught.value


def read_only(principal: Any) -> Any:
    """The same person behind an API key that may only read."""
    return dataclasses.replace(principal, token_scopes=("sis.read",))


def org_id(deps: Any, name: str) -> str:
    with deps.session_factory() as session:
        return str(session.execute(select(Organization.id).where(Organization.path == PATHS[name])).scalar_one())


def student_count(deps: Any) -> int:
    with deps.session_factory() as session:
        return int(session.execute(select(func.count()).select_from(Student)).scalar_one())


def changes_of(
    session: Session, entity_type: str, entity_id: Any
) -> dict[str, tuple[str | None, str | None, str | None]]:
    """field -> (old, new, reason) of the change events of one row."""
    rows = session.execute(
        select(ChangeEvent.field, ChangeEvent.old_value, ChangeEvent.new_value, ChangeEvent.reason)
        .where(ChangeEvent.entity_type == entity_type, ChangeEvent.entity_id == str(entity_id))
        .order_by(ChangeEvent.seq)
    ).all()
    return {field: (old, new, reason) for field, old, new, reason in rows}


def events_of(session: Session, event_type: str, student_id: Any) -> list[dict[str, Any]]:
    payloads = session.execute(select(DomainEvent.payload).where(DomainEvent.event_type == event_type)).scalars()
    return [p for p in payloads if p.get("student_id") == str(student_id)]


def child(org: str, first: str = "Ana", last: str | None = None, **extra: Any) -> dict[str, Any]:
    """create_student arguments for a child unlike any demo student (unique last name)."""
    return {
        "org_id": org,
        "first_name": first,
        "last_name": last or f"Testchild{uuid.uuid4().hex[:8]}",
        "birth_on": "2016-04-02",
        "grade_level": 4,
        **extra,
    }
