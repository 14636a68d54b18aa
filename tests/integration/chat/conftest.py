"""Chat fixtures: a Caller per demo persona on the demo database (both engines), and helpers to read events."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from sqlalchemy import select, text

from chat_ui.caller import CHANNEL, Caller
from chat_ui.events import ChatEvent
from db.models import Organization
from tools.runner import run_tool, visible_tools


@pytest.fixture()
def caller(demo_deps, persona) -> Callable[[str], Caller]:
    """caller("nurse_austin") -> that persona as the chat sees them (whoami and visible tools)."""

    def build(name: str) -> Caller:
        principal = persona(name)
        whoami = run_tool(demo_deps, principal, "whoami", {}, channel=CHANNEL).output.model_dump(mode="json")
        return Caller(principal, whoami, frozenset(s.name for s in visible_tools(demo_deps, principal)))

    return build


@pytest.fixture()
def org_id(demo_deps) -> Callable[[str], str]:
    """org_id("austin") -> the org's id as a string."""

    def lookup(slug: str) -> str:
        with demo_deps.session_factory() as s:
            return str(s.execute(select(Organization.id).where(Organization.slug == slug)).scalar_one())

    return lookup


@pytest.fixture()
def query_log(demo_deps) -> Callable[[int], dict[str, object]]:
    """query_log(seq) -> the query-log row with that sequence number."""

    def read(seq: int) -> dict[str, object]:
        with demo_deps.session_factory() as s:
            row = s.execute(
                text(
                    "SELECT capability, principal_email, outcome, error_code, arguments FROM query_log WHERE seq = :s"
                ),
                {"s": seq},
            ).one()
        return dict(row._mapping)

    return read


def kinds(events: Iterable[ChatEvent]) -> list[str]:
    """The kinds of a list of events, in order."""
    return [e.kind for e in events]


def of_kind(events: Iterable[ChatEvent], kind: str) -> list[dict[str, object]]:
    """The data of every event of one kind."""
    return [e.data for e in events if e.kind == kind]


def calls(events: Iterable[ChatEvent]) -> list[tuple[str, dict[str, object]]]:
    """(tool name, arguments) of every tool call, in order."""
    return [(str(e.data["name"]), dict(e.data["arguments"])) for e in events if e.kind == "tool_call"]  # type: ignore[call-overload]


def prose(events: Iterable[ChatEvent]) -> str:
    """The answer's text, joined."""
    return "".join(str(e.data["delta"]) for e in events if e.kind == "text")
