"""Watching the database for credential changes, so that every server process forgets stale verifications.

Each process remembers verified credentials for `SIS_AUTH_CACHE_SECONDS` (policies/verified.py).
A revocation, a grant change or a deactivation made anywhere (another worker, another host,
`sis apikey revoke`, raw SQL) replaces the `credentials` token of `cache_version` in the same
transaction (triggers, migration 0016). `CredentialWatch` reads that token every
`SIS_CACHE_POLL_SECONDS` and, when it differs from the last one read, empties the process's
memory of verified credentials. On PostgreSQL the trigger also sends `NOTIFY sis_cache_version`,
and the watch waits on that channel between reads, so a change usually arrives within
milliseconds of its commit; the poll still runs, so a lost notification or a dropped listening
connection costs at most one interval.

The bound (docs/running/processes.md): a change committed at time t is refused by every process
whose watch is running from t + SIS_CACHE_POLL_SECONDS + the time of one token read on, and by
any process at all from t + SIS_AUTH_CACHE_SECONDS.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import psycopg
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_session_factory, read_transaction
from db.models import CacheVersion
from mcp_server.settings import Settings
from policies.verified import RecentlyVerified

log = logging.getLogger("sis.cache")

CREDENTIALS = "credentials"
CHANNEL = "sis_cache_version"
DEFAULT_POLL_SECONDS = 1.0
STOP_SLICE_SECONDS = 0.25


def credentials_token(session_factory: sessionmaker[Session]) -> str | None:
    """The current `credentials` token; None before migration 0016 (then nothing is watched)."""
    with read_transaction(session_factory) as session:
        token = session.execute(select(CacheVersion.token).where(CacheVersion.name == CREDENTIALS)).scalar_one_or_none()
    return None if token is None else str(token)


class CredentialWatch:
    """A thread that calls `on_change()` whenever the `credentials` token changes in the database."""

    def __init__(self, engine: Engine, on_change: Callable[[], None], *, poll_seconds: float = DEFAULT_POLL_SECONDS):
        self._engine = engine
        self._sessions = make_session_factory(engine)
        self._on_change = on_change
        self.poll_seconds = max(0.05, poll_seconds)
        self._stop = threading.Event()
        self._checking = threading.Lock()
        self._thread: threading.Thread | None = None
        self._listener: Any = None
        self._token: str | None = None

    def start(self) -> None:
        """Read the token once (before the first request is served), then watch it in the background."""
        self._token = self._read()
        self._thread = threading.Thread(target=self._run, name="sis-credential-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the thread notices within STOP_SLICE_SECONDS on PostgreSQL, one poll on SQLite)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_seconds + 1)
        self._close_listener()

    def check_now(self) -> bool:
        """Read the token; call `on_change()` and return True when it changed since the last read."""
        with self._checking:
            token = self._read()
            if token is None or token == self._token:
                return False
            self._token = token
            self._on_change()
            return True

    def _read(self) -> str | None:
        try:
            return credentials_token(self._sessions)
        except SQLAlchemyError as err:
            log.warning("could not read the credentials token (retrying): %s", str(err).splitlines()[0])
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wait()
            if not self._stop.is_set():
                self.check_now()

    def _wait(self) -> None:
        """Until a notification arrives (PostgreSQL), one poll interval has passed, or stop() is called."""
        listener = self._listen()
        if listener is None:
            self._stop.wait(self.poll_seconds)
            return
        deadline = time.monotonic() + self.poll_seconds
        try:
            while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
                # In short slices, so that stop() never waits a whole interval.
                if any(True for _ in listener.notifies(timeout=min(left, STOP_SLICE_SECONDS), stop_after=1)):
                    return
        except (psycopg.Error, OSError) as err:  # a dropped connection: poll until it can be opened again
            log.warning("stopped listening on %s (polling instead): %s", CHANNEL, err)
            self._close_listener()
            self._stop.wait(self.poll_seconds)

    @property
    def listening(self) -> bool:
        """True while a PostgreSQL connection LISTENs for changes."""
        return self._listener is not None

    def _listen(self) -> Any:
        """The connection LISTENing on the channel (PostgreSQL only), opened again after a failure."""
        if self._listener is not None or self._engine.dialect.name != "postgresql":
            return self._listener
        try:
            args, kwargs = self._engine.dialect.create_connect_args(self._engine.url)
            connection = self._engine.dialect.loaded_dbapi.connect(*args, **kwargs)
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
        except (psycopg.Error, OSError) as err:  # the server is away: poll, and try again after the next interval
            log.warning("cannot listen on %s (polling instead): %s", CHANNEL, err)
            return None
        self._listener = connection
        # Whatever changed while no one listened is caught by this read.
        self.check_now()
        return connection

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                listener.close()


@contextlib.contextmanager
def credential_watch(
    engine: Engine, on_change: Callable[[], None], *, poll_seconds: float = DEFAULT_POLL_SECONDS
) -> Iterator[CredentialWatch | None]:
    """Run a CredentialWatch for the duration of the block; `poll_seconds` <= 0 watches nothing."""
    if poll_seconds <= 0:
        yield None
        return
    watch = CredentialWatch(engine, on_change, poll_seconds=poll_seconds)
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()


@contextlib.asynccontextmanager
async def watching_credentials(
    engine: Engine, verified: RecentlyVerified, settings: Settings
) -> AsyncIterator[CredentialWatch | None]:
    """The HTTP app's watch (its lifespan): `verified` is emptied whenever credentials change anywhere."""
    poll = settings.cache_poll_seconds
    watch = CredentialWatch(engine, verified.invalidate, poll_seconds=poll) if poll > 0 else None
    if watch is not None:
        await anyio.to_thread.run_sync(watch.start)
    try:
        yield watch
    finally:
        if watch is not None:
            await anyio.to_thread.run_sync(watch.stop)
