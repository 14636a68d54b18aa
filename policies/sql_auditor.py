"""The query guard: turns agent-written SQL into one scoped, read-only statement, or refuses it.

Callers write PostgreSQL-flavoured SQL against the reporting views (policies/reporting.py). For
each statement the guard, in order:

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

The guard is a filter, not the boundary: the execution layer adds a read-only transaction and a
statement timeout (PostgreSQL) or query_only, an authorizer and a progress handler (SQLite).
A refusal names the rule broken so an agent can fix its query.
"""

from __future__ import annotations

import enum
import functools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope as QueryScope
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.tokenizer_core import TokenType

from domain.errors import DomainError, PermissionDenied
from policies.reporting import (
    BASE_TABLES,
    VIEWS,
    ReportingView,
    column_readable,
    readable_columns,
    view_visible,
)
from policies.scope import Action, DataClass, Scope

EngineDialect = Literal["postgres", "sqlite"]

MAX_SQL_CHARS = 20_000
MAX_TOKENS = 5_000
MAX_NESTING = 32
MAX_NODES = 10_000
DEFAULT_LIMIT = 200
MAX_LIMIT = 1_000
# A derived table or CTE with at most this many rows (literal LIMIT) may be cross joined freely.
SMALL_RELATION_ROWS = 1_000


class Rule(enum.StrEnum):
    """The rules a statement can break; the code an agent sees in a refusal."""

    TOO_LONG = "too_long"
    TOO_COMPLEX = "too_complex"
    SYNTAX = "syntax"
    ONE_STATEMENT = "one_statement"
    SELECT_ONLY = "select_only"
    WRITE = "write"
    INTO = "into"
    LOCKING = "locking"
    CONSTRUCT = "construct"
    LITERAL = "literal"
    PARAMETER = "parameter"
    IDENTIFIER = "identifier"
    CATALOG = "catalog"
    SCHEMA_QUALIFIED = "schema_qualified"
    TABLE_FUNCTION = "table_function"
    UNKNOWN_VIEW = "unknown_view"
    VIEW_RESTRICTED = "view_restricted"
    FUNCTION = "function"
    UNKNOWN_COLUMN = "unknown_column"
    AMBIGUOUS_COLUMN = "ambiguous_column"
    COLUMN_RESTRICTED = "column_restricted"
    WHOLE_ROW = "whole_row"
    FIELD_ACCESS = "field_access"
    STAR = "star"
    LIMIT = "limit"
    RECURSIVE = "recursive"
    CARTESIAN = "cartesian"
    TRANSPILE = "transpile"
    RECHECK = "recheck"


# Rules about what the caller may see, rather than about the shape of the SQL.
_PERMISSION_RULES = frozenset({Rule.VIEW_RESTRICTED, Rule.COLUMN_RESTRICTED})


class SqlRefused(DomainError):
    """The guard refused a statement; `rule` says which rule it broke."""

    code = "sql_refused"
    status = 422

    def __init__(self, rule: Rule, message: str, *, sql_original: str | None = None) -> None:
        super().__init__(f"refused by rule {rule.value!r}: {message}", field="sql")
        self.rule = rule
        self.sql_original = sql_original

    def query_log_fields(self) -> dict[str, Any]:
        """What the query log records for this refusal besides the error itself."""
        # PostgreSQL text cannot hold NUL, and a refusal must still reach the log.
        original = self.sql_original.replace("\x00", "\\x00") if self.sql_original is not None else None
        return {
            "sql_original": original,
            "sql_executed": None,
            "details": {"decision": "refused", "rule": self.rule.value},
        }


class SqlForbidden(SqlRefused, PermissionDenied):
    """A refusal because the statement reads data the caller's roles do not allow."""

    code = "sql_refused"
    status = 403


def _refuse(rule: Rule, message: str) -> SqlRefused:
    return SqlForbidden(rule, message) if rule in _PERMISSION_RULES else SqlRefused(rule, message)


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


# -- allow-lists ---------------------------------------------------------------------------


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Node kinds a statement may contain (functions are checked separately, by key).
_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Select,
        exp.Union,
        exp.Intersect,
        exp.Except,
        exp.Subquery,
        exp.With,
        exp.CTE,
        exp.TableAlias,
        exp.From,
        exp.Join,
        exp.Table,
        exp.Identifier,
        exp.Column,
        exp.Star,
        exp.Alias,
        exp.Literal,
        exp.Boolean,
        exp.Null,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Fetch,
        exp.LimitOptions,
        exp.Window,
        exp.WindowSpec,
        exp.Paren,
        exp.Distinct,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Is,
        exp.Not,
        exp.Neg,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.Mod,
        exp.DPipe,
        exp.DataType,
        exp.DataTypeParam,
        exp.Interval,
        exp.Var,
        exp.Filter,
        exp.Lateral,
        exp.Semicolon,
    }
)

# Functions by sqlglot key: each one is a pure computation that transpiles to both engines.
_FUNCTIONS = _names(
    "abs and avg case cast ceil coalesce count cumedist currentdate datetrunc denserank exists extract "
    "firstvalue floor greatest groupconcat if lag lastvalue lead least length lower max min ntile nullif "
    "or percentrank rank replace round rownumber sign strposition substring sum timestamptrunc timetostr "
    "trim upper"
)

