"""The guard's vocabulary: its limits, the rules a statement can break, and the refusals it raises.

Every phase of the guard raises through `refuse`, so this module imports no other part of the
guard; that is what keeps the package free of import circles.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from domain.errors import DomainError, PermissionDenied

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


def refuse(rule: Rule, message: str) -> SqlRefused:
    """The refusal to raise for `rule`: SqlForbidden for a permission rule, SqlRefused otherwise."""
    return SqlForbidden(rule, message) if rule in _PERMISSION_RULES else SqlRefused(rule, message)
