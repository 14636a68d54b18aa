"""The OneRoster 1.2 query grammar: `filter`, `sort` and `fields`, parsed into a whitelist, never into SQL text.

A filter is one or two clauses `field op 'value'` joined by a single ` AND ` or ` OR `; ops are
=, !=, >, >=, <, <= and ~ (contains, case-insensitive); a quote inside a value is doubled. Each
field maps to a typed column of the collection's source; values are bound as parameters of
that type. The same parsed filter also evaluates over plain dicts (academic sessions are
derived from offerings, so they are filtered after the scoped SQL read).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, or_, true
from sqlalchemy.sql.elements import ColumnElement

from domain.errors import DomainError


class InvalidFilterField(DomainError):
    """The filter names an unknown field, uses an unsupported operator, or cannot be parsed."""

    code = "invalid_filter_field"
    status = 400


class InvalidSelectionField(DomainError):
    """`fields` or `sort` names a field the collection does not have."""

    code = "invalid_selection_field"
    status = 400


class Kind(enum.StrEnum):
    TEXT = "text"
    UUID = "uuid"
    DATETIME = "datetime"
    DATE = "date"
    # A date shown exclusive (OneRoster endDate) over a column that stores the last day: shifted by one.
    END_DATE = "end_date"


OPS = ("!=", ">=", "<=", "=", ">", "<", "~")
_CLAUSE = re.compile(
    r"\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*"
    r"(?P<op>!=|>=|<=|=|>|<|~)\s*'(?P<value>(?:[^']|'')*)'\s*"
)


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class Filter:
    clauses: tuple[Clause, ...]
    conjunction: str  # "AND" or "OR" (irrelevant for one clause)


def parse_filter(text: str | None) -> Filter | None:
    """Parse a filter expression, or None when there is none.

    Raises:
        InvalidFilterField: the text is not one or two well-formed clauses.
    """
    if text is None or not text.strip():
        return None
    clauses: list[Clause] = []
    conjunction = "AND"
    rest = text
    while True:
        match = _CLAUSE.match(rest)
        if match is None:
            raise InvalidFilterField(
                f"cannot parse filter {text!r}: expected field op 'value' (ops: {', '.join(OPS)}), "
                "at most two clauses joined by AND or OR",
                field="filter",
            )
        clauses.append(Clause(match["field"], match["op"], match["value"].replace("''", "'")))
        rest = rest[match.end() :]
        if not rest.strip():
            break
        joiner = re.match(r"(AND|OR)\s", rest)
        if joiner is None or len(clauses) == 2:
            raise InvalidFilterField(
                f"cannot parse filter {text!r}: at most two clauses, joined by a single ' AND ' or ' OR '",
                field="filter",
            )
        conjunction = joiner[1]
        rest = rest[joiner.end() :]
    return Filter(tuple(clauses), conjunction)


def parse_fields(value: str | list[str] | None, allowed: tuple[str, ...]) -> tuple[str, ...] | None:
    """The projection asked for by `fields` (comma-separated), or None for every field.

    Raises:
        InvalidSelectionField: a name is not a field of the collection.
    """
    if value is None:
        return None
    raw = value if isinstance(value, list) else [value]
    names = tuple(dict.fromkeys(n.strip() for part in raw for n in part.split(",") if n.strip()))
    if not names:
        return None
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InvalidSelectionField(
            f"unknown field(s) {', '.join(unknown)}; this collection has: {', '.join(allowed)}", field="fields"
        )
    return names


def _coerce(kind: Kind, clause: Clause) -> Any:
    """The clause's value as the column's type."""
    try:
        if kind is Kind.DATETIME:
            text = clause.value.strip().replace("Z", "+00:00").replace("z", "+00:00")
            parsed = dt.datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        if kind is Kind.DATE:
            return dt.date.fromisoformat(clause.value.strip()[:10])
        if kind is Kind.END_DATE:
            return dt.date.fromisoformat(clause.value.strip()[:10]) - dt.timedelta(days=1)
        if kind is Kind.UUID:
            return uuid.UUID(clause.value.strip())
    except ValueError:
        raise InvalidFilterField(
            f"filter value {clause.value!r} for {clause.field} is not a valid {kind.value}", field="filter"
        ) from None
    return clause.value


def _check_op(kind: Kind, clause: Clause) -> None:
    if clause.op == "~" and kind is not Kind.TEXT:
        raise InvalidFilterField(
            f"~ (contains) applies to text fields; {clause.field} is a {kind.value}", field="filter"
        )
    if kind is Kind.UUID and clause.op not in ("=", "!="):
        raise InvalidFilterField(f"{clause.field} is an identifier: compare it with = or !=", field="filter")


def _like_pattern(value: str) -> str:
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def to_sql(parsed: Filter | None, columns: Mapping[str, tuple[Any, Kind]]) -> ColumnElement[bool]:
    """The filter as a bound-parameter SQL condition over whitelisted columns.

    Raises:
        InvalidFilterField: a field is not filterable in this collection, or a value has the wrong type.
    """
    if parsed is None:
        return true()
    parts: list[ColumnElement[bool]] = []
    for clause in parsed.clauses:
        if clause.field not in columns:
            raise InvalidFilterField(
                f"unknown filter field {clause.field!r}; filterable: {', '.join(columns)}", field="filter"
            )
        column, kind = columns[clause.field]
        _check_op(kind, clause)
        if kind is Kind.UUID:
            try:
                value: Any = uuid.UUID(clause.value.strip())
            except ValueError:
                # No row has a malformed id: equality matches nothing, inequality everything non-null.
                parts.append(false() if clause.op == "=" else column.is_not(None))
                continue
        else:
            value = _coerce(kind, clause)
        if clause.op == "~":
            parts.append(func.lower(column).like(_like_pattern(value), escape="\\"))
            continue
        compare: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
            "=": lambda c, v: c == v,
            "!=": lambda c, v: or_(c != v, c.is_(None)),
            ">": lambda c, v: c > v,
            ">=": lambda c, v: c >= v,
            "<": lambda c, v: c < v,
            "<=": lambda c, v: c <= v,
        }
        parts.append(compare[clause.op](column, value))
    if len(parts) == 1:
        return parts[0]
    return and_(*parts) if parsed.conjunction == "AND" else or_(*parts)


def matches(parsed: Filter | None, row: Mapping[str, Any], kinds: Mapping[str, Kind]) -> bool:
    """Evaluate the filter over one flat row (field name -> value), with the same typing as `to_sql`.

    Raises:
        InvalidFilterField: a field is not filterable, or a value has the wrong type.
    """
    if parsed is None:
        return True
    results = []
    for clause in parsed.clauses:
        if clause.field not in kinds:
            raise InvalidFilterField(
                f"unknown filter field {clause.field!r}; filterable: {', '.join(kinds)}", field="filter"
            )
        kind = kinds[clause.field]
        _check_op(kind, clause)
        actual = row.get(clause.field)
        if kind is Kind.UUID:
            try:
                wanted: Any = uuid.UUID(clause.value.strip())
            except ValueError:
                results.append(clause.op == "!=")
                continue
        else:
            wanted = _coerce(kind, clause)
        if clause.op == "~":
            results.append(actual is not None and str(wanted).lower() in str(actual).lower())
            continue
        if actual is None:
            results.append(clause.op == "!=")
            continue
        results.append(
            {
                "=": actual == wanted,
                "!=": actual != wanted,
                ">": actual > wanted,
                ">=": actual >= wanted,
                "<": actual < wanted,
                "<=": actual <= wanted,
            }[clause.op]
        )
    return all(results) if parsed.conjunction == "AND" else any(results)
