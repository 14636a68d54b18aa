"""What an answer is made of, as it streams to the page: text, tool calls, results, refusals, clarifications.

The agent and the offline planner both produce these events, so the page renders one protocol
whichever of them answered. Each event is sent as one Server-Sent Event (`event: <kind>`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tools.runner import ToolCallError


@dataclass(frozen=True)
class ChatEvent:
    """One step of an answer; `kind` names how the page shows `data`."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    # Server side only, never sent: the students a tool result disclosed (its download is a disclosure too).
    disclosed: tuple[str, ...] = field(default=(), repr=False)

    def sse(self) -> str:
        """The event in Server-Sent Events wire form."""
        return f"event: {self.kind}\ndata: {json.dumps(self.data, ensure_ascii=False, default=str)}\n\n"


def mode(name: str, label: str) -> ChatEvent:
    """Which assistant answers: 'anthropic' (a language model) or 'offline' (the deterministic planner)."""
    return ChatEvent("mode", {"mode": name, "label": label})


def text(delta: str) -> ChatEvent:
    """A piece of the answer's prose, appended to what came before."""
    return ChatEvent("text", {"delta": delta})


def understood(items: list[str]) -> ChatEvent:
    """What the offline planner read in the question, so a person can see what was answered."""
    return ChatEvent("understood", {"items": items})


def tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> ChatEvent:
    """A tool the assistant is calling, with its arguments, before the result arrives."""
    return ChatEvent("tool_call", {"call_id": call_id, "name": name, "arguments": arguments})


def tool_result(
    call_id: str,
    name: str,
    audit_seq: int,
    views: list[dict[str, Any]],
    rows: int | None = None,
    *,
    disclosed: tuple[str, ...] = (),
) -> ChatEvent:
    """A tool's answer as tables, charts or records, with the query-log entry that recorded it."""
    return ChatEvent(
        "tool_result",
        {"call_id": call_id, "name": name, "audit_seq": audit_seq, "views": views, "rows": rows},
        disclosed=disclosed,
    )


def tool_error(call_id: str, name: str, err: ToolCallError) -> ChatEvent:
    """A tool call that produced no result; `refused` marks a permission refusal."""
    return ChatEvent(
        "tool_error",
        {
            "call_id": call_id,
            "name": name,
            "code": err.code,
            "message": err.message,
            "field": err.field,
            "audit_seq": err.audit_seq,
            "refused": err.code == "permission_denied",
        },
    )


def refusal(message: str, audit_seq: int | None = None) -> ChatEvent:
    """A clear, specific refusal ('health records are not visible to your role')."""
    return ChatEvent("refusal", {"message": message, "audit_seq": audit_seq})


def clarify(message: str, understood_items: list[str], suggestions: list[str]) -> ChatEvent:
    """The question was not understood well enough to answer: what was understood, and questions to try."""
    return ChatEvent("clarify", {"message": message, "understood": understood_items, "suggestions": suggestions})


def proposal(call_id: str, form: dict[str, Any]) -> ChatEvent:
    """A write the assistant proposed, shown as a form the person confirms or cancels (chat_ui/proposals.py)."""
    return ChatEvent("proposal", {"call_id": call_id, **form})


def notice(message: str, level: str = "info") -> ChatEvent:
    """Something the person should know about how the answer was produced (e.g. the model was unreachable)."""
    return ChatEvent("notice", {"message": message, "level": level})


def error(message: str) -> ChatEvent:
    """The answer could not be completed."""
    return ChatEvent("error", {"message": message})


def done() -> ChatEvent:
    """The answer is complete."""
    return ChatEvent("done", {})