# What the regenerated text may contain besides the caller's functions: the scope predicates
# and the SQLite renderings of date functions.
_FINAL_NODES: dict[EngineDialect, frozenset[type[exp.Expr]]] = {
    "postgres": _NODES | {exp.Parameter, exp.Any},
    "sqlite": _NODES | {exp.Placeholder},
}
_FINAL_FUNCTIONS: dict[EngineDialect, frozenset[str]] = {
    "postgres": _FUNCTIONS,
    "sqlite": _FUNCTIONS | {"anonymous", "date", "tsordstotimestamp"},
}
_FINAL_ANONYMOUS: dict[EngineDialect, frozenset[str]] = {
    "postgres": frozenset(),
    "sqlite": frozenset({"date", "datetime", "julianday", "printf", "strftime", "iif", "json_each", "instr"}),
}

# Statements and clauses that write, lock, export or change the session, with the rule they break.
_WRITES: tuple[type[exp.Expr], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Copy,
    exp.Command,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Set,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Use,
    exp.Grant,
    exp.Revoke,
    exp.Analyze,
    exp.Describe,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.LoadData,
)
_ODD_LITERALS: tuple[type[exp.Expr], ...] = (
    exp.ByteString,
    exp.UnicodeString,
    exp.HexString,
    exp.BitString,
    exp.RawString,
    exp.National,
)
_PARAMETERS: tuple[type[exp.Expr], ...] = (exp.Placeholder, exp.Parameter, exp.SessionParameter)

_T = exp.DataType.Type
_CAST_TYPES = frozenset(
    {
        _T.SMALLINT,
        _T.INT,
        _T.BIGINT,
        _T.DECIMAL,
        _T.DOUBLE,
        _T.FLOAT,
        _T.TEXT,
        _T.VARCHAR,
        _T.CHAR,
        _T.DATE,
        _T.BOOLEAN,
    }
)
# Names the expansion itself uses: a CTE so named would stand in for the real table inside it.
_RESERVED_NAMES = BASE_TABLES | {"json_each"}

_CATALOG_NAMES = re.compile(r"^(pg_|sqlite_|information_schema$|pragma_)")
_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_QUOTED_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .\-]*$")
# Words a query can start with; a statement starting otherwise that fails to parse is not a query.
_QUERY_STARTS = frozenset({"SELECT", "WITH", "(", "TABLE", "VALUES"})

_PG = Dialect.get_or_raise("postgres")
_DIALECTS: dict[EngineDialect, Dialect] = {"postgres": _PG, "sqlite": Dialect.get_or_raise("sqlite")}


# -- the caller's side: parse and check ----------------------------------------------------


def _parse(sql: str) -> exp.Expr:
    """Bounds, tokenize, parse: exactly one statement, whose root is a query."""
    if len(sql) > MAX_SQL_CHARS:
        raise _refuse(Rule.TOO_LONG, f"the statement has {len(sql)} characters; the limit is {MAX_SQL_CHARS}")
    if "\x00" in sql:
        raise _refuse(Rule.SYNTAX, "the statement contains a NUL character")
    try:
        tokens = _PG.tokenize(sql)
    except TokenError as err:
        raise _refuse(Rule.SYNTAX, f"the statement could not be read: {err}") from None
    if len(tokens) > MAX_TOKENS:
        raise _refuse(Rule.TOO_COMPLEX, f"the statement has {len(tokens)} tokens; the limit is {MAX_TOKENS}")
    depth = deepest = 0
    for token in tokens:
        if token.token_type is TokenType.L_PAREN:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type is TokenType.R_PAREN:
            depth -= 1
    if deepest > MAX_NESTING:
        raise _refuse(Rule.TOO_COMPLEX, f"parentheses nest {deepest} deep; the limit is {MAX_NESTING}")
    try:
        statements = _PG.parser().parse(tokens, sql)
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        where = f" near line {first.get('line')}, column {first.get('col')}" if first else ""
        first_word = tokens[0].text.upper() if tokens else ""
        if first_word not in _QUERY_STARTS:
            raise _refuse(Rule.SELECT_ONLY, f"only SELECT queries are allowed, not {first_word}") from None
        raise _refuse(Rule.SYNTAX, f"the statement is not valid SQL{where}: {first.get('description', err)}") from None
    except (SqlglotError, RecursionError) as err:
        raise _refuse(Rule.TOO_COMPLEX, f"the statement could not be analysed ({type(err).__name__})") from None
    real = [s for s in statements if s is not None and not isinstance(s, exp.Semicolon)]
    if not real:
        raise _refuse(Rule.SYNTAX, "the statement is empty")
    if len(real) > 1:
        raise _refuse(
            Rule.ONE_STATEMENT,
            f"send exactly one statement; this text holds {len(real)} (separated by ';')",
        )
    root = real[0]
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise _refuse(Rule.SELECT_ONLY, f"only SELECT queries are allowed, not {_kind_name(root)}")
    return root


def _kind_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


