"""`column IN (ids)` for large id sets: one array parameter on PostgreSQL, an expanding IN elsewhere.

A network-wide scope holds hundreds of org ids. Rendered as an expanding IN, every statement
carries hundreds of bind parameters that SQLAlchemy and psycopg process on each execution;
PostgreSQL takes the whole set as one `uuid[]` parameter (`= ANY(:ids)`) instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, Uuid, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class IdsIn(ColumnElement[bool]):
    """True when `column` is one of `ids` (compiled per dialect, cacheable)."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy reads this class attribute
        ("column", InternalTraversal.dp_clauseelement),
        ("as_array", InternalTraversal.dp_clauseelement),
        ("as_list", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, ids: Iterable[uuid.UUID] | None, key: str | None = None) -> None:
        values = None if ids is None else sorted(ids)
        self.column = column
        # Only one of the two is rendered (per dialect), so they may share a named key.
        self.as_array: BindParameter[Any] = bindparam(key, value=values, type_=ARRAY(Uuid()))
        self.as_list: BindParameter[Any] = bindparam(key, value=values, type_=column.type, expanding=True)


@compiles(IdsIn)
def _ids_in_default(element: IdsIn, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.as_list, **kw)}"


@compiles(IdsIn, "postgresql")
def _ids_in_postgresql(element: IdsIn, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.as_array, **kw)})"


def ids_in(column: Any, ids: Iterable[uuid.UUID]) -> ColumnElement[bool]:
    """`column IN ids`, efficient for hundreds of ids on every engine."""
    return IdsIn(column, ids)


def in_ids_param(column: Any, key: str) -> ColumnElement[bool]:
    """`column IN :key`, the ids given at execution ({key: [ids]}): for statements built once.

    Every use of the same key in a statement reads the same parameter.
    """
    return IdsIn(column, None, key)


# Well under SQLite's default limit of 32,766 bind parameters per statement.
CHUNK = 5_000


def chunked(ids: Iterable[uuid.UUID], size: int = CHUNK) -> list[list[uuid.UUID]]:
    """`ids` sorted and cut into lists of at most `size`, for id lists that may be very long."""
    ordered = sorted(set(ids))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]
