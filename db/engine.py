"""Engine and session setup for the embedded SQLite default and for PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SAWarning
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from db import freshness

DEFAULT_SQLITE_PATH = Path("sis-data") / "sis.db"
# Where the data lives when SIS_DATABASE_URL is unset (mcp_server/settings.py reads it).
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_SQLITE_PATH}"


# How long an SQLite writer waits for the write lock before its caller is told to retry (503).
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _configure_sqlite(dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    # pysqlite opens transactions lazily and never before a SAVEPOINT, so releasing the first
    # savepoint would commit. Take transaction control from the driver; _begin emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    cursor.close()


# SQLite transactions: IMMEDIATE unless a session says it reads first (reading_first). A deferred
# transaction that reads and then writes cannot wait for the write lock: when another writer committed
# after its first read, SQLite refuses the upgrade at once (SQLITE_BUSY_SNAPSHOT) and the busy timeout
# never applies. Taking the lock at BEGIN makes every writer queue on the timeout instead.
_SQLITE_BEGIN = "sis_sqlite_begin"
_DEFERRED = "DEFERRED"


_WRITER = "sis_sqlite_writer"


class _WriterQueue:
    """The writers of one SQLite file, in line: this process's threads on a lock of their own, and
    the processes sharing the file (`sis serve` beside `sis mcp`) on an flock of a sidecar file.

    SQLite's busy handler polls with growing sleeps and serves waiters in no order: under 8 clients
    a few writers lost again and again (p99 2.7 s), and a writer of one process woken by the
    previous one's end always beat a second process sleeping in its handler (bench/
    sqlite_concurrency_bench.py). Every writer now waits here, before BEGIN IMMEDIATE, for at most
    the busy timeout; the lock is let go only after COMMIT or ROLLBACK has released SQLite's.
    """

    _POLL_S = 0.002

    def __init__(self, database: str | None, timeout_ms: int) -> None:
        self.lock = threading.Lock()
        self.timeout_s = timeout_ms / 1000
        self.path = f"{database}-writer" if database and database != ":memory:" else None
        self.fd: int | None = None

    def _busy(self) -> OperationalError:
        return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))

    def enter(self, connection: Any) -> None:
        deadline = time.monotonic() + self.timeout_s
        if not self.lock.acquire(timeout=self.timeout_s):
            raise self._busy()
        try:
            if self.path is not None:
                if self.fd is None:
                    self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                while True:
                    try:
                        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise self._busy() from None
                        time.sleep(self._POLL_S)
        except BaseException:
            self.lock.release()
            raise
        connection.info[_WRITER] = self

    @staticmethod
    def leave(info: dict[Any, Any]) -> None:
        queue = info.pop(_WRITER, None)
        if queue is None:
            return
        if queue.fd is not None:
            fcntl.flock(queue.fd, fcntl.LOCK_UN)
        queue.lock.release()


_QUEUES: weakref.WeakKeyDictionary[Engine, _WriterQueue] = weakref.WeakKeyDictionary()


def _enter_writer(connection: Any) -> None:
    queue = _QUEUES.get(connection.engine)
    if queue is not None:
        queue.enter(connection)


def _begin_sqlite(connection: Any) -> None:
    mode = connection.get_execution_options().get(_SQLITE_BEGIN, "IMMEDIATE")
    if mode != _DEFERRED:
        _enter_writer(connection)
    try:
        connection.exec_driver_sql(f"BEGIN {mode}")
    except BaseException:
        _WriterQueue.leave(connection.info)
        raise
    connection.info[_SQLITE_BEGIN] = mode


def _end_sqlite(connection: Any, verb: str) -> None:
    # SQLAlchemy's commit and rollback events come before the driver's call: end the transaction
    # here (the driver's own call then finds none open and does nothing), so the next writer in line
    # starts on a free database.
    if _WRITER not in connection.info:
        return
    try:
        if connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql(verb)
    finally:
        _WriterQueue.leave(connection.info)


def _checkin_sqlite(_dbapi_connection: Any, record: Any) -> None:
    # A connection returned to the pool without a commit or rollback event (invalidated, say).
    _WriterQueue.leave(record.info)


def reading_first(session: Session) -> None:
    """Open this session's SQLite transaction without the write lock: it reads, and any write it
    makes afterwards is preceded by take_write_lock. Call before the session's first statement.
    PostgreSQL is unaffected (its writers wait on row locks, not on one database lock), and so is a
    session joined to a connection's transaction (its owner chose how that began)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or isinstance(bind, Connection):
        return
    with warnings.catch_warnings():
        # A session whose connection is already open keeps its transaction (and its write lock).
        warnings.filterwarnings("ignore", "Connection is already established", SAWarning)
        session.connection(execution_options={_SQLITE_BEGIN: _DEFERRED})
    session.info[_SQLITE_BEGIN] = _DEFERRED


def deferred_begin(connection: Connection) -> Connection:
    """This connection's SQLite transactions begin without the write lock (a test's long-lived
    rolled-back connection, which must not hold every other connection off for its whole life)."""
    return connection.execution_options(**{_SQLITE_BEGIN: _DEFERRED})


@contextlib.contextmanager
def read_transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that reads first (signing in, listing tools): on SQLite it runs beside other
    readers and takes the write lock only at take_write_lock (a due last_used_at, say)."""
    with session_factory.begin() as session:
        reading_first(session)
        yield session


def take_write_lock(session: Session) -> None:
    """Before the first write of a session opened with reading_first: on SQLite end the read
    snapshot (it has written nothing) and begin again holding the write lock, waiting the busy timeout
    for it. What the session read stays loaded; a rule that must see the rows it writes re-reads them.
    No-op on PostgreSQL and for any session reading_first did not open."""
    if session.info.get(_SQLITE_BEGIN) != _DEFERRED:
        return
    connection = session.connection()
    if connection.info.get(_SQLITE_BEGIN) == _DEFERRED:
        connection.exec_driver_sql("COMMIT")
        _enter_writer(connection)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _WriterQueue.leave(connection.info)
            raise
        connection.info[_SQLITE_BEGIN] = "IMMEDIATE"
    session.info.pop(_SQLITE_BEGIN)


@event.listens_for(Session, "before_flush")
def _lock_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # A read that writes after all (publishing pending events, say) takes the lock before its first
    # write instead of having SQLite refuse the upgrade.
    take_write_lock(session)


@event.listens_for(Session, "do_orm_execute")
def _lock_before_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        take_write_lock(state.session)


def is_lock_timeout(error: BaseException) -> bool:
    """An SQLite 'database is locked' that outlasted the busy timeout: the caller may retry later."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig or error)


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the settings this project relies on (FKs on, WAL and
    write-lock-first transactions on SQLite, see reading_first).

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
        event.listen(engine, "connect", functools.partial(_configure_sqlite, busy_timeout_ms=sqlite_busy_timeout_ms))
        event.listen(engine, "begin", _begin_sqlite)
        event.listen(engine, "commit", functools.partial(_end_sqlite, verb="COMMIT"))
        event.listen(engine, "rollback", functools.partial(_end_sqlite, verb="ROLLBACK"))
        event.listen(engine.pool, "checkin", _checkin_sqlite)
        _QUEUES[engine] = _WriterQueue(parsed.database, sqlite_busy_timeout_ms)
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
