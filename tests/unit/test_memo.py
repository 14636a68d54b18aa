"""db.memo.LruMemo: the least recently used entry goes first, a value is made once, forget_all empties all."""

from __future__ import annotations

import threading

from db.memo import LruMemo, forget_all


def test_the_least_recently_used_entry_is_forgotten_first() -> None:
    memo: LruMemo[str, int] = LruMemo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # "b" is now the least recently used
    memo.put("c", 3)
    assert (memo.get("a"), memo.get("b"), memo.get("c")) == (1, None, 3)
    memo.put("a", 10)  # replacing a value refreshes it too
    memo.put("d", 4)
    assert (memo.get("a"), memo.get("c"), memo.get("d")) == (10, None, 4)


def test_a_value_is_made_once_and_forgotten_on_clear() -> None:
    memo: LruMemo[str, list[int]] = LruMemo(4)
    made: list[str] = []

    def make() -> list[int]:
        made.append("x")
        return [1]

    first = memo.get_or_make("x", make)
    assert memo.get_or_make("x", make) is first
    memo.clear()
    assert memo.get_or_make("x", make) is not first
    assert made == ["x", "x"]


def test_concurrent_use_keeps_the_size_bound() -> None:
    memo: LruMemo[int, int] = LruMemo(50)

    def fill(offset: int) -> None:
        for i in range(2_000):
            memo.get_or_make(offset + i % 120, lambda: offset)

    threads = [threading.Thread(target=fill, args=(n * 1_000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(memo.get(n * 1_000 + i) is not None for n in range(4) for i in range(120)) <= 50


def test_forget_all_empties_every_memo_of_the_process() -> None:
    first: LruMemo[str, int] = LruMemo(4)
    second: LruMemo[int, str] = LruMemo(4)
    first.put("a", 1)
    second.put(1, "a")
    forget_all()
    assert (first.get("a"), second.get(1)) == (None, None)
