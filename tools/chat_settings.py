"""How the chat page reaches its language model, and the bounds it keeps: one of the composition root's settings.

It lives beside the runner because `Deps` carries it to the chat face; it holds plain values only
(the SDK client is built in chat_ui/agent.py), and it is read from the environment by
mcp_server/settings.py, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MODEL = "claude-sonnet-5-5"


@dataclass(frozen=True)
class ChatSettings:
    """The chat's model, its address and its bounds; without an API key the offline planner answers."""

    api_key: str | None = field(default=None, repr=False)
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    max_steps: int = 8
    max_tokens: int = 1024
    # The whole answer's output budget across every step of the loop.
    max_total_tokens: int = 8000
    timeout_seconds: float = 60.0
    max_retries: int = 2
    # Write tools (enroll, withdraw, ...) are left out of the chat unless switched on: an instruction
    # hidden in stored text must never be able to change records through the page.
    allow_writes: bool = False

    @property
    def online(self) -> bool:
        """True when a language model is configured (otherwise the offline planner answers)."""
        return bool(self.api_key)
