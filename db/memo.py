"""A small thread-safe least-recently-used memo for values derived from database rows.

The callers key what they keep by everything the value depends on (a tree or policy version,
or the whole input of a pure function), so an entry is never stale, only evicted.

Every memo the process keeps is an `LruMemo`, and every `LruMemo` is in one registry:
`forget_all()` empties them all at once (benchmarks timing a cold path, tests that rebuild a
database under the same URL). There is no other reset.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Every live memo of the process (weakly: a memo that goes away leaves the registry by itself).
_registry: weakref.WeakSet[LruMemo[Any, Any]] = weakref.WeakSet()


class LruMemo(Generic[K, V]):
    """At most `size` values; the least recently used is forgotten first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        _registry.add(self)

    def get(self, key: K) -> V | None:
        """The value kept for `key`, or None."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        """Keep `value` for `key`, forgetting the least recently used beyond the size."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for `key`, made (outside the lock) and kept when missing."""
        found = self.get(key)
        if found is None:
            found = make()
            self.put(key, found)
        return found

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


def forget_all() -> None:
    """Empty every memo of the process: the one way to start cold."""
    for memo in list(_registry):
        memo.clear()
