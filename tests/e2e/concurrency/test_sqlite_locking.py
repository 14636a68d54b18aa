"""SQLite as the embedded default under concurrent use (#15).

Before, a transaction that read and then wrote began DEFERRED: when another writer committed after
its first read, SQLite refused its write at once ("database is locked", SQLITE_BUSY_SNAPSHOT) without
waiting the busy timeout, and the caller got a 500. Writers now take the lock at BEGIN and queue;
reads that log one entry read side by side and take the lock just for it; a lock that outlasts the
busy timeout is a 503 with Retry-After, and nothing is half-saved.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, column, func, insert, select, table, text
from sqlalchemy.orm import Session

from db.engine import make_engine, make_session_factory, read_transaction, take_write_lock
from db.models import Organization, QueryLog, User
from mcp_server.app import create_app
from mcp_server.auth import create_api_key
from tests.conftest import fresh_database


def _scratch(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine).begin() as session:
        session.execute(text("CREATE TABLE t (who TEXT NOT NULL)"))
    return engine


def _rows(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(text("SELECT who FROM t")).scalars())


def _write_in_thread(engine: Engine, who: str, errors: list[BaseException]) -> threading.Thread:
    def write() -> None:
        try:
            with make_session_factory(engine).begin() as session:
                session.execute(text("INSERT INTO t VALUES (:who)"), {"who": who})
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_a_read_then_write_transaction_waits_for_a_concurrent_writer_instead_of_failing(tmp_path):
    engine = _scratch(tmp_path / "rw.db")
    errors: list[BaseException] = []
    with make_session_factory(engine).begin() as session:
        session.execute(text("SELECT count(*) FROM t")).scalar_one()
        other = _write_in_thread(engine, "other", errors)
        other.join(timeout=0.5)  # before: it commits now, and the insert below is refused at once
        session.execute(text("INSERT INTO t VALUES ('first')"))
    other.join()
    assert errors == []
    assert _rows(engine) == ["first", "other"]


def test_a_reading_transaction_lets_writers_through_and_takes_the_lock_only_to_write(tmp_path):
    engine = _scratch(tmp_path / "read.db")
    errors: list[BaseException] = []
    with read_transaction(make_session_factory(engine)) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        other = _write_in_thread(engine, "other", errors)
        other.join()  # not blocked by this reader: it has committed
        assert errors == []
        take_write_lock(session)
        session.execute(text("INSERT INTO t VALUES ('reader')"))
    assert _rows(engine) == ["other", "reader"]


def test_a_reading_transaction_that_writes_after_all_takes_the_lock_before_its_first_write(tmp_path):
    """A read tool that writes on the way (list_events publishes pending events) gave a 503 under two
    schemathesis workers: its deferred transaction could not upgrade once another writer had committed."""
    engine = _scratch(tmp_path / "read-write.db")
    errors: list[BaseException] = []
    with read_transaction(make_session_factory(engine)) as session:
        session.execute(text("SELECT count(*) FROM t")).scalar_one()
        other = _write_in_thread(engine, "other", errors)
        other.join()
        session.execute(insert(table("t", column("who"))).values(who="reader"))
    assert errors == []
    assert _rows(engine) == ["other", "reader"]


@pytest.fixture()
def busy_sqlite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A demo SQLite file of this test's own, opened with a short busy timeout."""
    seeded = fresh_database("sqlite", request, tmp_path_factory, "busy", demo=True)
    url = seeded.url.render_as_string(hide_password=False)
    seeded.dispose()
    engine = make_engine(url, sqlite_busy_timeout_ms=200)
    yield engine
    engine.dispose()


def test_a_write_lock_held_past_the_busy_timeout_is_a_503_with_retry_after_and_saves_nothing(busy_sqlite):
    with Session(busy_sqlite) as session, session.begin():
        admin = session.execute(select(User).where(User.email == "admin@sis.example")).scalar_one()
        _, key = create_api_key(session, admin, "busy", ["sis.read", "sis.write"])
        root = str(session.execute(select(Organization.id).where(Organization.parent_id.is_(None))).scalar_one())
    brand = {"parent_id": root, "name": "Busy Brand", "level": "brand"}
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(busy_sqlite), raise_server_exceptions=False) as client:
        assert client.get("/api/v1/me", headers=headers).status_code == 200  # signed in, cached
        with busy_sqlite.connect() as probe:
            before = probe.execute(select(func.count()).select_from(QueryLog)).scalar_one()
        holder = sqlite3.connect(busy_sqlite.url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process writing for longer than the timeout
        try:
            answer = client.post("/api/v1/tools/create_organization", headers=headers, json=brand)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"].isdigit()
        assert answer.json()["error"]["code"] == "busy"
        with busy_sqlite.connect() as probe:
            assert probe.execute(select(func.count()).select_from(QueryLog)).scalar_one() == before
        # The lock gone, the same call goes through.
        again = client.post("/api/v1/tools/create_organization", headers=headers, json=brand)
        assert again.status_code == 200, again.text
