"""Fixtures: every database test runs on a real SQLite file and a real PostgreSQL server.

The schema always comes from the Alembic migrations. The suite runs in parallel (pytest-xdist):
each worker has databases of its own, cloned from templates built once per run (migrated, and
for the demo data set seeded): on PostgreSQL `CREATE DATABASE ... TEMPLATE`, on SQLite a copy
of the file. Each test runs inside a transaction that is rolled back (services flush, never commit).
Set SIS_TEST_POSTGRES_URL to use an existing server; otherwise a throwaway cluster is started
(initdb/pg_ctl in a temp dir on a free loopback port). Under CI a missing PostgreSQL is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from db.engine import deferred_begin, make_engine
from db.migrate import upgrade
from tests import pg_cluster

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server URL: from SIS_TEST_POSTGRES_URL, or a throwaway cluster for this run."""
    url = os.environ.get("SIS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if not pg_cluster.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) are required in CI")
        pytest.skip("PostgreSQL binaries not found; set SIS_TEST_POSTGRES_URL to run the PostgreSQL half")
    cluster = pg_cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


# One id per run, shared by its workers: names the template databases of this run.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:12]


def _fresh_postgres_database(server_url: str, name: str, *, template: str | None = None) -> str:
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def _run_dir(tmp: pytest.TempPathFactory) -> Path:
    """A directory every worker of this run shares (xdist gives each worker a basetemp inside it)."""
    base = tmp.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _build(eng: Engine, demo: bool) -> None:
    upgrade(eng)
    if demo:
        from db.demo.calendar import DEMO_TODAY
        from db.demo.seed import seed_demo

        seed_demo(eng, seed=7, today=DEMO_TODAY)
    eng.dispose()


def fresh_database(
    kind: str, request: pytest.FixtureRequest, tmp: pytest.TempPathFactory, tag: str, *, demo: bool = False
) -> Engine:
    """A database of this worker's own, migrated and (with `demo`) holding the demo data set (seed 7).

    The first worker to ask builds the template under a file lock; the others wait for it, then
    each clones it, which is what makes a second worker cheap.
    """
    flavour = "demo" if demo else "empty"
    shared = _run_dir(tmp)
    # Named by the run as well: a temp directory another run left behind must not vouch for this run's templates.
    with FileLock(str(shared / f"template-{kind}-{flavour}-{RUN_ID}.lock")):
        built = shared / f"template-{kind}-{flavour}-{RUN_ID}.built"
        if kind == "sqlite":
            template = shared / f"template-{flavour}-{RUN_ID}.db"
            if not built.exists():
                _build(make_engine(f"sqlite:///{template}"), demo)
                built.touch()
            target = tmp.mktemp(tag) / "sis-test.db"
            shutil.copyfile(template, target)
            return make_engine(f"sqlite:///{target}")
        server = request.getfixturevalue("postgres_server_url")
        template_name = f"sis_tpl_{flavour}_{RUN_ID}"
        if not built.exists():
            _build(make_engine(_fresh_postgres_database(server, template_name)), demo)
            built.touch()
        # One database per test process, so concurrent runs against one server do not collide.
        return make_engine(_fresh_postgres_database(server, f"sis_{tag}_{os.getpid()}", template=template_name))


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated, empty database on each engine; tests build what they need with tests/factories.py."""
    eng = fresh_database(request.param, request, tmp_path_factory, "empty")
    yield eng
    eng.dispose()


@pytest.fixture(scope="session", params=ENGINES)
def demo_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database holding the deterministic demo data set (personas), on each engine."""
    eng = fresh_database(request.param, request, tmp_path_factory, "demo", demo=True)
    yield eng
    eng.dispose()


def _rolled_back_session(eng: Engine) -> Iterator[Session]:
    with eng.connect() as conn:
        trans = deferred_begin(conn).begin()
        sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield sess
        finally:
            sess.close()
            if trans.is_active:
                trans.rollback()


@pytest.fixture()
def session(engine: Engine) -> Iterator[Session]:
    """A session on the empty database whose writes are rolled back after the test."""
    yield from _rolled_back_session(engine)


@pytest.fixture()
def demo_session(demo_engine: Engine) -> Iterator[Session]:
    """A session on the demo database whose writes are rolled back after the test."""
    yield from _rolled_back_session(demo_engine)


@pytest.fixture()
def demo_deps(demo_engine: Engine) -> Iterator[object]:
    """Runner dependencies on the demo database; everything the calls commit is rolled back afterwards."""
    from sqlalchemy.orm import sessionmaker

    from db.demo.calendar import DEMO_TODAY
    from tools.runner import Deps

    with demo_engine.connect() as conn:
        trans = deferred_begin(conn).begin()
        factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield Deps(session_factory=factory, clock=lambda: DEMO_TODAY)
        finally:
            if trans.is_active:
                trans.rollback()


@pytest.fixture()
def persona(demo_deps: object) -> object:
    """persona("registrar_austin") -> that demo user's Principal (see tests/personas.py)."""
    from policies.principal import load_principal
    from tests.personas import email_of

    def load(name: str) -> object:
        with demo_deps.session_factory() as session:  # type: ignore[attr-defined]
            return load_principal(session, email=email_of(name))

    return load


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"
