"""Writes the chat's language model proposed, waiting for the person's click (docs/security/chat-writes.md).

Nothing the model asks to change is run when it asks: the agent validates the arguments and keeps
a `Proposal` here; the page shows it as a form (`form_for`), and only the person's Confirm runs it
(chat_ui/routes.py, through the runner, as the person, once, from the same chat session). A
proposal that is cancelled, expires, or outlives its session is recorded as a refusal.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from policies.principal import Principal
from tools.catalog import ToolSpec

# A proposal not confirmed within this many seconds is dropped (and recorded as refused).
PROPOSAL_SECONDS = 15 * 60
# Why an unconfirmed proposal was refused, as the query log records it (error_code, error_message).
NOT_CONFIRMED = "not confirmed by the user"
CANCELLED = ("cancelled", f"{NOT_CONFIRMED}: cancelled")
EXPIRED = ("proposal_expired", f"{NOT_CONFIRMED}: the proposal expired")
SESSION_ENDED = ("proposal_expired", f"{NOT_CONFIRMED}: the chat session ended")


@dataclass(frozen=True)
class Proposal:
    """One write the model proposed: what would run, for whom, from which chat session, until when."""

    id: str
    tool: str
    arguments: dict[str, Any]  # validated by the tool's input model, as JSON; run as is on Confirm
    session_token: str = field(repr=False)
    principal: Principal = field(repr=False)
    expires_at: float = 0.0


class Proposals:
    """The pending proposals of every chat session of one app, each usable once."""

    def __init__(self, *, lifetime: float = PROPOSAL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._pending: dict[str, Proposal] = {}
        # Proposals taken out for a reason other than the person's answer, waiting to be recorded.
        self._ended: list[tuple[Proposal, tuple[str, str]]] = []
        self._lock = threading.Lock()
        self._lifetime = lifetime
        self._clock = clock

    def add(self, session_token: str, principal: Principal, tool: str, arguments: dict[str, Any]) -> Proposal:
        """Keep a new proposal under a fresh unguessable id."""
        proposal = Proposal(
            secrets.token_urlsafe(18), tool, arguments, session_token, principal, self._clock() + self._lifetime
        )
        with self._lock:
            self._pending[proposal.id] = proposal
        return proposal

    def take(self, session_token: str, proposal_id: str) -> Proposal | None:
        """Remove and return a live proposal of this session; None when unknown, used, expired or another session's."""
        with self._lock:
            proposal = self._pending.get(proposal_id)
            if proposal is None or not secrets.compare_digest(proposal.session_token, session_token):
                return None
            del self._pending[proposal_id]
            if proposal.expires_at <= self._clock():
                self._ended.append((proposal, EXPIRED))
                return None
            return proposal

    def end_session(self, session_token: str) -> None:
        """The session is gone: its proposals can no longer be confirmed."""
        with self._lock:
            for key, proposal in list(self._pending.items()):
                if proposal.session_token == session_token:
                    del self._pending[key]
                    self._ended.append((proposal, SESSION_ENDED))

    def settle(self) -> list[tuple[Proposal, tuple[str, str]]]:
        """Remove expired proposals; return them with the ended ones, each with its (code, reason), to record."""
        now = self._clock()
        with self._lock:
            for key, proposal in list(self._pending.items()):
                if proposal.expires_at <= now:
                    del self._pending[key]
                    self._ended.append((proposal, EXPIRED))
            ended, self._ended = self._ended, []
        return ended

    @property
    def lifetime(self) -> float:
        return self._lifetime

    def __len__(self) -> int:
        return len(self._pending)


def _label(name: str, info: Any) -> str:
    return str(info.title or name.replace("_", " ").capitalize())


def form_for(proposal: Proposal, spec: ToolSpec, data: BaseModel, *, expires_in: float) -> dict[str, Any]:
    """What the page shows for a proposal: the tool, then every input field with its label, description and
    value (given by the model, or the default that will apply). Values are data; the page renders them as text."""
    given = data.model_fields_set
    values = data.model_dump(mode="json")
    fields = [
        {
            "name": name,
            "label": _label(name, info),
            "description": info.description or "",
            "value": values.get(name),
            "given": name in given,
        }
        for name, info in type(data).model_fields.items()
        if name in given or values.get(name) is not None
    ]
    return {
        "proposal_id": proposal.id,
        "tool": spec.name,
        "title": spec.title,
        "fields": fields,
        "expires_in_seconds": int(expires_in),
    }
