"""The rewrite: each view reference becomes a subquery over the real tables, filtered by the caller's Scope.

The subquery projects only the columns the statement uses, blanks a column whose data class the
caller reads at fewer places than the rows, and carries the scope as bind parameters (`Params`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from typing import Any

import sqlglot
from sqlglot import exp

from policies.reporting import ReportingView
from policies.scope import Action, DataClass, Scope
from policies.sql_guard.refusals import EngineDialect
from policies.sql_guard.resolve import ViewRef


class Params:
    """Bind parameters in the engine's shape; equal values share one parameter."""

    def __init__(self, dialect: EngineDialect) -> None:
        self.dialect = dialect
        self.values: list[Any] = []
        self._index: dict[str, int] = {}

    def node(self, key: str, value: Any) -> exp.Expr:
        index = self._index.get(key)
        if index is None:
            self.values.append(value)
            index = self._index[key] = len(self.values)
        if self.dialect == "postgres":
            return exp.Parameter(this=exp.Literal.number(index))
        return exp.Placeholder(this=f"p{index}")

    def org_list(self, ids: frozenset[uuid.UUID]) -> exp.Expr:
        key = "orgs:" + ",".join(sorted(str(i) for i in ids))
        if self.dialect == "postgres":
            return self.node(key, sorted(ids))
        return self.node(key, json.dumps(sorted(i.hex for i in ids)))

    def user(self, user_id: uuid.UUID) -> exp.Expr:
        return self.node(f"user:{user_id}", user_id if self.dialect == "postgres" else user_id.hex)

    def day(self, day: dt.date) -> exp.Expr:
        return self.node(f"day:{day}", day if self.dialect == "postgres" else day.isoformat())


def _raw(view: ReportingView, name: str) -> exp.Column:
    col = view.by_name[name]
    return exp.column(col.column, table=col.alias)


