"""Migration 0011 on both engines: existing offerings stay valid, continuous ones become possible."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from db.engine import make_engine
from db.migrate import upgrade
from tests.conftest import ENGINES, _fresh_postgres_database

NOW = "2026-01-01 00:00:00"  # plain text binds the same way on both drivers


@pytest.fixture(params=ENGINES)
def bare_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrate.db'}")
    else:
        server = request.getfixturevalue("postgres_server_url")
        engine = make_engine(_fresh_postgres_database(server, f"sis_offmig_{os.getpid()}"))
    yield engine
    engine.dispose()


def _offering(conn, program: str, org: str, end_on: dt.date | None, start_on=dt.date(2026, 8, 10)) -> None:
    conn.execute(
        text(
            "INSERT INTO program_offering (id, program_id, org_id, name, session_label, start_on, end_on, status, "
            "tuition_cents, grade_min, grade_max, created_at, updated_at) VALUES (:id, :program, :org, 'x', '2026-27', "
            ":start_on, :end_on, 'open', 0, 0, 12, :now, :now)"
        ),
        {"id": uuid.uuid4().hex, "program": program, "org": org, "start_on": start_on, "end_on": end_on, "now": NOW},
    )


def test_upgrading_keeps_dated_offerings_and_allows_continuous_ones(bare_engine):
    upgrade(bare_engine, "0006")
    org, program = uuid.uuid4().hex, uuid.uuid4().hex
    with bare_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organization (id, slug, name, level, kind, path, timezone, is_active, created_at, "
                "updated_at) VALUES (:id, 'a', 'A', 'campus', 'FULL_SIS', '/a/', 'UTC', true, :now, :now)"
            ),
            {"id": org, "now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO program (id, org_id, code, name, kind, created_at, updated_at) "
                "VALUES (:id, :org, 'RY', 'Regular', 'regular_year', :now, :now)"
            ),
            {"id": program, "org": org, "now": NOW},
        )
        _offering(conn, program, org, dt.date(2027, 5, 28))
    upgrade(bare_engine, "0011")
    with bare_engine.begin() as conn:
        _offering(conn, program, org, None)
        assert conn.execute(text("SELECT count(*) FROM program_offering WHERE end_on IS NULL")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM program_offering")).scalar_one() == 2
    with pytest.raises(IntegrityError), bare_engine.begin() as conn:
        _offering(conn, program, org, dt.date(2026, 1, 1))
    with pytest.raises(IntegrityError), bare_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO program (id, org_id, code, name, kind, created_at, updated_at) "
                "VALUES (:id, :org, 'RY', 'Again', 'regular_year', :now, :now)"
            ),
            {"id": uuid.uuid4().hex, "org": org, "now": NOW},
        )
