"""How many costly statements (run_sql) may run at once: per key and overall, with a short queue.

A run_sql statement may legitimately run for its whole time limit and holds two database
connections meanwhile (the call's session and the statement's own, see domain/reporting/service.py).
Without a cap, one key sending sixteen of them at once fills the pool and every other caller waits
behind them. The runner holds a slot for the length of a capped tool's call; a caller beyond a
cap waits up to `wait_s` for one to free, then is refused with `too_many_queries` (429), which the
runner logs like every refusal. Other tools never touch the slots, so typed tools keep the rest of
the pool. The slots are one process's: each server process (and each `sis mcp`) has its own.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator

from sqlalchemy.pool import Pool, QueuePool

from domain.errors import DomainError
from policies.principal import Principal

CAPPED_TOOLS = frozenset({"run_sql"})
DEFAULT_PER_KEY = 2
DEFAULT_TOTAL = 4
DEFAULT_WAIT_S = 2.0
# What a refused caller is told to wait (REST: the Retry-After header).
RETRY_SECONDS = 5
# Connections one capped call holds at its peak, and how many the pool keeps for everything else.
CONNECTIONS_PER_CALL = 2
POOL_RESERVE = 3


class TooManyQueries(DomainError):
    """More capped statements at once than this key, or the server, may run."""

    code = "too_many_queries"
    status = 429

    def __init__(self, message: str) -> None:
        super().__init__(message)


def holder_of(principal: Principal) -> str:
    """Whose share a call counts against: its API key, else its user (a chat session, stdio)."""
    if principal.api_key_id is not None:
        return f"key:{principal.api_key_id}"
    return f"user:{principal.user_id}"


def fit_to_pool(total: int, pool: Pool) -> int:
    """`total`, lowered so the capped calls leave POOL_RESERVE connections of a bounded pool free."""
    if not isinstance(pool, QueuePool):
        return total  # unbounded (NullPool, StaticPool): nothing to protect
    capacity = pool.size() + max(0, getattr(pool, "_max_overflow", 0))
    return max(1, min(total, (capacity - POOL_RESERVE) // CONNECTIONS_PER_CALL))


class QuerySlots:
    """Counting slots for CAPPED_TOOLS: at most `per_key` per holder and `total` in all."""

    def __init__(
        self, *, per_key: int = DEFAULT_PER_KEY, total: int = DEFAULT_TOTAL, wait_s: float = DEFAULT_WAIT_S
    ) -> None:
        self.per_key, self.total, self.wait_s = max(1, per_key), max(1, total), max(0.0, wait_s)
        self._held: Counter[str] = Counter()
        self._changed = threading.Condition()

    def in_use(self, holder: str | None = None) -> int:
        """Slots held now, by `holder` or by everyone."""
        with self._changed:
            return self._held[holder] if holder else sum(self._held.values())

    @contextlib.contextmanager
    def hold(self, tool: str, principal: Principal) -> Iterator[None]:
        """Hold a slot while a capped tool runs (any other tool passes straight through).

        Raises:
            TooManyQueries: no slot freed within wait_s.
        """
        if tool not in CAPPED_TOOLS:
            yield
            return
        holder = holder_of(principal)
        self._acquire(tool, holder)
        try:
            yield
        finally:
            with self._changed:
                self._held[holder] -= 1
                if self._held[holder] <= 0:
                    del self._held[holder]
                self._changed.notify_all()

    def _acquire(self, tool: str, holder: str) -> None:
        deadline = time.monotonic() + self.wait_s
        with self._changed:
            while self._held[holder] >= self.per_key or sum(self._held.values()) >= self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TooManyQueries(self._refusal(tool, mine=self._held[holder] >= self.per_key))
                self._changed.wait(left)
            self._held[holder] += 1

    def _refusal(self, tool: str, *, mine: bool) -> str:
        if mine:
            who = f"you already have {self.per_key} {tool} statements running (the most one key may run at once)"
        else:
            who = f"the server is running its limit of {self.total} {tool} statements at once"
        return f"{who}; wait for one to finish and try again in {RETRY_SECONDS} seconds, or use a typed tool"
