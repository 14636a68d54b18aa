"""Engine and session setup for the embedded SQLite default and for PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import CompoundSelect, Connection, Engine, Select, create_engine, event
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


# What a request asks first (has the org tree changed? have the immunization rules?), read by
# the liveness check on checkout so that one round trip does both. See `fresh_version`.
_VERSIONS_SQL = (
    "SELECT 'org_tree', token FROM org_tree_version WHERE id = 1 UNION ALL SELECT name, token FROM reference_version"
)
_VERSIONS_KEY = "sis_versions"


def _check_out_postgresql(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Prove a pooled connection alive before use (what pool_pre_ping does), reading the versions.

    A dead connection raises DisconnectionError, and the pool replaces it and tries again. Before
    the migrations there are no version tables; the request then reads them itself.
    """
    record.info.pop(_VERSIONS_KEY, None)
    # Outside a transaction, as SQLAlchemy's own ping runs (psycopg refuses to toggle inside one).
    toggle = not dbapi_connection.autocommit
    try:
        if toggle:
            dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            rows = cursor.execute(_VERSIONS_SQL).fetchall()
    except (psycopg.OperationalError, psycopg.InterfaceError) as err:
        raise DisconnectionError(str(err)) from err
    except psycopg.Error:
        return
    finally:
        if toggle and not dbapi_connection.closed and dbapi_connection.autocommit:
            dbapi_connection.autocommit = False
    record.info[_VERSIONS_KEY] = {str(name): str(token) for name, token in rows}


def _keep_versions_across_reads_only(
    conn: Connection, _cursor: Any, _sql: str, _params: Any, context: Any, *_: Any
) -> None:
    # A write may change what a version describes: the versions read at checkout stay current
    # across compiled SELECTs only, and anything else (DML, DDL, text) discards them.
    compiled = getattr(context, "compiled", None)
    if compiled is None or not isinstance(compiled.statement, Select | CompoundSelect):
        conn.info.pop(_VERSIONS_KEY, None)


def fresh_version(conn: Connection, name: str) -> str | None:
    """A version token ("org_tree", or a reference_version name) as read at checkout, if still current.

    Current means no write has run on `conn` since. Taken once: asking again reads the table.
    """
    versions: dict[str, str] | None = conn.info.get(_VERSIONS_KEY)
    return None if versions is None else versions.pop(name, None)


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
            event.listen(engine, "before_cursor_execute", _keep_versions_across_reads_only)
        return engine
    raise ValueError(f"unsupported database URL {parsed.render_as_string()!r}: use sqlite:/// or postgresql://")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (results outlive the transaction)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgresql(engine_or_session: Engine | Session) -> bool:
    """True when the bound database is PostgreSQL."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"
