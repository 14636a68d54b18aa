"""The signed-in person as the chat sees them, and the one way chat runs a tool (through the runner).

Both the agent and the offline planner call tools only through `call_tool`, which goes through
`tools.runner.run_tool` as the caller on the "chat" channel, so every call is authorized and
written to the query log exactly like an MCP or REST call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from chat_ui import events
from chat_ui.events import ChatEvent
from chat_ui.offline.names import Campus
from chat_ui.present import views_for
from policies.principal import Principal
from tools.runner import Deps, ToolCallError, ToolResult, run_tool

CHANNEL = "chat"
M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("sis.chat")


@dataclass(frozen=True)
class Caller:
    """A signed-in principal with what whoami said about them and the tools they may use."""

    principal: Principal
    whoami: dict[str, Any]
    tool_names: frozenset[str]

    @property
    def campuses(self) -> list[Campus]:
        """The campuses whose directory the caller may read (names the planner recognises)."""
        return [Campus(org_id=c["org_id"], name=c["name"], path=c["path"]) for c in self.whoami.get("campuses", [])]

    @property
    def default_campus(self) -> str | None:
        """A campus to use in example questions: the first full-SIS campus, else the first one."""
        campuses: list[dict[str, Any]] = self.whoami.get("campuses", [])
        full = [str(c["name"]) for c in campuses if str(c.get("kind", "")).upper() == "FULL_SIS"]
        names = full or [str(c["name"]) for c in campuses]
        return names[0] if names else None

    @property
    def guide_limited(self) -> bool:
        """True for a guide, whose student data is limited to assigned students."""
        return bool(self.whoami.get("guide_limited"))

    def can_read(self, data_class: str) -> bool:
        """True when whoami lists `data_class` as readable somewhere."""
        return data_class in self.whoami.get("readable", {})


@dataclass
class Memory:
    """What one chat session remembers between questions."""

    # The offline planner's last understood question, for follow-ups like "what about Miami?".
    last_question: object = None
    # The agent's recent turns as plain text (tool traffic is not replayed).
    turns: list[dict[str, str]] = field(default_factory=list)

    def remember_turn(self, question: str, answer: str, *, keep: int = 6) -> None:
        """Keep the last `keep` question/answer pairs for the language model's context."""
        self.turns += [{"role": "user", "content": question}, {"role": "assistant", "content": answer or "(no text)"}]
        del self.turns[: max(0, len(self.turns) - 2 * keep)]


@dataclass(frozen=True)
class CallOutcome:
    """What a tool call produced: a result, or the error the runner raised."""

    call_id: str
    name: str
    result: ToolResult | None = None
    error: ToolCallError | None = None

    @property
    def output(self) -> dict[str, Any]:
        """The result as JSON-ready data (empty for a failed call)."""
        return self.result.data if self.result else {}

    def output_as(self, model: type[M]) -> M:
        """The result as the tool's own output model, so fields are read by name and checked by mypy.

        Raises:
            TypeError: the call failed, or the tool answers with another model (its output changed).
        """
        output = self.result.output if self.result else None
        if not isinstance(output, model):
            raise TypeError(f"{self.name} answered with {type(output).__name__}, not {model.__name__}")
        return output


def call_tool(
    deps: Deps, caller: Caller, name: str, arguments: dict[str, Any], *, call_id: str | None = None
) -> Generator[ChatEvent, None, CallOutcome]:
    """Run one tool as the caller, yielding the call and its result (or error) as events."""
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    yield events.tool_call(call_id, name, arguments)
    try:
        result = run_tool(deps, caller.principal, name, arguments, channel=CHANNEL)
    except ToolCallError as err:
        yield events.tool_error(call_id, name, err)
        return CallOutcome(call_id, name, error=err)
    except Exception:
        # The runner turns every known failure into ToolCallError; anything else must not end the answer.
        log.exception("tool %s raised outside the runner's error handling", name)
        failure = ToolCallError(
            "internal_error", f"the {name} tool failed unexpectedly; the failure was logged", status=500
        )
        yield events.tool_error(call_id, name, failure)
        return CallOutcome(call_id, name, error=failure)
    rows = len(getattr(result.output, "items", []) or []) if hasattr(result.output, "items") else None
    views = views_for(name, result.output)
    yield events.tool_result(call_id, name, result.audit_seq, views, rows, disclosed=result.student_ids)
    return CallOutcome(call_id, name, result=result)