def _check_nodes(root: exp.Expr, *, nodes: frozenset[type[exp.Expr]]) -> None:
    """Every node kind, function and literal kind allowed; counts bounded; shapes the rewrite relies on."""
    count = 0
    for node in root.walk():
        count += 1
        if count > MAX_NODES:
            raise _refuse(Rule.TOO_COMPLEX, f"the statement has more than {MAX_NODES} syntax nodes")
        cls = type(node)
        if isinstance(node, exp.Func):
            _check_function(node)
            continue
        if cls in nodes:
            _check_shape(node)
            continue
        raise _refuse(*_node_refusal(node))


def _node_refusal(node: exp.Expr) -> tuple[Rule, str]:
    if isinstance(node, _WRITES):
        return Rule.WRITE, f"{_kind_name(node)} is not allowed anywhere in a query (read-only access)"
    if isinstance(node, exp.Into):
        return Rule.INTO, "SELECT ... INTO creates a table; only reading is allowed"
    if isinstance(node, exp.Lock):
        return Rule.LOCKING, "locking clauses (FOR UPDATE / FOR SHARE) are not allowed"
    if isinstance(node, exp.Dot):
        return Rule.FIELD_ACCESS, "field access on a row or composite value, e.g. (s).name, is not allowed"
    if isinstance(node, _PARAMETERS):
        return Rule.PARAMETER, "bind parameters and placeholders are not allowed; write literal values"
    if isinstance(node, _ODD_LITERALS):
        return Rule.LITERAL, (
            "escape, unicode-escape, dollar-quoted, byte and bit string literals (E'', U&'', $$, X'', B'') "
            "are not allowed; write a standard '...' string"
        )
    if isinstance(node, exp.Values):
        return Rule.CONSTRUCT, "VALUES lists are not allowed; query the reporting views"
    if isinstance(node, exp.TableSample):
        return Rule.CONSTRUCT, "TABLESAMPLE is not allowed"
    return Rule.CONSTRUCT, f"{type(node).__name__} syntax is not supported by the query guard"


def _check_function(node: exp.Func) -> None:
    if isinstance(node, exp.Anonymous):
        raise _refuse(Rule.FUNCTION, f"function {node.name.lower()}() is not allowed")
    if node.key not in _FUNCTIONS:
        name = node.sql_name().lower() if hasattr(node, "sql_name") else node.key
        raise _refuse(Rule.FUNCTION, f"function {name}() is not allowed")
    if isinstance(node, exp.Exists) and not isinstance(node.this, exp.Query | exp.Subquery):
        raise _refuse(Rule.CONSTRUCT, "EXISTS needs a subquery")


def _check_shape(node: exp.Expr) -> None:
    if isinstance(node, exp.Identifier):
        name = node.name
        if node.quoted:
            if not _QUOTED_NAME.match(name):
                raise _refuse(
                    Rule.IDENTIFIER, f"the quoted name {name!r} has characters other than ASCII letters and digits"
                )
        elif not _PLAIN_NAME.match(name.lower()):
            raise _refuse(Rule.IDENTIFIER, f"the name {name!r} is not a plain ASCII identifier")
        if name.lower().startswith("sis_"):
            raise _refuse(Rule.IDENTIFIER, "names starting with sis_ are reserved for the query guard")
    elif isinstance(node, exp.CTE):
        name = node.alias_or_name
        if name.lower() in _RESERVED_NAMES or _CATALOG_NAMES.match(name.lower()):
            raise _refuse(
                Rule.IDENTIFIER, f"a CTE may not be named {name!r}, the name of a storage table or system catalog"
            )
    elif isinstance(node, exp.With) and node.args.get("recursive"):
        raise _refuse(Rule.RECURSIVE, "WITH RECURSIVE is not allowed; organizations.path gives every subtree")
    elif isinstance(node, exp.Distinct) and node.args.get("on") is not None:
        raise _refuse(Rule.CONSTRUCT, "DISTINCT ON is not supported on every engine; use row_number() instead")
    elif isinstance(node, exp.Join):
        if node.method or node.kind.upper() in {"ANTI", "SEMI"}:
            raise _refuse(Rule.CONSTRUCT, "NATURAL joins are not allowed; join ON explicit columns")
    elif isinstance(node, exp.Lateral):
        if not isinstance(node.this, exp.Subquery):
            raise _refuse(Rule.TABLE_FUNCTION, "LATERAL is only allowed over a subquery")
    elif isinstance(node, exp.TableAlias) and node.args.get("columns"):
        raise _refuse(Rule.CONSTRUCT, "column lists in aliases, e.g. AS s(a, b), are not allowed")
    elif isinstance(node, exp.Table):
        if not isinstance(node.this, exp.Identifier):
            raise _refuse(Rule.TABLE_FUNCTION, "table functions are not allowed in FROM; query the reporting views")
        if node.args.get("db") or node.args.get("catalog"):
            schema = node.text("db").lower()
            if schema in {"pg_catalog", "information_schema"} or _CATALOG_NAMES.match(node.name.lower()):
                raise _refuse(Rule.CATALOG, f"{node.sql()} is a system catalog; only the reporting views exist here")
            raise _refuse(Rule.SCHEMA_QUALIFIED, f"{node.sql()} names a schema; write the reporting view name alone")
        if node.args.get("joins") or node.args.get("pivots") or node.args.get("laterals"):
            raise _refuse(Rule.CONSTRUCT, "this table syntax is not supported")
    elif isinstance(node, exp.Column):
        if node.args.get("db") or node.args.get("catalog"):
            raise _refuse(Rule.SCHEMA_QUALIFIED, f"{node.sql()} names a schema; write <alias>.<column>")
    elif isinstance(node, exp.Star):
        parent = node.parent
        if isinstance(parent, exp.Count):
            return
        if isinstance(parent, exp.Select) and node.arg_key == "expressions":
            return
        if isinstance(parent, exp.Column) and isinstance(parent.parent, exp.Select) and parent.arg_key == "expressions":
            return
        raise _refuse(Rule.STAR, "* is only allowed as a select-list item or in count(*)")
    elif isinstance(node, exp.DataType):
        if node.this not in _CAST_TYPES:
            raise _refuse(Rule.CONSTRUCT, f"casting to {node.sql()} is not allowed")
    elif isinstance(node, exp.Var):
        if not isinstance(node.parent, exp.Interval | exp.Extract | exp.Limit | exp.TimestampTrunc | exp.DateTrunc):
            raise _refuse(Rule.CONSTRUCT, f"the keyword {node.name} is not allowed here")
    elif isinstance(node, exp.Limit | exp.Offset):
        _check_limit(node)


