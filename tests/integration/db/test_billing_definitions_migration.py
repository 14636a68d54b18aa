"""Migration 0012 keeps existing billing rules valid: they become version 1, in force for every agreement date."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from db.base import UTCDateTime
from db.engine import make_engine
from db.migrate import upgrade
from tests.conftest import ENGINES, _fresh_postgres_database

NOW = dt.datetime(2026, 1, 5, 16, tzinfo=dt.UTC)


@pytest.fixture(params=ENGINES)
def at_0006(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    name = f"sis_mig0012_{uuid.uuid4().hex[:8]}"
    server = request.getfixturevalue("postgres_server_url") if request.param == "postgresql" else None
    if server is None:
        engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        engine = make_engine(_fresh_postgres_database(server, name))
    upgrade(engine, "0006")
    yield engine
    engine.dispose()
    if server is not None:
        admin = make_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _type(value: Any) -> sa.types.TypeEngine[Any]:
    if isinstance(value, uuid.UUID):
        return sa.Uuid()
    if isinstance(value, dt.datetime):
        return UTCDateTime(timezone=True)
    if isinstance(value, dt.date):
        return sa.Date()
    if isinstance(value, list):
        return sa.JSON()
    return sa.types.NullType()


def insert(conn: sa.Connection, table: str, **values: Any) -> None:
    values = {"created_at": NOW, "updated_at": NOW, **values}
    stmt = sa.text(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(':' + k for k in values)})")
    typed = [sa.bindparam(k, type_=_type(v)) for k, v in values.items() if not isinstance(_type(v), sa.types.NullType)]
    conn.execute(stmt.bindparams(*typed), values)


def test_existing_rules_become_version_one_and_keep_their_targets(at_0006):
    org, program, offering, fee, rule, plan = (uuid.uuid4() for _ in range(6))
    with at_0006.begin() as conn:
        insert(
            conn,
            "organization",
            id=org,
            slug="net",
            name="Net",
            level="network",
            kind="FULL_SIS",
            path="/net/",
            timezone="America/Chicago",
            is_active=True,
        )
        insert(conn, "program", id=program, org_id=org, code="reg", name="Regular", kind="regular_year")
        insert(
            conn,
            "program_offering",
            id=offering,
            program_id=program,
            org_id=org,
            name="Regular 2026-27",
            session_label="2026-27",
            start_on=dt.date(2026, 8, 17),
            end_on=dt.date(2027, 5, 28),
            status="open",
            tuition_cents=100,
            grade_min=0,
            grade_max=12,
        )
        insert(
            conn,
            "fee_definition",
            id=fee,
            org_id=org,
            offering_id=offering,
            code="deposit",
            name="Deposit",
            kind="deposit",
            amount_cents=500,
            timing="upfront",
            prorated=False,
            refundable=False,
            is_active=True,
        )
        insert(
            conn,
            "refund_rule",
            id=rule,
            org_id=org,
            offering_id=None,
            code="standard",
            name="Standard",
            tiers=[{"within_days": None, "refund_bp": 5000}],
        )
        insert(
            conn,
            "payment_plan",
            id=plan,
            org_id=org,
            code="annual",
            name="Annual",
            installment_count=1,
            due_month_offsets=[0],
            due_day=1,
            is_active=True,
        )

    upgrade(at_0006)

    uid = sa.bindparam("id", type_=sa.Uuid())
    with at_0006.connect() as conn:
        fee_row = conn.execute(
            sa.text("SELECT version, effective_from, applies_to_id, program_id FROM fee_definition WHERE id = :id")
            .bindparams(uid)
            .columns(effective_from=sa.Date(), applies_to_id=sa.Uuid()),
            {"id": fee},
        ).one()
        rule_row = conn.execute(
            sa.text("SELECT version, applies_to_id, is_active FROM refund_rule WHERE id = :id")
            .bindparams(uid)
            .columns(applies_to_id=sa.Uuid()),
            {"id": rule},
        ).one()
        plan_row = conn.execute(
            sa.text("SELECT version, installment_fee_cents FROM payment_plan WHERE id = :id").bindparams(uid),
            {"id": plan},
        ).one()
    assert (fee_row.version, fee_row.effective_from, fee_row.applies_to_id, fee_row.program_id) == (
        1,
        dt.date(2000, 1, 1),
        offering,
        None,
    )
    assert (rule_row.version, rule_row.applies_to_id, bool(rule_row.is_active)) == (1, org, True)
    assert (plan_row.version, plan_row.installment_fee_cents) == (1, 0)
