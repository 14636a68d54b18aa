"""A demo database with billing seeded, once per engine for the module; each test's writes are rolled back."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.demo.billing_seed import seed_billing
from db.demo.calendar import DEMO_TODAY
from mcp_server.demo import DemoPricing
from policies.principal import Principal, load_principal
from tests.conftest import ENGINES, fresh_database
from tests.personas import email_of
from tools.runner import Deps


@pytest.fixture(scope="module", params=ENGINES)
def billing_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Migrated, demo-seeded and billing-seeded (committed) database on each engine."""
    engine = fresh_database(request.param, request, tmp_path_factory, "billing", demo=True)
    with Session(engine) as session, session.begin():
        seed_billing(session, rng=random.Random(7), today=DEMO_TODAY, pricing=DemoPricing())
    yield engine
    engine.dispose()


@pytest.fixture()
def billing_deps(billing_engine: Engine) -> Iterator[Deps]:
    """Runner dependencies whose committed calls are savepoints of one transaction rolled back after the test."""
    with billing_engine.connect() as connection:
        transaction = connection.begin()
        # pysqlite opens its transaction lazily, at the first write: without one, a tool call's savepoint
        # would be the outermost transaction and releasing it would commit for every later test.
        connection.exec_driver_sql("UPDATE number_sequence SET next_value = next_value WHERE 1 = 0")
        factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield Deps(session_factory=factory, clock=lambda: DEMO_TODAY)
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture()
def who(billing_deps: Deps) -> Callable[[str], Principal]:
    """who("finance_academy") -> that demo persona's Principal."""

    def load(name: str) -> Principal:
        with billing_deps.session_factory() as session:
            return load_principal(session, email=email_of(name))

    return load
