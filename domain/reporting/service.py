"""Runs a statement the query guard accepted: read-only, time-limited, on a connection of its own.

The guard (policies/sql_guard/) decides what may run; this module makes the database enforce
it a second time. The statement runs on a dedicated connection from the engine's pool, never on
the request's own session, so the read-only settings cannot leak into the audit write that follows:

- PostgreSQL: `SET TRANSACTION READ ONLY` and `SET LOCAL statement_timeout` open the transaction;
  the statement is sent with bind parameters (the extended protocol, which refuses a second
  statement), and the transaction is rolled back.
- SQLite: `PRAGMA query_only`, no attached databases, a value-size limit, an authorizer that
  allows only reads of the statement's own tables and a list of pure functions, and a progress
  handler that stops the statement at its deadline; all of it is undone before the connection
  goes back to the pool.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from domain.errors import DomainError
from domain.reporting.schemas import GuardedSql, SqlColumn, SqlResult


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


DEFAULT_TIMEOUT_S = 5.0
MAX_CELL_CHARS = 10_000
MAX_RESULT_CHARS = 1_000_000
# SQLite: the largest string or blob a statement may build (string amplification stops here).
MAX_VALUE_BYTES = 5_000_000
# SQLite functions the authorizer lets a guarded statement call: pure computations only, so
# load_extension, readfile, writefile, fts3_tokenizer and the like are refused by the engine too.
SQLITE_FUNCTIONS = _names(
    "abs avg ceil ceiling coalesce count cume_dist date datetime dense_rank first_value floor glob "
    "group_concat ifnull iif instr julianday lag last_value lead length like lower ltrim max min "
    "nth_value ntile nullif percent_rank printf format rank replace round row_number rtrim sign strftime "
    "substr substring sum total trim upper json_each"
)
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


class SqlFailed(DomainError):
    """A guarded statement started but the database stopped it (time limit or a runtime error)."""

    code = "sql_failed"
    status = 422

    def __init__(self, rule: str, message: str, *, statement: GuardedSql) -> None:
        super().__init__(f"stopped by rule {rule!r}: {message}", field="sql")
        self.rule = rule
        self.sql_original = statement.original
        self.sql_executed = statement.sql

    def query_log_fields(self) -> dict[str, Any]:
        """What the query log records for this failure besides the error itself."""
        return {
            "sql_original": self.sql_original,
            "sql_executed": self.sql_executed,
            "details": {"decision": "allowed", "failed": self.rule},
        }


def engine_of(session: Session) -> Engine:
    """The engine behind a session (its bind may be a connection, as in tests)."""
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def dialect_of(session: Session) -> str:
    """The guard's dialect name for the session's engine: postgres or sqlite."""
    name = engine_of(session).dialect.name
    return "postgres" if name == "postgresql" else name


def run_guarded(session: Session, statement: GuardedSql, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> SqlResult:
    """Execute a guarded statement read-only on a dedicated connection and shape its rows.

    Raises:
        SqlFailed: the statement ran past its time limit or the database rejected it.
    """
    engine = engine_of(session)
    # Through the driver, but read-only on a checkout of its own: no version token to drop (db/freshness.py).
    raw = engine.raw_connection()
    healthy = False
    try:
        if statement.dialect == "postgres":
            names, rows = _run_postgres(raw.driver_connection, statement, timeout_s)
        else:
            names, rows = _run_sqlite(cast(sqlite3.Connection, raw.driver_connection), statement, timeout_s)
        healthy = True
    finally:
        if healthy:
            raw.close()
        else:
            # A connection whose reset may have failed never goes back to the pool.
            raw.invalidate()
            raw.close()
    return _result(statement, names, rows)


def _run_postgres(conn: Any, statement: GuardedSql, timeout_s: float) -> tuple[list[str], list[tuple[Any, ...]]]:
    import psycopg

    try:
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
            cur.execute("SET LOCAL lock_timeout = 1000")
            cur.execute("SET LOCAL idle_in_transaction_session_timeout = 60000")
        # A raw cursor sends $n parameters to the server as they are: no client-side '%' handling,
        # and always the extended protocol, which runs exactly one statement.
        with psycopg.RawCursor(conn) as cur:
            cur.execute(statement.sql, list(statement.params), prepare=False)
            names = [c.name for c in cur.description or ()]
            rows = list(cur.fetchmany(statement.limit + 1))
    except psycopg.errors.QueryCanceled:
        conn.rollback()
        message = f"the query ran longer than {timeout_s:g} s and was stopped"
        raise SqlFailed("time_limit", message, statement=statement) from None
    except psycopg.Error as err:
        conn.rollback()
        raise SqlFailed("engine_error", _first_line(str(err)), statement=statement) from None
    conn.rollback()
    return names, rows


def _run_sqlite(
    conn: sqlite3.Connection, statement: GuardedSql, timeout_s: float
) -> tuple[list[str], list[tuple[Any, ...]]]:
    deadline = time.monotonic() + timeout_s
    tables = statement.tables
    old_attached = conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    old_length = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.execute("PRAGMA query_only = ON")
    # The scope filters read org ids through json_each: connecting that virtual table once here
    # keeps its schema declaration out of the authorizer's view.
    conn.execute("SELECT value FROM json_each('[]')").fetchall()
    conn.set_authorizer(_authorizer(tables | {"json_each"}))
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 1_000)
    timed_out = False
    try:
        params = {f"p{i}": value for i, value in enumerate(statement.params, start=1)}
        cur = conn.execute(statement.sql, params)
        names = [d[0] for d in cur.description or ()]
        rows = cur.fetchmany(statement.limit + 1)
        cur.close()
    except sqlite3.OperationalError as err:
        timed_out = "interrupted" in str(err)
        message = _first_line(str(err))
    except sqlite3.DatabaseError as err:
        message = _first_line(str(err))
    else:
        message = ""
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_authorizer(None)
        conn.execute("PRAGMA query_only = OFF")
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, old_length)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, old_attached)
        conn.rollback()
    if timed_out:
        raise SqlFailed("time_limit", f"the query ran longer than {timeout_s:g} s and was stopped", statement=statement)
    if message:
        raise SqlFailed("engine_error", message, statement=statement)
    return names, rows


def _authorizer(tables: frozenset[str]) -> Callable[[int, str | None, str | None, str | None, str | None], int]:
    """Default deny: SELECT itself, reads of the statement's own tables, and pure functions."""

    def authorize(action: int, arg1: str | None, arg2: str | None, db_name: str | None, _source: str | None) -> int:
        if action == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            # Materialized CTEs and subqueries report no database; real tables must be the statement's own.
            if db_name is None or (db_name == "main" and arg1 in tables):
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return sqlite3.SQLITE_OK if (arg2 or "").lower() in SQLITE_FUNCTIONS else sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_DENY

    return authorize


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["the database rejected the query"])[0][:500]


