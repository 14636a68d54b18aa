"""Opaque keyset cursors: "resume after this row" for lists walked page by page.

An offset page makes the database find and throw away every row before it, so a full walk costs
the square of its length, and a row inserted before the reader's position shifts the rest (one
row is seen twice). A cursor names the last row's sort key instead: the next page starts right
after it (an index seek where the order has an index), and rows inserted meanwhile never repeat
one already seen.

A cursor is base64url JSON with a checksum binding it to its list and to the query's filters:
a cursor from another query, an edited or truncated one, or one with a value of the wrong type
is refused as InvalidInput naming the field it came in. It is not signed: a cursor grants
nothing (the page is still read through the caller's scope), so a forged one can only move the
caller's own position. It also carries the walk's totals as counted on its first page and the
number of rows already passed, so later pages neither count again nor lose `offset`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidInput

VERSION = 1
# What a sort key's parts may be; each is written as JSON text or a number.
KINDS: dict[str, type] = {"str": str, "int": int, "date": dt.date, "uuid": uuid.UUID}
CURSOR_DESCRIPTION = (
    "Resume after the last row of the previous page: pass its next_cursor (opaque). Faster than offset for "
    "long walks, and rows added meanwhile never repeat. Do not combine with offset."
)


@dataclass(frozen=True)
class Position:
    """Where a walk stands: the last row's sort key, rows passed so far, and the totals of the first page."""

    key: tuple[Any, ...]
    passed: int
    totals: Mapping[str, int]


def fingerprint(list_name: str, filters: Mapping[str, Any]) -> str:
    """What a cursor is bound to: the list and its filters (JSON-able), never the page size or position."""
    text = json.dumps({"list": list_name, "filters": filters}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _check(payload: str, bound_to: str) -> str:
    return hashlib.sha256(f"{bound_to}|{payload}".encode()).hexdigest()[:16]


def _dump(value: Any) -> Any:
    if isinstance(value, dt.date | uuid.UUID):
        return str(value)
    return value


def encode(bound_to: str, kinds: Sequence[str], position: Position) -> str:
    """The cursor for `position` in the list `bound_to` names (see `fingerprint`)."""
    body = {"v": VERSION, "k": [_dump(v) for v in position.key], "n": position.passed, "t": dict(position.totals)}
    if len(position.key) != len(kinds):
        raise ValueError("the key does not match its kinds")
    payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{payload}.{_check(payload, bound_to)}"


def _load(value: Any, kind: str) -> Any:
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if kind == "uuid" and isinstance(value, str):
        return uuid.UUID(value)
    raise ValueError(kind)


def _not_a_cursor(field: str) -> InvalidInput:
    return InvalidInput(
        f"{field} is not a cursor this list gave out: pass next_cursor from the previous page unchanged", field=field
    )


def decode(text: str, bound_to: str, kinds: Sequence[str], *, field: str) -> Position:
    """The position a cursor names.

    Raises:
        InvalidInput (field `field`): not a cursor this list gave out, or one from another query.
    """
    payload, dot, check = text.strip().partition(".")
    if not dot or not payload or len(text) > 2000:
        raise _not_a_cursor(field)
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _not_a_cursor(field) from None
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise _not_a_cursor(field)
    if check != _check(payload, bound_to):
        raise InvalidInput(
            f"{field} belongs to another query: keep every filter of the walk unchanged, or start again without it",
            field=field,
        )
    key, passed, totals = body.get("k"), body.get("n"), body.get("t")
    if not isinstance(key, list) or len(key) != len(kinds) or not isinstance(passed, int) or passed < 0:
        raise _not_a_cursor(field)
    if not isinstance(totals, dict) or not all(isinstance(v, int) and v >= 0 for v in totals.values()):
        raise _not_a_cursor(field)
    try:
        values = tuple(_load(v, k) for v, k in zip(key, kinds, strict=True))
    except ValueError:
        raise _not_a_cursor(field) from None
    return Position(key=values, passed=passed, totals={str(k): v for k, v in totals.items()})