def _check_limit(node: exp.Limit | exp.Offset) -> None:
    value = node.expression
    if isinstance(node, exp.Limit) and isinstance(value, exp.Var) and value.name.upper() == "ALL":
        return
    if not (isinstance(value, exp.Literal) and not value.is_string and value.name.isdigit()):
        raise _refuse(Rule.LIMIT, "LIMIT and OFFSET take a non-negative whole number")


# -- resolution ---------------------------------------------------------------------------


@dataclass
class _ViewRef:
    """One place the query names a view: the node to replace and the columns used through it."""

    view: ReportingView
    table: exp.Table
    alias: str
    used: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Resolved:
    """What a column reference points at: a view column, a derived relation's output, or a select alias."""

    ref: _ViewRef | None = None
    derived: QueryScope | None = None
    name: str = ""
    select_alias: exp.Expr | None = None


class _Checker:
    """Resolves relations and columns of a parsed statement for one caller."""

    def __init__(self, root: exp.Expr, scope: Scope) -> None:
        self.root = root
        self.scope = scope
        self.refs: dict[int, _ViewRef] = {}
        self.resolved: dict[int, _Resolved] = {}
        try:
            self.scopes = traverse_scope(root)
        except SqlglotError as err:
            raise _refuse(Rule.CONSTRUCT, f"the query's structure could not be analysed: {err}") from None
        self.by_expression: dict[int, QueryScope] = {id(s.expression): s for s in self.scopes}

    # relations

    def check_relations(self) -> None:
        cte_refs: set[int] = set()
        for qs in self.scopes:
            for alias, source in qs.sources.items():
                if isinstance(source, exp.Table) and id(source) not in self.refs:
                    self.refs[id(source)] = self._view_ref(source, alias)
            for table in self._tables_of(qs):
                if isinstance(qs.sources.get(table.alias_or_name), QueryScope):
                    cte_refs.add(id(table))
        for table in self.root.find_all(exp.Table):
            if id(table) not in self.refs and id(table) not in cte_refs:
                raise _refuse(Rule.CONSTRUCT, f"the relation {table.sql()} is used where the guard cannot scope it")

    @staticmethod
    def _tables_of(qs: QueryScope) -> Iterator[exp.Table]:
        expr = qs.expression
        if not isinstance(expr, exp.Select):
            return
        from_ = expr.args.get("from_")
        items = [from_.this] if from_ is not None else []
        items += [j.this for j in expr.args.get("joins") or ()]
        for item in items:
            if isinstance(item, exp.Table):
                yield item

    def _view_ref(self, table: exp.Table, alias: str) -> _ViewRef:
        name = table.name
        lower = name if table.this.quoted else name.lower()
        view = VIEWS.get(lower)
        if view is None:
            if _CATALOG_NAMES.match(lower.lower()):
                raise _refuse(Rule.CATALOG, f"{name} is a system catalog; only the reporting views can be queried")
            if lower.lower() in BASE_TABLES or lower.lower() in {"user_account", "query_log", "change_event"}:
                raise _refuse(
                    Rule.UNKNOWN_VIEW,
                    f"{name} is a storage table, not a reporting view; describe_schema lists the views",
                )
            raise _refuse(Rule.UNKNOWN_VIEW, f"there is no reporting view named {name!r}; describe_schema lists them")
        if not view_visible(self.scope, view):
            raise _refuse(
                Rule.VIEW_RESTRICTED,
                f"the view {view.name} holds {view.data_class.value} data, which your role may not read",
            )
        return _ViewRef(view=view, table=table, alias=alias or view.name)

    # stars

    def expand_stars(self) -> None:
        for qs in self.scopes:
            select = qs.expression
            if not isinstance(select, exp.Select):
                continue
            if not any(isinstance(e, exp.Star) or e.is_star for e in select.expressions):
                continue
            if any(j.args.get("using") for j in select.args.get("joins") or ()):
                raise _refuse(Rule.STAR, "* with JOIN ... USING is ambiguous here; list the columns you need")
            expanded: list[exp.Expr] = []
            for item in select.expressions:
                if isinstance(item, exp.Star):
                    for alias in self._from_aliases(select):
                        expanded += self._columns_of_source(qs, alias)
                elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                    alias = item.table
                    if alias not in qs.sources:
                        raise _refuse(Rule.UNKNOWN_COLUMN, f"{alias}.* names no relation of this query")
                    expanded += self._columns_of_source(qs, alias)
                else:
                    expanded.append(item)
            if not expanded:
                raise _refuse(Rule.STAR, "* expands to no column here")
            select.set("expressions", expanded)

    @staticmethod
    def _from_aliases(select: exp.Select) -> list[str]:
        from_ = select.args.get("from_")
        if from_ is None:
            raise _refuse(Rule.STAR, "* needs a FROM clause")
        items = [from_.this] + [j.this for j in select.args.get("joins") or ()]
        return [item.alias_or_name for item in items]

    def _columns_of_source(self, qs: QueryScope, alias: str) -> list[exp.Expr]:
        source = qs.sources.get(alias)
        if isinstance(source, exp.Table):
            ref = self.refs[id(source)]
            names = [c.name for c in readable_columns(self.scope, ref.view)]
        elif isinstance(source, QueryScope):
            names = _named_selects(source)
        else:
            raise _refuse(Rule.STAR, f"* over {alias} cannot be expanded")
        return [exp.column(n, table=alias) for n in names]

    # columns

    def check_columns(self) -> None:
        for qs in self.scopes:
            self._check_using(qs)
        for column in list(self.root.find_all(exp.Column)):
            if isinstance(column.this, exp.Star):
                continue
            owner = self._owner(column)
            if owner is None:
                raise _refuse(Rule.UNKNOWN_COLUMN, f"{column.sql()} is not inside a query")
            self.resolved[id(column)] = self._resolve(column, owner)

    def _check_using(self, qs: QueryScope) -> None:
        """JOIN ... USING (c) reads c from the join's left relations and from the joined one."""
        select = qs.expression
        if not isinstance(select, exp.Select):
            return
        aliases = self._from_aliases_or_empty(select)
        for join in select.args.get("joins") or ():
            using = [u.name for u in join.args.get("using") or ()]
            if not using:
                continue
            upto = aliases[: aliases.index(join.this.alias_or_name) + 1]
            for name in using:
                found = False
                for alias in upto:
                    source = qs.sources.get(alias)
                    if source is not None and name in self._names(source):
                        probe = exp.column(name, table=alias)
                        self._in_source(probe, qs, alias, source, name)
                        found = True
                if not found:
                    raise _refuse(Rule.UNKNOWN_COLUMN, f"USING ({name}): no relation of this join has that column")

    def _owner(self, node: exp.Expr) -> QueryScope | None:
        parent = node.parent
        while parent is not None:
            found = self.by_expression.get(id(parent))
            if found is not None:
                return found
            parent = parent.parent
        return None

    def _resolve(self, column: exp.Column, owner: QueryScope) -> _Resolved:
        name = column.name if column.this.quoted else column.name.lower()
        qualifier = column.table
        level: QueryScope | None = owner
        while level is not None:
            # Only relations in this SELECT's FROM count: every CTE is in `sources` of every scope.
            selected = {alias: source for alias, (_, source) in level.selected_sources.items()}
            if qualifier:
                source = selected.get(qualifier)
                if source is not None:
                    return self._in_source(column, level, qualifier, source, name)
            else:
                hits = [a for a, s in selected.items() if name in self._names(s)]
                if len(hits) > 1 and name not in self._using(level):
                    raise _refuse(
                        Rule.AMBIGUOUS_COLUMN,
                        f"column {name} exists in {', '.join(sorted(hits))}; write <alias>.{name}",
                    )
                if hits:
                    return self._in_source(column, level, hits[0], selected[hits[0]], name)
                alias_target = self._select_alias(column, level, name)
                if alias_target is not None:
                    return _Resolved(select_alias=alias_target, name=name)
            level = level.parent
        everywhere = [a for qs in self.scopes for a in qs.sources]
        if not qualifier and name in everywhere:
            raise _refuse(Rule.WHOLE_ROW, f"{name} refers to a whole row; name the columns you need")
        if qualifier:
            raise _refuse(Rule.UNKNOWN_COLUMN, f"{qualifier}.{name}: no relation named {qualifier} in this query")
        raise _refuse(Rule.UNKNOWN_COLUMN, f"no view in this query has a column named {name}")

    def _names(self, source: exp.Table | QueryScope) -> Iterable[str]:
        if isinstance(source, exp.Table):
            return self.refs[id(source)].view.by_name
        return _named_selects(source)

    @staticmethod
    def _using(level: QueryScope) -> set[str]:
        select = level.expression
        names: set[str] = set()
        if isinstance(select, exp.Select):
            for join in select.args.get("joins") or ():
                names |= {u.name.lower() for u in join.args.get("using") or ()}
        return names

    @staticmethod
    def _select_alias(column: exp.Column, level: QueryScope, name: str) -> exp.Expr | None:
        """A bare name in GROUP BY / HAVING / ORDER BY may name an output column of the same SELECT."""
        select = level.expression
        if not isinstance(select, exp.Select | exp.SetOperation):
            return None
        clause = column.find_ancestor(exp.Group, exp.Having, exp.Order, exp.Select, exp.SetOperation)
        if not isinstance(clause, exp.Group | exp.Having | exp.Order):
            return None
        for item in select.selects:
            if item.alias_or_name == name:
                return item
        return None

    def _in_source(
        self, column: exp.Column, level: QueryScope, alias: str, source: exp.Table | QueryScope, name: str
    ) -> _Resolved:
        if isinstance(source, QueryScope):
            if name not in _named_selects(source):
                raise _refuse(Rule.UNKNOWN_COLUMN, f"{alias} has no column {name}")
            return _Resolved(derived=source, name=name)
        ref = self.refs[id(source)]
        view = ref.view
        if name not in view.by_name:
            if name == alias or name == view.name:
                raise _refuse(Rule.WHOLE_ROW, f"{alias}.{name} refers to a whole row; name the columns you need")
            raise _refuse(
                Rule.UNKNOWN_COLUMN,
                f"the view {view.name} has no column {name}; its columns are {', '.join(view.by_name)}",
            )
        if not column_readable(self.scope, view, name):
            raise _refuse(
                Rule.COLUMN_RESTRICTED,
                f"{view.name}.{name} holds {view.column_class(name).value} data, which your role may not read "
                "(it cannot be selected, filtered, joined, grouped or sorted on)",
            )
        ref.used.add(name)
        column.set("table", exp.to_identifier(alias))
        return _Resolved(ref=ref, name=name)

    # types and lineage

    def type_of(self, node: exp.Expr, depth: int = 0) -> str | None:
        """The reporting type of an expression when it can be told: uuid, date, integer or text."""
        if depth > 32:
            return None
        if isinstance(node, exp.Paren | exp.Alias):
            return self.type_of(node.this, depth + 1)
        if isinstance(node, exp.Column):
            res = self.resolved.get(id(node))
            if res is None:
                return None
            if res.ref is not None:
                return res.ref.view.by_name[res.name].type
            if res.derived is not None:
                item = _projection(res.derived.expression, res.name)
                return self.type_of(item, depth + 1) if item is not None else None
            if res.select_alias is not None:
                return self.type_of(res.select_alias, depth + 1)
            return None
        if isinstance(node, exp.Cast):
            to = node.to.this
            if to in {exp.DataType.Type.DATE}:
                return "date"
            if to in exp.DataType.INTEGER_TYPES:
                return "integer"
            if to in exp.DataType.TEXT_TYPES:
                return "text"
            if to is exp.DataType.Type.UUID:
                return "uuid"
            return None
        if isinstance(node, exp.CurrentDate | exp.TimestampTrunc | exp.DateTrunc):
            return "date"
        if isinstance(node, exp.Min | exp.Max | exp.Coalesce | exp.FirstValue | exp.LastValue | exp.Lag | exp.Lead):
            return self.type_of(node.this, depth + 1)
        if isinstance(node, exp.Add | exp.Sub):
            left, right = self.type_of(node.this, depth + 1), self.type_of(node.expression, depth + 1)
            if left == "date" and (isinstance(node.expression, exp.Interval) or right == "integer"):
                return "date"
            if isinstance(node, exp.Add) and right == "date" and isinstance(node.this, exp.Interval):
                return "date"
            if isinstance(node, exp.Sub) and left == "date" and right == "date":
                return "integer"
            return None
        if isinstance(node, exp.Literal):
            return "text" if node.is_string else ("integer" if node.name.isdigit() else None)
        return None

    def identifies_student(self, node: exp.Expr, depth: int = 0) -> bool:
        """True when an output expression carries student ids straight from a view's student column."""
        if depth > 32:
            return False
        if isinstance(node, exp.Paren | exp.Alias):
            return self.identifies_student(node.this, depth + 1)
        if isinstance(node, exp.Min | exp.Max | exp.Coalesce | exp.FirstValue | exp.LastValue | exp.Lag | exp.Lead):
            return self.identifies_student(node.this, depth + 1)
        if isinstance(node, exp.Column):
            res = self.resolved.get(id(node))
            if res is None:
                return False
            if res.ref is not None:
                return res.ref.view.by_name[res.name].identifies_student
            if res.derived is not None:
                item = _projection(res.derived.expression, res.name)
                return item is not None and self.identifies_student(item, depth + 1)
            if res.select_alias is not None:
                return self.identifies_student(res.select_alias, depth + 1)
        return False

    # cross joins

    def check_cartesian(self) -> None:
        for qs in self.scopes:
            select = qs.expression
            if not isinstance(select, exp.Select):
                continue
            aliases = [a for a in self._from_aliases_or_empty(select) if a in qs.sources]
            if len(aliases) < 2:
                continue
            groups = _Components(aliases)

            conditions: list[exp.Expr] = []
            where = select.args.get("where")
            if where is not None:
                conditions += list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
            for join in select.args.get("joins") or ():
                on = join.args.get("on")
                if on is not None:
                    conditions += list(on.flatten()) if isinstance(on, exp.And) else [on]
                if join.args.get("using"):
                    groups.link({join.this.alias_or_name, *aliases[: aliases.index(join.this.alias_or_name)]})
                if isinstance(join.this, exp.Lateral):
                    groups.link({join.this.alias_or_name} | self._aliases_used(join.this, qs))
            for condition in conditions:
                groups.link(self._aliases_used(condition, qs))
            large = [g for g in groups.groups() if any(self._is_large(qs.sources[a]) for a in g)]
            if len(large) > 1:
                names = " x ".join("+".join(g) for g in large)
                raise _refuse(
                    Rule.CARTESIAN,
                    f"the query cross-joins large relations ({names}) without a join condition linking them; "
                    "add ON conditions",
                )

    @staticmethod
    def _from_aliases_or_empty(select: exp.Select) -> list[str]:
        from_ = select.args.get("from_")
        if from_ is None:
            return []
        return [from_.this.alias_or_name] + [j.this.alias_or_name for j in select.args.get("joins") or ()]

    def _aliases_used(self, node: exp.Expr, qs: QueryScope) -> set[str]:
        found: set[str] = set()
        for column in node.find_all(exp.Column):
            res = self.resolved.get(id(column))
            if res is None:
                continue
            if res.ref is not None and res.ref.alias in qs.sources:
                found.add(res.ref.alias)
            elif column.table and column.table in qs.sources:
                found.add(column.table)
        return found

    def _is_large(self, source: exp.Table | QueryScope) -> bool:
        if isinstance(source, exp.Table):
            return self.refs[id(source)].view.large
        body = source.expression
        if isinstance(body, exp.Select):
            limit = body.args.get("limit")
            if (
                isinstance(limit, exp.Limit)
                and isinstance(limit.expression, exp.Literal)
                and int(limit.expression.name) <= SMALL_RELATION_ROWS
            ):
                return False
            if not body.args.get("group") and any(e.find(exp.AggFunc) for e in body.expressions):
                return False
        return True


