"""Credentials verified moments ago, remembered so that busy clients are not re-checked on every request.

Each composition root (`mcp_server.wiring.build_deps`) builds its own `RecentlyVerified`, so two
apps in one process never share what they have verified. It keeps digests, never the presented
text, and takes its clock as an argument so that expiry can be tested without waiting.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

V = TypeVar("V")


class RecentlyVerified:
    """Credentials verified in the last `ttl` seconds, so that a client sending many requests is not
    authenticated against the database on every one of them.

    Entries are keyed by a digest of the presented text (never the text itself) and a namespace
    (what was derived from it: an MCP principal, a OneRoster credential). A change to a key or to
    its owner's grants takes effect within `ttl`; a revocation that forgets the key here
    (`revoke_api_key(..., verified=...)`) takes effect at once, and `invalidate()` (called when the
    database says credentials changed anywhere, mcp_server/cache_watch.py) forgets everything.
    Failures are never remembered.
    """

    def __init__(self, ttl: float = 2.0, size: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, str | None, Any]] = {}
        self._lock = threading.Lock()
        # Bumped by invalidate(): a check that began before it may have read what it invalidated.
        self._generation = 0

    @staticmethod
    def _key(namespace: str, presented: str) -> tuple[str, str]:
        return namespace, hashlib.sha256(presented.encode("utf-8")).hexdigest()

    def get(self, namespace: str, presented: str) -> Any | None:
        """What was verified for `presented` less than `ttl` seconds ago, or None."""
        key = self._key(namespace, presented)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            return entry[2]

    def put(
        self, namespace: str, presented: str, value: Any, *, api_key_prefix: str | None, generation: int | None = None
    ) -> None:
        """Remember `value` as verified for `presented` (tagged with its key's prefix for revocation);
        not when `generation` (taken before the check) is older than the last invalidation."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            if len(self._entries) >= self._size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[self._key(namespace, presented)] = (self._clock() + self.ttl, api_key_prefix, value)

    def verify(self, namespace: str, presented: str, check: Callable[[], V], prefix_of: Callable[[V], str | None]) -> V:
        """What `check()` verifies for `presented`, remembered for `ttl`; its exceptions pass through unremembered."""
        remembered: V | None = self.get(namespace, presented)
        if remembered is not None:
            return remembered
        generation = self._generation
        value = check()
        self.put(namespace, presented, value, api_key_prefix=prefix_of(value), generation=generation)
        return value

    def forget_key(self, api_key_prefix: str) -> None:
        """Drop everything verified through the key with this prefix."""
        with self._lock:
            self._generation += 1
            for key in [k for k, entry in self._entries.items() if entry[1] == api_key_prefix]:
                del self._entries[key]

    def invalidate(self) -> None:
        """Forget everything, including what a check under way when this is called would remember."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
