"""Reads run in a transaction unless the tool opts in with autocommit_read (the benchmarked hot reads)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from policies.principal import Grant, Principal, PrincipalKind
from policies.scope import Action, DataClass
from tests.conftest import _fresh_postgres_database
from tests.factories import create_org
from tools.catalog import load_catalog, tool
from tools.runner import Deps, run_tool

# What bench/mcp_bench.py and bench/oneroster_bench.py measure.
BENCHMARKED = {"query_roster", "find_missing_immunizations", "enrollment_trend", "oneroster_read"}


@pytest.fixture(scope="module")
def pg_deps(postgres_server_url: str) -> Iterator[Deps]:
    engine = make_engine(_fresh_postgres_database(postgres_server_url, f"sis_reads_{os.getpid()}"))
    upgrade(engine)
    yield Deps(session_factory=make_session_factory(engine))
    engine.dispose()


def test_only_the_benchmarked_reads_opt_out_of_the_transaction() -> None:
    assert {spec.name for spec in load_catalog().values() if spec.autocommit_read} == BENCHMARKED


def test_a_write_cannot_opt_out_of_its_transaction() -> None:
    with pytest.raises(TypeError, match="autocommit_read"):
        tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, autocommit_read=True)


def test_an_opted_in_read_runs_without_a_block_and_any_other_inside_one(pg_deps: Deps) -> None:
    with pg_deps.session_factory.begin() as session:
        campus = create_org(session)
    registrar = Principal(
        user_id=uuid.uuid4(),
        email="reads@test.example",
        display_name="Reads",
        kind=PrincipalKind.USER,
        grants=(Grant("registrar", campus.id, campus.path),),
    )
    autocommit: dict[str, set[bool]] = {}
    engine = pg_deps.session_factory.kw["bind"]

    for name in ("query_roster", "search_students"):

        def record(_conn: Any, cursor: Any, *_: Any, name: str = name) -> None:
            autocommit.setdefault(name, set()).add(cursor.connection.autocommit)

        event.listen(engine, "before_cursor_execute", record)
        try:
            run_tool(pg_deps, registrar, name, {})
        finally:
            event.remove(engine, "before_cursor_execute", record)

    assert autocommit == {"query_roster": {True}, "search_students": {False}}
