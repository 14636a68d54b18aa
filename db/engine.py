"""Engine and session setup for the embedded SQLite default and for PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from db import freshness

DEFAULT_SQLITE_PATH = Path("sis-data") / "sis.db"
# Where the data lives when SIS_DATABASE_URL is unset (mcp_server/settings.py reads it).
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_SQLITE_PATH}"


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


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the settings this project relies on (FKs on, WAL on SQLite).

    On PostgreSQL the pool's checkout proves each connection alive in the round trip that reads
    the version tokens (db/freshness.py), so pool_pre_ping is refused: it would add a second ping.

    Raises:
        ValueError: an unsupported URL, or pool_pre_ping passed.
    """
    if "pool_pre_ping" in kwargs:
        raise ValueError(
            "make_engine does not take pool_pre_ping: its PostgreSQL checkout already proves each connection"
            " alive (and reads the version tokens in the same round trip, see db/freshness.py)"
        )
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
        freshness.install(engine)
        return engine
    raise ValueError(f"unsupported database URL {parsed.render_as_string()!r}: use sqlite:/// or postgresql://")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (results outlive the transaction)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
