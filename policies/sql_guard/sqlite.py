"""SQLite renderings of PostgreSQL date arithmetic and id literals.

Callers write PostgreSQL; on SQLite the guard rewrites date_trunc, EXTRACT, intervals and date
differences into what SQLite computes the same way, and writes id literals as SQLite stores ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlglot import exp

from policies.sql_guard.refusals import Rule, refuse
from policies.sql_guard.resolve import Checker

_TRUNC_SQLITE = {
    "day": ("DATE", []),
    "week": ("DATE", ["-6 days", "weekday 1"]),
    "month": ("DATE", ["start of month"]),
    "year": ("DATE", ["start of year"]),
}
_EXTRACT_SQLITE = {
    "year": "%Y",
    "month": "%m",
    "day": "%d",
    "dow": "%w",
    "doy": "%j",
    "hour": "%H",
    "minute": "%M",
    "epoch": "%s",
}
_INTERVAL_UNITS = {"day": "days", "days": "days", "month": "months", "months": "months", "year": "years"}
_INTERVAL_UNITS |= {"years": "years", "week": "weeks", "weeks": "weeks", "mon": "months", "mons": "months"}


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _unit(node: exp.Expr | None) -> str:
    if node is None:
        return ""
    return (node.name if isinstance(node, exp.Literal | exp.Var) else node.sql()).lower().strip("'")


def _interval_modifier(interval: exp.Interval, sign: int) -> str:
    amount_text = interval.this.name if isinstance(interval.this, exp.Literal) else ""
    unit = _unit(interval.args.get("unit"))
    if not unit and " " in amount_text:
        amount_text, unit = amount_text.split(None, 1)
    unit = _INTERVAL_UNITS.get(unit.lower().strip(), "")
    try:
        amount = int(amount_text) * sign
    except ValueError:
        amount = 0
        unit = ""
    if not unit:
        raise refuse(Rule.TRANSPILE, "only whole-number day, week, month and year intervals run on this engine")
    if unit == "weeks":
        amount, unit = amount * 7, "days"
    return f"{amount:+d} {unit}"


def to_sqlite(checker: Checker, root: exp.Expr) -> exp.Expr:
    """Rewrite PostgreSQL date arithmetic and id literals into what SQLite computes the same way."""
    nodes = list(root.walk())
    # Types are read from the tree as written, before any node is replaced.
    types = {id(n): checker.type_of(n) for n in nodes if not isinstance(n, exp.Identifier)}

    def type_of(node: exp.Expr) -> str | None:
        return types.get(id(node))

    for node in reversed(nodes):
        new = _sqlite_node(node, type_of)
        if new is not node:
            types[id(new)] = types.get(id(node))
            node.replace(new)
    return root


def _sqlite_node(node: exp.Expr, type_of: Callable[[exp.Expr], str | None]) -> exp.Expr:
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
        unit = _unit(node.args.get("unit"))
        if unit not in _TRUNC_SQLITE:
            raise refuse(
                Rule.TRANSPILE, f"date_trunc('{unit}', ...) does not run on this engine; use day, week, month or year"
            )
        name, modifiers = _TRUNC_SQLITE[unit]
        return _fn(name, node.this, *(exp.Literal.string(m) for m in modifiers))
    if isinstance(node, exp.Extract):
        part = _unit(node.this)
        if part == "quarter":
            month = _strftime_int("%m", node.expression)
            quarter = exp.Div(
                this=exp.Paren(this=exp.Add(this=month, expression=exp.Literal.number(2))),
                expression=exp.Literal.number(3),
            )
            return exp.Paren(this=quarter)
        if part not in _EXTRACT_SQLITE:
            raise refuse(Rule.TRANSPILE, f"EXTRACT({part} FROM ...) does not run on this engine")
        return _strftime_int(_EXTRACT_SQLITE[part], node.expression)
    if isinstance(node, exp.Add | exp.Sub):
        return _date_arithmetic(node, type_of)
    if isinstance(node, exp.Interval) and not isinstance(node.parent, exp.Add | exp.Sub):
        raise refuse(Rule.TRANSPILE, "an INTERVAL can only be added to or subtracted from a date on this engine")
    if isinstance(node, exp.EQ | exp.NEQ | exp.In):
        _uuid_literals(node, type_of)
    if isinstance(node, exp.Lateral):
        raise refuse(Rule.TRANSPILE, "LATERAL joins do not run on this engine; use a correlated subquery")
    return node


def _integer() -> exp.DataType:
    return exp.DataType(this=exp.DataType.Type.INT)


def _strftime_int(fmt: str, value: exp.Expr) -> exp.Expr:
    return exp.Cast(this=_fn("STRFTIME", exp.Literal.string(fmt), value), to=_integer())


def _date_arithmetic(node: exp.Add | exp.Sub, type_of: Callable[[exp.Expr], str | None]) -> exp.Expr:
    left, right = node.this, node.expression
    sign = -1 if isinstance(node, exp.Sub) else 1
    left_type, right_type = type_of(left), type_of(right)
    if isinstance(right, exp.Interval) and left_type == "date":
        return _fn("DATE", left, exp.Literal.string(_interval_modifier(right, sign)))
    if isinstance(left, exp.Interval) and sign == 1 and right_type == "date":
        return _fn("DATE", right, exp.Literal.string(_interval_modifier(left, 1)))
    if isinstance(left, exp.Interval) or isinstance(right, exp.Interval):
        raise refuse(Rule.TRANSPILE, "an INTERVAL can only be added to or subtracted from a date on this engine")
    if left_type == "date" and right_type == "date" and sign == -1:
        days = exp.Sub(this=_fn("JULIANDAY", left), expression=_fn("JULIANDAY", right))
        return exp.Cast(this=days, to=_integer())
    if left_type == "date" and right_type == "integer":
        amount = right if sign == 1 else exp.Neg(this=exp.Paren(this=right))
        return _fn("DATE", left, _fn("PRINTF", exp.Literal.string("%+d days"), amount))
    return node


def _uuid_literals(node: exp.EQ | exp.NEQ | exp.In, type_of: Callable[[exp.Expr], str | None]) -> None:
    """SQLite stores ids as 32 hex digits: an id literal compared with an id column is written so."""
    if isinstance(node, exp.In):
        if type_of(node.this) == "uuid":
            for item in node.expressions:
                _hex_literal(item)
        return
    if type_of(node.this) == "uuid":
        _hex_literal(node.expression)
    elif type_of(node.expression) == "uuid":
        _hex_literal(node.this)


def _hex_literal(node: exp.Expr) -> None:
    if isinstance(node, exp.Literal) and node.is_string:
        try:
            node.set("this", uuid.UUID(node.name).hex)
        except ValueError:
            return
