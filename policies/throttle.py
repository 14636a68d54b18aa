"""Failed authentications counted per key (a source address, a presented key prefix) in one process.

A key that reaches its budget of failures inside the window must wait before trying again; each
time it comes back and fails its budget again the wait doubles, up to a ceiling. State lives in
this process only (a bounded dict, pruned as it fills): several server processes share nothing,
so each grants an attacker its own budget. The clock is an argument so tests need not wait.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    blocked_until: float = 0.0
    strikes: int = 0
    last: float = 0.0


class FailureThrottle:
    """`budget` failures per `window` seconds per key; then a wait of window x 2^(strikes-1), at most `max_wait`.

    A budget of 0 never throttles.
    """

    def __init__(
        self,
        budget: int,
        *,
        window: float = 60.0,
        max_wait: float = 900.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget, self.window, self.max_wait = budget, window, max_wait
        self._size, self._clock = size, clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def wait(self, key: str | None) -> int:
        """Whole seconds `key` must still wait (0: it may try now)."""
        if key is None or self.budget <= 0:
            return 0
        with self._lock:
            record = self._records.get(key)
            return 0 if record is None else self._remaining(record, self._clock())

    def fail(self, key: str | None) -> int:
        """Count one failure for `key`; the seconds it must now wait (0 while within its budget)."""
        if key is None or self.budget <= 0:
            return 0
        now = self._clock()
        with self._lock:
            record = self._records.get(key)
            if record is None:
                self._make_room(now)
                record = self._records[key] = _Record()
            if now - record.last > self.max_wait + self.window:
                record.strikes = 0  # a long quiet spell forgives earlier blocks
            record.last = now
            waiting = self._remaining(record, now)
            if waiting:
                return waiting
            record.failures = [t for t in record.failures if t > now - self.window] + [now]
            if len(record.failures) < self.budget:
                return 0
            record.strikes += 1
            record.failures.clear()
            record.blocked_until = now + min(self.max_wait, self.window * 2 ** (record.strikes - 1))
            return self._remaining(record, now)

    @staticmethod
    def _remaining(record: _Record, now: float) -> int:
        return max(0, math.ceil(record.blocked_until - now))

    def _make_room(self, now: float) -> None:
        if len(self._records) < self._size:
            return
        stale = now - self.window
        for key in [k for k, r in self._records.items() if r.blocked_until <= now and r.last <= stale]:
            del self._records[key]
        while len(self._records) >= self._size:  # a flood of fresh keys: forget the oldest
            self._records.pop(next(iter(self._records)))


class RecordBudget:
    """At most `per_window` entries per key (and `overall` in all) per window; the rest are counted.

    `admit(key)` answers (record this one?, failures dropped for `key` in its previous window),
    so the caller can write one summarizing entry when a new window starts.
    """

    def __init__(
        self,
        per_window: int,
        *,
        overall: int = 100,
        window: float = 60.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_window, self.overall, self.window = per_window, overall, window
        self._size, self._clock = size, clock
        self._windows: dict[str, list[float | int]] = {}  # key -> [start, recorded, dropped]
        self._lock = threading.Lock()

    def admit(self, key: str) -> tuple[bool, int]:
        now = self._clock()
        with self._lock:
            dropped_before = self._roll(key, now)
            everyone = self._windows.setdefault("*", [now, 0, 0])
            mine = self._windows[key]
            if mine[1] < self.per_window and everyone[1] < self.overall:
                mine[1] += 1
                everyone[1] += 1
                return True, dropped_before
            mine[2] += 1
            return False, dropped_before

    def dropped_in_window(self, key: str) -> int:
        """How many of `key`'s entries this window has dropped so far."""
        with self._lock:
            current = self._windows.get(key)
            return int(current[2]) if current is not None else 0

    def _roll(self, key: str, now: float) -> int:
        self._roll_one("*", now)
        return self._roll_one(key, now)

    def _roll_one(self, key: str, now: float) -> int:
        current = self._windows.get(key)
        if current is not None and now - current[0] < self.window:
            return 0
        if current is None and len(self._windows) >= self._size:
            for old in [k for k, w in self._windows.items() if now - w[0] >= self.window and k != "*"]:
                del self._windows[old]
            while len(self._windows) >= self._size:
                self._windows.pop(next(k for k in self._windows if k != "*"))
        self._windows[key] = [now, 0, 0]
        return int(current[2]) if current is not None else 0