def _table(name: str, alias: str) -> exp.Table:
    # Built node by node: sqlglot's string helpers parse their argument, which costs more than the rest.
    return exp.Table(this=exp.to_identifier(name), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _select(items: list[exp.Expr], source: exp.Expr, where: exp.Expr | None = None) -> exp.Select:
    select = exp.Select(expressions=items, from_=exp.From(this=source))
    if where is not None:
        select.set("where", exp.Where(this=where))
    return select


def _in_orgs(params: Params, column: exp.Expr, ids: frozenset[uuid.UUID]) -> exp.Expr:
    if params.dialect == "postgres":
        return exp.EQ(this=column, expression=exp.Any(this=exp.Paren(this=params.org_list(ids))))
    each = exp.Table(this=exp.Anonymous(this="json_each", expressions=[params.org_list(ids)]))
    return exp.In(this=column, query=exp.Subquery(this=_select([exp.column("value")], each)))


def _guide_students(params: Params, guide: uuid.UUID, today: dt.date | None) -> exp.Select:
    """The guide's students; with `today`, only assignments in force that day (Scope.guide_filter)."""
    mine: exp.Expr = exp.EQ(this=exp.column("guide_user_id", table="sis_ga"), expression=params.user(guide))
    if today is not None:
        day = params.day(today)
        started = exp.LTE(this=exp.column("start_on", table="sis_ga"), expression=day)
        ends = exp.column("end_on", table="sis_ga")
        running = exp.Paren(
            this=exp.or_(exp.Is(this=ends, expression=exp.Null()), exp.GTE(this=ends.copy(), expression=day.copy()))
        )
        mine = exp.and_(mine, started, running)
    return _select([exp.column("student_id", table="sis_ga")], _table("guide_assignment", "sis_ga"), mine)


def _guide_predicate(params: Params, view: ReportingView, guide: uuid.UUID, today: dt.date | None) -> exp.Expr:
    if view.student_column is not None:
        students = _guide_students(params, guide, today)
        return exp.In(this=_raw(view, view.student_column), query=exp.Subquery(this=students))
    if view.household_column is not None:
        assigned = exp.In(
            this=exp.column("student_id", table="sis_hs"),
            query=exp.Subquery(this=_guide_students(params, guide, today)),
        )
        members = _select([exp.column("household_id", table="sis_hs")], _table("household_student", "sis_hs"), assigned)
        return exp.In(this=_raw(view, view.household_column), query=exp.Subquery(this=members))
    return exp.true()


def _row_predicate(params: Params, scope: Scope, view: ReportingView, data_class: DataClass) -> exp.Expr:
    """The SQL form of Scope.row_filter for one view and data class, with bind parameters."""
    orgs = scope.orgs(data_class, Action.READ)
    org = _raw(view, view.org_column)
    guide = scope.guide_user_id
    if guide is None:
        return _in_orgs(params, org, orgs) if orgs else exp.false()
    if scope.guide_orgs is None:
        limited, full = orgs, frozenset[uuid.UUID]()
    else:
        limited = scope.guide_orgs.get((data_class, Action.READ), frozenset())
        full = orgs - limited
    parts: list[exp.Expr] = []
    if full:
        parts.append(_in_orgs(params, org, full))
    if limited:
        parts.append(exp.and_(_in_orgs(params, org, limited), _guide_predicate(params, view, guide, scope.today)))
    if not parts:
        return exp.false()
    return parts[0] if len(parts) == 1 else exp.Paren(this=exp.or_(*parts))


def _covers(scope: Scope, wider: DataClass, narrower: DataClass) -> bool:
    """True when every row readable under `narrower` is readable under `wider` too (no masking needed)."""
    if wider == narrower:
        return True
    wide, narrow = scope.orgs(wider), scope.orgs(narrower)
    if not narrow <= wide:
        return False
    if scope.guide_user_id is None or scope.guide_orgs is None:
        return True
    wide_limited = scope.guide_orgs.get((wider, Action.READ), frozenset())
    narrow_limited = scope.guide_orgs.get((narrower, Action.READ), frozenset())
    return not ((wide_limited - narrow_limited) & narrow)


@functools.cache
def _parsed_join(condition: str) -> exp.Expr:
    return sqlglot.condition(condition)


def _join_condition(condition: str) -> exp.Expr:
    return _parsed_join(condition).copy()


def scoped_subquery(params: Params, scope: Scope, ref: ViewRef, dialect: EngineDialect) -> exp.Subquery:
    """The view as a subquery over its real tables: used columns only, rows filtered by the Scope."""
    view = ref.view
    names = [c.name for c in view.columns if c.name in ref.used] or [view.org_column]
    items: list[exp.Expr] = []
    for name in names:
        value: exp.Expr = _raw(view, name)
        column_class = view.column_class(name)
        if not _covers(scope, column_class, view.data_class):
            # The caller reads this column's class at fewer places than the rows: blank it elsewhere.
            value = exp.Case(ifs=[exp.If(this=_row_predicate(params, scope, view, column_class), true=value)])
        items.append(exp.Alias(this=value, alias=exp.to_identifier(name)))
    (first_alias, first_table), *rest = view.tables
    where = _row_predicate(params, scope, view, view.data_class)
    if view.rows_where is not None:
        where = exp.and_(_join_condition(view.rows_where), where)
    select = _select(items, _table(first_table, first_alias), where)
    if rest:
        select.set(
            "joins",
            [
                exp.Join(this=_table(table, alias), on=_join_condition(condition), kind="INNER")
                for (alias, table), condition in zip(rest, view.joins, strict=True)
            ],
        )
    if dialect == "postgres":
        # OFFSET 0 keeps the planner from pushing the caller's predicates below the scope filter,
        # so an error raised by a caller's expression can only come from a row in scope.
        select.set("offset", exp.Offset(expression=exp.Literal.number(0)))
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(ref.alias)))