class _Components:
    """Connected groups of relations (union-find), linked by the conditions that join them."""

    def __init__(self, names: Iterable[str]) -> None:
        self.parent = {n: n for n in names}

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def link(self, names: Iterable[str]) -> None:
        found = [n for n in names if n in self.parent]
        for other in found[1:]:
            self.parent[self.find(other)] = self.find(found[0])

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = {}
        for name in self.parent:
            out.setdefault(self.find(name), []).append(name)
        return list(out.values())


def _projection(query: exp.Expr, name: str) -> exp.Expr | None:
    """The select-list item of `query` (its first branch for a set operation) named `name`."""
    while isinstance(query, exp.SetOperation):
        query = query.this
    if isinstance(query, exp.Subquery):
        query = query.this
    if not isinstance(query, exp.Select):
        return None
    for item in query.expressions:
        if item.alias_or_name == name:
            found: exp.Expr = item.unalias()
            return found
    return None


def _named_selects(source: QueryScope) -> list[str]:
    """The output column names of a derived table or CTE."""
    query = source.expression
    while isinstance(query, exp.Lateral | exp.Subquery):
        query = query.this
    return list(query.named_selects) if isinstance(query, exp.Query) else []


# -- the rewrite ----------------------------------------------------------------------------


class _Params:
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


