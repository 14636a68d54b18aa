"""Engine and session setup for the embedded SQLite default and for PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_PATH = Path("sis-data") / "sis.db"


def database_url() -> str:
    """The configured database URL: SIS_DATABASE_URL, else a SQLite file under the working directory."""
    url = os.environ.get("SIS_DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite opens transactions lazily and never before a SAVEPOINT, so releasing the first
    # savepoint would commit. Take transaction control from the driver; _begin emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


def _begin_sqlite(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


# What a request asks first (has the org tree changed?), asked by the liveness check on checkout
# so that one round trip does both. See `fresh_org_tree_token`.
_ORG_TREE_TOKEN_SQL = "SELECT token FROM org_tree_version WHERE id = 1"
_TOKEN_KEY = "sis_org_tree_token"


def _check_out_postgresql(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Prove a pooled connection alive before use (what pool_pre_ping does), reading the org tree token.

    A dead connection raises DisconnectionError, and the pool replaces it and tries again. Before
    the migrations there is no token table; the request then reads nothing here.
    """
    record.info.pop(_TOKEN_KEY, None)
    before = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            row = cursor.execute(_ORG_TREE_TOKEN_SQL).fetchone()
    except (psycopg.OperationalError, psycopg.InterfaceError) as err:
        raise DisconnectionError(str(err)) from err
    except psycopg.Error:
        return
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = before
    if row is not None:
        record.info[_TOKEN_KEY] = str(row[0])


def _forget_checkout_token(conn: Connection, *_: Any) -> None:
    # Any statement may change the org tree: only the token read before the first one is fresh.
    conn.info.pop(_TOKEN_KEY, None)


def fresh_org_tree_token(conn: Connection) -> str | None:
    """The org tree token read at checkout, if nothing has run on `conn` since (then it is current).

    Taken once: asking again reads the table.
    """
    token: str | None = conn.info.pop(_TOKEN_KEY, None)
    return token


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the settings this project relies on (FKs on, WAL on SQLite)."""
    url = url or database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        engine = create_engine(url, **kwargs)
        if not kwargs.get("pool_pre_ping"):
            event.listen(engine.pool, "checkout", _check_out_postgresql)
            event.listen(engine, "before_cursor_execute", _forget_checkout_token)
        return engine
    raise ValueError(f"unsupported database URL {parsed.render_as_string()!r}: use sqlite:/// or postgresql://")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (results outlive the transaction)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgresql(engine_or_session: Engine | Session) -> bool:
    """True when the bound database is PostgreSQL."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"
