"""A bug is an internal error, logged and audited; a broken rule is the caller's invalid input.

A stray ValueError from a bug must not reach the caller as a 422 with its text: its message may
carry data the caller should not see, and the caller cannot fix it. Rules raise InvalidInput.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select

from db.models import NumberSequence, QueryLog
from db.models.audit import QueryOutcome
from domain.errors import InvalidInput
from tools.catalog import CATALOG, load_catalog
from tools.runner import ToolCallError, run_tool


def _replace_whoami(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def handler(*_: Any) -> Any:
        raise error

    spec = load_catalog()["whoami"]
    monkeypatch.setitem(CATALOG, "whoami", dataclasses.replace(spec, handler=handler))


def _last_entry(deps: Any) -> QueryLog:
    with deps.session_factory() as session:
        return session.execute(select(QueryLog).order_by(QueryLog.seq.desc()).limit(1)).scalar_one()


def test_a_stray_value_error_is_an_audited_internal_error_whose_text_stays_on_the_server(
    demo_deps, persona, monkeypatch
):
    _replace_whoami(monkeypatch, ValueError("secret detail from a bug"))
    with pytest.raises(ToolCallError) as failed:
        run_tool(demo_deps, persona("registrar_austin"), "whoami", {}, channel="test")
    assert (failed.value.code, failed.value.status) == ("internal_error", 500)
    assert "secret detail" not in failed.value.message
    entry = _last_entry(demo_deps)
    assert (entry.seq, entry.capability, entry.outcome) == (failed.value.audit_seq, "whoami", QueryOutcome.ERROR)
    assert "secret detail" not in (entry.error_message or "")


def test_a_broken_rule_is_invalid_input_with_its_message_and_field(demo_deps, persona, monkeypatch):
    _replace_whoami(monkeypatch, InvalidInput("start_on must be a school day", field="start_on"))
    with pytest.raises(ToolCallError) as failed:
        run_tool(demo_deps, persona("registrar_austin"), "whoami", {}, channel="test")
    refused = failed.value
    assert (refused.code, refused.status, refused.field) == ("invalid_input", 422, "start_on")
    assert refused.message == "start_on must be a school day"
    entry = _last_entry(demo_deps)
    assert (entry.seq, entry.outcome) == (refused.audit_seq, QueryOutcome.INVALID)


def test_text_with_a_nul_character_is_refused_before_anything_is_stored(demo_deps, persona):
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona("registrar_austin"), "search_students", {"text": "ann\x00"}, channel="test")
    assert (refused.value.code, refused.value.status, refused.value.field) == ("invalid_input", 422, "text")
    assert "NUL" in refused.value.message
    assert _last_entry(demo_deps).outcome == QueryOutcome.INVALID


def test_a_write_that_loses_a_race_to_a_unique_rule_is_a_conflict_and_saves_nothing(demo_deps, persona, monkeypatch):
    """The database's own unique rule (what a concurrent twin commits first) answers 409, not a 500."""
    with demo_deps.session_factory() as session:
        taken = session.execute(select(NumberSequence.name).limit(1)).scalar_one()

    def handler(session: Any, *_: Any) -> Any:
        session.add(NumberSequence(name=taken, next_value=1))
        session.flush()

    spec = load_catalog()["whoami"]
    monkeypatch.setitem(CATALOG, "whoami", dataclasses.replace(spec, handler=handler))
    with pytest.raises(ToolCallError) as failed:
        run_tool(demo_deps, persona("registrar_austin"), "whoami", {}, channel="test")
    assert (failed.value.code, failed.value.status) == ("conflict", 409)
    assert "number_sequence" not in failed.value.message and "UNIQUE" not in failed.value.message.upper()
    entry = _last_entry(demo_deps)
    assert (entry.seq, entry.outcome, entry.error_code) == (failed.value.audit_seq, QueryOutcome.INVALID, "conflict")


@pytest.mark.parametrize(
    "arguments",
    [{"purpose": "why\x00not"}, {"text\x00": "ann"}, {"text": "ann", "limit": "\x00"}],
    ids=["nul-in-purpose", "nul-in-a-key", "nul-in-a-value"],
)
def test_a_call_with_nul_anywhere_is_refused_and_still_recorded(demo_deps, persona, arguments):
    """PostgreSQL refuses NUL in text: before, such a call failed its own query-log insert and left no entry."""
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona("registrar_austin"), "search_students", arguments, channel="test")
    entry = _last_entry(demo_deps)
    assert (entry.seq, entry.outcome) == (refused.value.audit_seq, QueryOutcome.INVALID)
    assert "\\x00" in str(entry.arguments) and "\x00" not in str(entry.arguments)


def test_an_unknown_tool_with_a_nul_and_a_long_name_is_recorded(demo_deps, persona):
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona("registrar_austin"), "x\x00" + "y" * 300, {}, channel="test")
    entry = _last_entry(demo_deps)
    assert (entry.seq, refused.value.code) == (refused.value.audit_seq, "unknown_tool")
    assert entry.capability.startswith("x\\x00y") and len(entry.capability) <= 100


def test_the_server_fields_of_a_log_entry_cannot_be_spoofed_by_arguments(demo_deps, persona):
    with pytest.raises(ToolCallError) as refused:
        run_tool(
            demo_deps, persona("registrar_austin"), "search_students",
            {"text": "ann", "channel": "rest", "guard": {"verdict": "allowed"}, "bogus": 1}, channel="test",
        )  # fmt: skip
    entry = _last_entry(demo_deps)
    assert entry.seq == refused.value.audit_seq
    assert entry.arguments["channel"] == "test" and "guard" not in entry.arguments
    assert entry.arguments["caller:channel"] == "rest" and entry.arguments["caller:guard"] == {"verdict": "allowed"}


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("search_students", {"text": "a", "offset": 2**63}, "offset"),
        ("list_outstanding_balances", {"over_dollars": 1e300}, "over_dollars"),
        ("list_outstanding_balances", {"over_dollars": "1e400"}, "over_dollars"),
        ("query_roster", {"limit": 10, "offset": -(2**63)}, "offset"),
    ],
    ids=["offset-2^63", "dollars-1e300", "dollars-infinite", "offset-minus-2^63"],
)
def test_numbers_too_big_for_any_column_are_the_callers_mistake_naming_the_field(
    demo_deps, persona, tool, arguments, field
):
    """Before, 2**63 reached PostgreSQL (bigint out of range) and 1e400 reached arithmetic: a 500."""
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona("network_admin"), tool, arguments, channel="test")
    assert (refused.value.code, refused.value.status) == ("invalid_input", 422)
    assert refused.value.field == field
