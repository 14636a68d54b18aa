"""PostgreSQL checkout: the liveness check reads the org tree token, and is never trusted past a statement."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.freshness import drop_tokens, reference_version
from db.migrate import upgrade
from db.models import OrgTreeVersion
from domain.audit.querylog import record_query
from policies.orgtree import org_index, tree_version
from policies.scope import Actor
from tests.factories import create_org


@pytest.fixture(scope="module")
def pg_engine(postgres_server_url: str) -> Iterator[Engine]:
    name = f"sis_checkout_{os.getpid()}"
    admin = make_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = postgres_server_url.rpartition("/")
    engine = make_engine(f"{base}/{name}")
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture()
def statements(pg_engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(pg_engine, "before_cursor_execute", record)
    yield seen
    event.remove(pg_engine, "before_cursor_execute", record)


def _stored_token(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(OrgTreeVersion.token)).scalar_one())


def test_the_first_tree_version_of_a_checkout_needs_no_query(pg_engine: Engine, statements: list[str]) -> None:
    with Session(pg_engine) as session:
        version = tree_version(session)
        assert not [s for s in statements if "org_tree_version" in s]
        # Asked again in the same checkout, it is read from the table.
        assert tree_version(session) == version
        assert [s for s in statements if "org_tree_version" in s]
    assert version.endswith("|" + _stored_token(pg_engine))


def test_versions_read_at_checkout_stay_current_across_reads(pg_engine: Engine, statements: list[str]) -> None:
    with Session(pg_engine) as session:
        session.execute(select(OrgTreeVersion.id)).all()
        version = tree_version(session)
        rules = reference_version(session, "immunization_requirement")
        assert [s for s in statements if "_version" in s] == ["SELECT org_tree_version.id \nFROM org_tree_version"]
    assert version.endswith("|" + _stored_token(pg_engine)) and rules


def test_an_org_written_after_checkout_is_in_the_next_index(pg_engine: Engine) -> None:
    with Session(pg_engine) as session, session.begin():
        before = org_index(session)
        org = create_org(session)
        after = org_index(session)
        assert after.version != before.version
        assert org.id in after.by_id and org.id not in before.by_id
        session.rollback()


def test_a_statement_before_the_first_question_makes_the_token_read_again(pg_engine: Engine) -> None:
    with Session(pg_engine) as session, session.begin():
        org = create_org(session)  # changes the token inside this transaction
        index = org_index(session)
        assert org.id in index.by_id
        session.rollback()


def test_a_connection_that_died_in_the_pool_is_replaced_at_checkout(pg_engine: Engine) -> None:
    single = make_engine(pg_engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    try:
        with single.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # Killed while idle in the pool, as a server restart or an idle timeout would.
        with pg_engine.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        with Session(single) as session:
            assert tree_version(session).endswith("|" + _stored_token(pg_engine))
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        single.dispose()


def test_pool_pre_ping_cannot_switch_the_checkout_read_off(pg_engine: Engine, tmp_path: Path) -> None:
    for url in (pg_engine.url.render_as_string(hide_password=False), f"sqlite:///{tmp_path / 'ping.db'}"):
        with pytest.raises(ValueError, match="pool_pre_ping"):
            make_engine(url, pool_pre_ping=True)


def test_a_write_through_the_raw_driver_drops_the_tokens(pg_engine: Engine, statements: list[str]) -> None:
    # The audit append sends its statement straight to the driver, past the listener.
    with Session(pg_engine) as session, session.begin():
        record_query(session, Actor(user_id=None, label="freshness test"), capability="whoami")
        assert not [s for s in statements if "org_tree_version" in s]
        tree_version(session)
        assert [s for s in statements if "org_tree_version" in s]
        session.rollback()


def test_dropped_tokens_are_read_again(pg_engine: Engine, statements: list[str]) -> None:
    with Session(pg_engine) as session:
        drop_tokens(session.connection())
        assert reference_version(session, "immunization_requirement")
        assert [s for s in statements if "reference_version" in s]
