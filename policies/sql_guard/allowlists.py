"""What a statement may contain: node kinds, functions, casts and names, in the caller's text and the rewritten one.

The caller's side (parse.py) and the re-check of the executed text (recheck.py) read the same
lists, so widening what the guard accepts is an edit in this one file.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from policies.reporting import BASE_TABLES
from policies.sql_guard.refusals import EngineDialect


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Node kinds a statement may contain (functions are checked separately, by key).
NODES: frozenset[type[exp.Expr]] = frozenset(
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
FUNCTIONS = _names(
    "abs and avg case cast ceil coalesce count cumedist currentdate datetrunc denserank exists extract "
    "firstvalue floor greatest groupconcat if lag lastvalue lead least length lower max min ntile nullif "
    "or percentrank rank replace round rownumber sign strposition substring sum timestamptrunc timetostr "
    "trim upper"
)

# What the regenerated text may contain besides the caller's functions: the scope predicates
# and the SQLite renderings of date functions.
FINAL_NODES: dict[EngineDialect, frozenset[type[exp.Expr]]] = {
    "postgres": NODES | {exp.Parameter, exp.Any},
    "sqlite": NODES | {exp.Placeholder},
}
FINAL_FUNCTIONS: dict[EngineDialect, frozenset[str]] = {
    "postgres": FUNCTIONS,
    "sqlite": FUNCTIONS | {"anonymous", "date", "tsordstotimestamp"},
}
FINAL_ANONYMOUS: dict[EngineDialect, frozenset[str]] = {
    "postgres": frozenset(),
    "sqlite": frozenset({"date", "datetime", "julianday", "printf", "strftime", "iif", "json_each", "instr"}),
}

# Statements and clauses that write, lock, export or change the session, with the rule they break.
WRITES: tuple[type[exp.Expr], ...] = (
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
ODD_LITERALS: tuple[type[exp.Expr], ...] = (
    exp.ByteString,
    exp.UnicodeString,
    exp.HexString,
    exp.BitString,
    exp.RawString,
    exp.National,
)
PARAMETERS: tuple[type[exp.Expr], ...] = (exp.Placeholder, exp.Parameter, exp.SessionParameter)

_T = exp.DataType.Type
CAST_TYPES = frozenset(
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
RESERVED_NAMES = BASE_TABLES | {"json_each"}

CATALOG_NAMES = re.compile(r"^(pg_|sqlite_|information_schema$|pragma_)")
PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
QUOTED_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .\-]*$")
# Words a query can start with; a statement starting otherwise that fails to parse is not a query.
QUERY_STARTS = frozenset({"SELECT", "WITH", "(", "TABLE", "VALUES"})

PG = Dialect.get_or_raise("postgres")