def _in_orgs(params: _Params, column: exp.Expr, ids: frozenset[uuid.UUID]) -> exp.Expr:
    if params.dialect == "postgres":
        return exp.EQ(this=column, expression=exp.Any(this=exp.Paren(this=params.org_list(ids))))
    each = exp.Table(this=exp.Anonymous(this="json_each", expressions=[params.org_list(ids)]))
    return exp.In(this=column, query=exp.Subquery(this=_select([exp.column("value")], each)))


def _guide_students(params: _Params, guide: uuid.UUID) -> exp.Select:
    mine = exp.EQ(this=exp.column("guide_user_id", table="sis_ga"), expression=params.user(guide))
    return _select([exp.column("student_id", table="sis_ga")], _table("guide_assignment", "sis_ga"), mine)


def _guide_predicate(params: _Params, view: ReportingView, guide: uuid.UUID) -> exp.Expr:
    if view.student_column is not None:
        return exp.In(this=_raw(view, view.student_column), query=exp.Subquery(this=_guide_students(params, guide)))
    if view.household_column is not None:
        assigned = exp.In(
            this=exp.column("student_id", table="sis_hs"), query=exp.Subquery(this=_guide_students(params, guide))
        )
        members = _select([exp.column("household_id", table="sis_hs")], _table("household_student", "sis_hs"), assigned)
        return exp.In(this=_raw(view, view.household_column), query=exp.Subquery(this=members))
    return exp.true()


