"""Chat sign-in sessions: an opaque token in the page, the credential and conversation on the server.

The page never keeps the API key: it is exchanged for a random session token. The server keeps
the credential in memory only and re-authenticates with it on every question, so a revoked key
or a removed role grant takes effect at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from chat_ui.caller import Caller, Memory
from chat_ui.exports import ExportStore
from chat_ui.proposals import Proposals

# Idle sessions end after this many seconds; at most this many live at once (oldest dropped first).
IDLE_SECONDS = 8 * 3600
MAX_SESSIONS = 1000


@dataclass
class ChatSession:
    """One signed-in page: how it signed in, who it is, and what it remembers."""

    token: str
    method: str  # "api_key" or "persona"
    credential: str = field(repr=False)  # the API key, or the persona's email in demo mode
    caller: Caller
    memory: Memory = field(default_factory=Memory)
    last_seen: float = field(default_factory=time.monotonic)
    # One answer at a time per session: the conversation memory is not shared between threads.
    busy: threading.Lock = field(default_factory=threading.Lock)


class SessionStore:
    """In-memory sessions keyed by token, expiring when idle."""

    def __init__(
        self,
        *,
        idle_seconds: float = IDLE_SECONDS,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
        proposals: Proposals | None = None,
        exports: ExportStore | None = None,
    ) -> None:
        # The writes the model proposed in these sessions, waiting for the person's Confirm or Cancel.
        self.proposals = proposals or Proposals(clock=clock)
        # The tables these sessions showed, downloadable as CSV or Excel until the session ends.
        self.exports = exports if exports is not None else ExportStore()
        self._sessions: OrderedDict[str, ChatSession] = OrderedDict()
        self._lock = threading.Lock()
        self._idle = idle_seconds
        self._max = max_sessions
        self._clock = clock

    def create(self, method: str, credential: str, caller: Caller) -> ChatSession:
        """A new session with a fresh unguessable token."""
        session = ChatSession(secrets.token_urlsafe(32), method, credential, caller, last_seen=self._clock())
        with self._lock:
            self._sessions[session.token] = session
            while len(self._sessions) > self._max:
                dropped, _ = self._sessions.popitem(last=False)
                self._ended(dropped)
        return session

    def get(self, token: str | None) -> ChatSession | None:
        """The live session for `token`, refreshed; None when unknown or idle too long."""
        if not token:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_seen > self._idle:
                del self._sessions[token]
                self._ended(token)
                return None
            session.last_seen = now
            self._sessions.move_to_end(token)
            return session

    def drop(self, token: str | None) -> None:
        """End a session (sign out); unknown tokens are ignored."""
        with self._lock:
            self._sessions.pop(token or "", None)
        self._ended(token or "")

    def _ended(self, token: str) -> None:
        """What a session leaves behind goes with it: its pending proposals and its downloadable tables."""
        self.proposals.end_session(token)
        self.exports.end_session(token)

    def __len__(self) -> int:
        return len(self._sessions)