def _cell(value: Any, type_: str | None, dialect: str) -> Any:
    """A JSON-ready value: ids as dashed text on both engines, dates ISO, decimals as numbers."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if type_ == "uuid" and dialect == "sqlite" and _HEX_ID.match(value):
            return str(uuid.UUID(value))
        return value if len(value) <= MAX_CELL_CHARS else value[:MAX_CELL_CHARS] + "…"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _result(statement: GuardedSql, names: list[str], rows: list[tuple[Any, ...]]) -> SqlResult:
    outputs = list(statement.outputs)
    types = [outputs[i].type if i < len(outputs) else None for i in range(len(names))]
    student_columns = [i for i, o in enumerate(outputs) if o.identifies_student and i < len(names)]
    truncated = len(rows) > statement.limit
    shaped: list[list[Any]] = []
    size = 0
    for row in rows[: statement.limit]:
        cells = [_cell(v, types[i], statement.dialect) for i, v in enumerate(row)]
        size += sum(len(str(c)) for c in cells) + len(cells)
        if size > MAX_RESULT_CHARS:
            truncated = True
            break
        shaped.append(cells)
    students = sorted({str(r[i]) for r in shaped for i in student_columns if r[i] is not None})
    return SqlResult(
        columns=[SqlColumn(name=n, type=types[i]) for i, n in enumerate(names)],
        rows=shaped,
        row_count=len(shaped),
        truncated=truncated,
        limit=statement.limit,
        views=list(statement.views),
        columns_read=list(statement.columns),
        student_ids=students,
        engine="postgresql" if statement.dialect == "postgres" else statement.dialect,
        sql_executed=statement.sql,
        sql_original=statement.original,
    )