def _row_predicate(params: _Params, scope: Scope, view: ReportingView, data_class: DataClass) -> exp.Expr:
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
        parts.append(exp.and_(_in_orgs(params, org, limited), _guide_predicate(params, view, guide)))
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


def _scoped_subquery(params: _Params, scope: Scope, ref: _ViewRef, dialect: EngineDialect) -> exp.Subquery:
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
    select = _select(items, _table(first_table, first_alias), _row_predicate(params, scope, view, view.data_class))
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


# -- SQLite renderings of PostgreSQL date arithmetic -----------------------------------------

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
        raise _refuse(Rule.TRANSPILE, "only whole-number day, week, month and year intervals run on this engine")
    if unit == "weeks":
        amount, unit = amount * 7, "days"
    return f"{amount:+d} {unit}"


def _to_sqlite(checker: _Checker, root: exp.Expr) -> exp.Expr:
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
            raise _refuse(
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
            raise _refuse(Rule.TRANSPILE, f"EXTRACT({part} FROM ...) does not run on this engine")
        return _strftime_int(_EXTRACT_SQLITE[part], node.expression)
    if isinstance(node, exp.Add | exp.Sub):
        return _date_arithmetic(node, type_of)
    if isinstance(node, exp.Interval) and not isinstance(node.parent, exp.Add | exp.Sub):
        raise _refuse(Rule.TRANSPILE, "an INTERVAL can only be added to or subtracted from a date on this engine")
    if isinstance(node, exp.EQ | exp.NEQ | exp.In):
        _uuid_literals(node, type_of)
    if isinstance(node, exp.Lateral):
        raise _refuse(Rule.TRANSPILE, "LATERAL joins do not run on this engine; use a correlated subquery")
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
        raise _refuse(Rule.TRANSPILE, "an INTERVAL can only be added to or subtracted from a date on this engine")
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


# -- the regenerated text ---------------------------------------------------------------------


def _recheck(text: str, dialect: EngineDialect, tables: frozenset[str], placeholders: int) -> None:
    """Parse the text to execute and hold it to the same allow-lists, now over the real tables."""
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except SqlglotError as err:
        raise _refuse(Rule.RECHECK, f"the rewritten statement did not parse back ({err})") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select | exp.SetOperation):
        raise _refuse(Rule.RECHECK, "the rewritten statement is not a single query")
    root = statements[0]
    ctes = {cte.alias_or_name for cte in root.find_all(exp.CTE)}
    if ctes & tables:
        raise _refuse(Rule.RECHECK, "a CTE of the rewritten statement shadows a storage table")
    seen = 0
    for node in root.walk():
        if isinstance(node, exp.Func):
            if node.key not in _FINAL_FUNCTIONS[dialect]:
                raise _refuse(Rule.RECHECK, f"the rewritten statement calls {node.key}")
            if isinstance(node, exp.Anonymous) and node.name.lower() not in _FINAL_ANONYMOUS[dialect]:
                raise _refuse(Rule.RECHECK, f"the rewritten statement calls {node.name}")
            continue
        if type(node) not in _FINAL_NODES[dialect]:
            raise _refuse(Rule.RECHECK, f"the rewritten statement contains {type(node).__name__}")
        if isinstance(node, exp.Parameter | exp.Placeholder):
            seen += 1
        elif isinstance(node, exp.Table):
            _recheck_table(node, tables, ctes)
    if seen != placeholders:
        raise _refuse(Rule.RECHECK, "the rewritten statement lost a scope parameter")


