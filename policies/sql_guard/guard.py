"""The query guard: turns agent-written SQL into one scoped, read-only statement, or refuses it.

Callers write PostgreSQL-flavoured SQL against the reporting views (policies/reporting.py). For
each statement `guard_sql`, in order:

1. bounds the text (characters, tokens, nesting) before and the syntax tree after parsing;
2. accepts exactly one statement whose root is a SELECT or a set operation of SELECTs;
3. checks every node against allow-lists (node kinds, functions wherever a function can be named,
   FROM included), resolves every relation to a reporting view or a CTE/derived table of the
   query and every column to a view column, and refuses catalogs, schema-qualified and raw table
   names, table functions, whole-row references, field access, locking, INTO, recursion and
   non-literal limits;
4. refuses columns of a data class the caller cannot read in every clause, and expands `*` to the
   readable columns only;
5. replaces every view reference (CTE bodies, subqueries, joins, set operations and LATERAL
   included) by a subquery over the real tables that projects only the columns used and filters
   rows with the caller's Scope as bind parameters;
6. caps the rows (limit + 1, so truncation is exact), generates the engine's dialect, parses
   the generated text again and re-checks it; only that text is executed
   (domain/reporting/service.py runs it read-only with a time limit).

Steps 1-3 are parse.py over allowlists.py, 3-4 resolve.py, 5 rewrite.py (and sqlite.py for that
engine's date arithmetic), 6 this module and recheck.py; refusals.py holds the limits and rules.

The guard is a filter, not the boundary: the execution layer adds a read-only transaction and a
statement timeout (PostgreSQL) or query_only, an authorizer and a progress handler (SQLite).
A refusal names the rule broken so an agent can fix its query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from policies.scope import Scope
from policies.sql_guard.allowlists import NODES, PG
from policies.sql_guard.parse import check_nodes, parse_statement
from policies.sql_guard.recheck import recheck
from policies.sql_guard.refusals import DEFAULT_LIMIT, MAX_LIMIT, EngineDialect, Rule, SqlRefused, refuse
from policies.sql_guard.resolve import Checker
from policies.sql_guard.rewrite import Params, scoped_subquery
from policies.sql_guard.sqlite import to_sqlite


@dataclass(frozen=True)
class OutputColumn:
    """One column of the result: its name, its type when known, and whether it holds student ids."""

    name: str
    type: str | None
    identifies_student: bool


@dataclass(frozen=True)
class GuardedStatement:
    """A statement the guard accepted: the text to execute, its bind parameters and what it reads."""

    original: str
    sql: str
    dialect: EngineDialect
    # PostgreSQL: positional values for $1..$n; SQLite: values for :p1..:pn, in the same order.
    params: tuple[Any, ...]
    limit: int
    views: tuple[str, ...]
    columns: tuple[str, ...]  # "view.column" read anywhere in the statement
    outputs: tuple[OutputColumn, ...]
    tables: frozenset[str]  # real tables the execution may read (the SQLite authorizer's list)

    def named_params(self) -> dict[str, Any]:
        """The parameters keyed by their SQLite names (:p1, :p2, ...)."""
        return {f"p{i}": value for i, value in enumerate(self.params, start=1)}


def _apply_limit(root: exp.Expr, params: Params, limit: int) -> None:
    """Cap the outermost query at limit + 1 rows (the extra row tells truncation apart)."""
    assert isinstance(root, exp.Select | exp.SetOperation)
    current: exp.Expr | None = root.args.get("limit")
    user: int | None = None
    if isinstance(current, exp.Fetch):
        count = current.args.get("count")
        user = int(count.name) if isinstance(count, exp.Literal) else None
    elif isinstance(current, exp.Limit) and isinstance(current.expression, exp.Literal):
        user = int(current.expression.name)
    probe = limit + 1 if user is None else min(user, limit + 1)
    root.set("limit", exp.Limit(expression=params.node(f"limit:{probe}", probe)))


def _normalise_limits(root: exp.Expr) -> None:
    """LIMIT ALL means no limit; FETCH FIRST n inside subqueries becomes LIMIT n."""
    for limit in list(root.find_all(exp.Limit)):
        if isinstance(limit.expression, exp.Var):
            limit.pop()
    for node in list(root.find_all(exp.Fetch)):
        count = node.args.get("count")
        options = node.args.get("limit_options")
        if not isinstance(count, exp.Literal) or count.is_string or not count.name.isdigit():
            raise refuse(Rule.LIMIT, "FETCH FIRST takes a non-negative whole number")
        if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
            raise refuse(Rule.LIMIT, "FETCH FIRST ... PERCENT / WITH TIES is not supported; use LIMIT")
        node.replace(exp.Limit(expression=exp.Literal.number(int(count.name))))


def guard_sql(sql: str, scope: Scope, *, dialect: EngineDialect, limit: int = DEFAULT_LIMIT) -> GuardedStatement:
    """Check, scope and transpile one caller-written statement.

    Raises:
        SqlRefused: the statement broke a rule (`rule` names it); SqlForbidden when it reads data
            the caller's roles do not allow.
    """
    try:
        return _guard(sql, scope, dialect=dialect, limit=limit)
    except SqlRefused as err:
        err.sql_original = sql
        raise


def _guard(sql: str, scope: Scope, *, dialect: EngineDialect, limit: int) -> GuardedStatement:
    if not 1 <= limit <= MAX_LIMIT:
        raise refuse(Rule.LIMIT, f"limit must be between 1 and {MAX_LIMIT}")
    root = normalize_identifiers(parse_statement(sql), dialect=PG)
    check_nodes(root, nodes=NODES)
    _normalise_limits(root)
    checker = Checker(root, scope)
    checker.check_relations()
    checker.expand_stars()
    checker.check_columns()
    checker.check_cartesian()
    outputs = _outputs(checker, root)
    _name_outputs(root)
    refs = list(checker.refs.values())
    views = tuple(sorted({r.view.name for r in refs}))
    columns = tuple(sorted({f"{r.view.name}.{c}" for r in refs for c in r.used}))
    if dialect == "sqlite":
        root = to_sqlite(checker, root)
    params = Params(dialect)
    tables: set[str] = set()
    for ref in refs:
        ref.table.replace(scoped_subquery(params, scope, ref, dialect))
        tables |= ref.view.base_tables
    if scope.guide_user_id is not None:
        tables |= {"guide_assignment", "household_student"}
    _apply_limit(root, params, limit)
    placeholders = sum(1 for _ in root.find_all(exp.Parameter, exp.Placeholder))
    try:
        text = root.sql(dialect=dialect, comments=False, identify=True, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as err:
        raise refuse(Rule.TRANSPILE, f"the statement uses syntax this engine cannot run: {err}") from None
    allowed_tables = frozenset(tables)
    recheck(text, dialect, allowed_tables, placeholders)
    return GuardedStatement(
        original=sql,
        sql=text,
        dialect=dialect,
        params=tuple(params.values),
        limit=limit,
        views=views,
        columns=columns,
        outputs=outputs,
        tables=allowed_tables,
    )


# PostgreSQL's default output names for unaliased expressions, by sqlglot key.
_PG_NAMES = {
    "timestamptrunc": "date_trunc",
    "datetrunc": "date_trunc",
    "timetostr": "to_char",
    "groupconcat": "string_agg",
    "strposition": "position",
    "trim": "btrim",
    "rownumber": "row_number",
    "denserank": "dense_rank",
    "firstvalue": "first_value",
    "lastvalue": "last_value",
    "percentrank": "percent_rank",
    "cumedist": "cume_dist",
    "currentdate": "current_date",
    "if": "case",
}


def _pg_name(node: exp.Expr) -> str:
    """The name PostgreSQL gives an unaliased select-list item (so both engines name columns alike)."""
    while isinstance(node, exp.Paren | exp.Cast | exp.Window | exp.Filter):
        node = node.this
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Func):
        return _PG_NAMES.get(node.key, node.key)
    return "?column?"


def _first_branch(root: exp.Expr) -> exp.Select:
    node = root
    while isinstance(node, exp.SetOperation | exp.Subquery):
        node = node.this
    assert isinstance(node, exp.Select)
    return node


def _name_outputs(root: exp.Expr) -> None:
    """Alias every unnamed output of the result so both engines report PostgreSQL's column names."""
    select = _first_branch(root)
    for item in list(select.expressions):
        if not isinstance(item, exp.Alias | exp.Column):
            # Wrap the node itself (not a copy): the checker's resolutions are keyed by node.
            named = exp.Alias(alias=exp.to_identifier(_pg_name(item), quoted=True))
            item.replace(named)
            named.set("this", item)


def _outputs(checker: Checker, root: exp.Expr) -> tuple[OutputColumn, ...]:
    branches: list[exp.Select] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.SetOperation):
            stack += [node.expression, node.this]
        elif isinstance(node, exp.Subquery):
            stack.append(node.this)
        elif isinstance(node, exp.Select):
            branches.append(node)
    first = branches[0]
    outputs = []
    for i, item in enumerate(first.expressions):
        items = [b.expressions[i] for b in branches if i < len(b.expressions)]
        types = {checker.type_of(x) for x in items}
        outputs.append(
            OutputColumn(
                name=item.alias_or_name if isinstance(item, exp.Alias | exp.Column) else _pg_name(item),
                type=types.pop() if len(types) == 1 else None,
                identifies_student=any(checker.identifies_student(x) for x in items),
            )
        )
    return tuple(outputs)