def _recheck_table(node: exp.Table, tables: frozenset[str], ctes: set[str]) -> None:
    if isinstance(node.this, exp.Anonymous) and node.this.name.lower() == "json_each":
        if not all(isinstance(a, exp.Placeholder) for a in node.this.expressions):
            raise _refuse(Rule.RECHECK, "json_each over a value that is not a scope parameter")
        return
    if node.args.get("db") or node.args.get("catalog") or not isinstance(node.this, exp.Identifier):
        raise _refuse(Rule.RECHECK, f"the rewritten statement reads {node.sql()}")
    if node.name in tables:
        select = node.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        if where is None or where.find(exp.Parameter, exp.Placeholder) is None:
            raise _refuse(Rule.RECHECK, f"the rewritten statement reads {node.name} without its scope filter")
        return
    if node.name not in ctes:
        raise _refuse(Rule.RECHECK, f"the rewritten statement reads {node.name}")


# -- the entry point --------------------------------------------------------------------------


def _apply_limit(root: exp.Expr, params: _Params, limit: int) -> None:
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
            raise _refuse(Rule.LIMIT, "FETCH FIRST takes a non-negative whole number")
        if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
            raise _refuse(Rule.LIMIT, "FETCH FIRST ... PERCENT / WITH TIES is not supported; use LIMIT")
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
        raise _refuse(Rule.LIMIT, f"limit must be between 1 and {MAX_LIMIT}")
    root = normalize_identifiers(_parse(sql), dialect=_PG)
    _check_nodes(root, nodes=_NODES)
    _normalise_limits(root)
    checker = _Checker(root, scope)
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
        root = _to_sqlite(checker, root)
    params = _Params(dialect)
    tables: set[str] = set()
    for ref in refs:
        ref.table.replace(_scoped_subquery(params, scope, ref, dialect))
        tables |= ref.view.base_tables
    if scope.guide_user_id is not None:
        tables |= {"guide_assignment", "household_student"}
    _apply_limit(root, params, limit)
    placeholders = sum(1 for _ in root.find_all(exp.Parameter, exp.Placeholder))
    try:
        text = root.sql(dialect=dialect, comments=False, identify=True, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as err:
        raise _refuse(Rule.TRANSPILE, f"the statement uses syntax this engine cannot run: {err}") from None
    allowed_tables = frozenset(tables)
    _recheck(text, dialect, allowed_tables, placeholders)
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


def _outputs(checker: _Checker, root: exp.Expr) -> tuple[OutputColumn, ...]:
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
