"""Multi-row billing writes keep their audit: every row a write creates or changes has its change events.

Each test snapshots every billing row, runs one write, and checks that each created row has an
event for every field it set, and each changed row an event for every field that changed, all
in the same transaction (the events' seq is after the snapshot's).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    BillingAgreement,
    BillingCustomer,
    ChangeEvent,
    DiscountDefinition,
    DiscountGrant,
    Enrollment,
    EnrollmentStatus,
    FeeDefinition,
    GatewayEvent,
    Installment,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
    PaymentMethod,
    PaymentPlan,
    RefundRule,
)
from domain.billing import agreements, charges, gateway_events, ledger, withdrawal
from domain.billing.gateway import ChargeStatus, WebhookEvent
from domain.billing.schemas import (
    ApplyDiscountInput,
    ChargeInstallmentInput,
    RecordPaymentInput,
    RefundPaymentInput,
    SetPaymentPlanInput,
)
from tests.integration.billing.support import TODAY, FakeGateway, World, family, student_in

AUDITED = (
    BillingAgreement,
    Installment,
    LedgerEntry,
    PaymentAttempt,
    BillingCustomer,
    DiscountGrant,
    GatewayEvent,
    FeeDefinition,
    DiscountDefinition,
    PaymentPlan,
    RefundRule,
)
_SKIPPED = {"id", "created_at", "updated_at", "recorded_at", "received_at"}


def _value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


@dataclass
class Snapshot:
    seq: int
    rows: dict[tuple[str, str], dict[str, Any]]


def snapshot(session: Session) -> Snapshot:
    session.flush()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for model in AUDITED:
        table = model.__table__
        key = "id" if "id" in table.c else "event_id"
        for row in session.execute(select(*table.c)).mappings():
            rows[(table.name, str(row[key]))] = {c: _value(v) for c, v in row.items() if c not in _SKIPPED}
    return Snapshot(session.execute(select(func.coalesce(func.max(ChangeEvent.seq), 0))).scalar_one(), rows)


def unaudited(session: Session, before: Snapshot) -> tuple[list[str], Counter[str]]:
    """(rows or fields written without their change event, created rows by table)."""
    after = snapshot(session)
    events = {
        (e.entity_type, e.entity_id, e.field)
        for e in session.execute(select(ChangeEvent).where(ChangeEvent.seq > before.seq)).scalars()
    }
    missing: list[str] = []
    created: Counter[str] = Counter()
    for (table, row_id), values in after.rows.items():
        old = before.rows.get((table, row_id))
        if old is None:
            created[table] += 1
            fields = {c for c, v in values.items() if v is not None}
        else:
            fields = {c for c, v in values.items() if old.get(c) != v}
        missing += [f"{table} {row_id} {f}" for f in sorted(fields) if (table, row_id, f) not in events]
    return missing, created


def _plan(session: Session, world: World, enrollment_id: uuid.UUID, code: str = "monthly") -> None:
    agreements.set_payment_plan(
        session, world.scope(), SetPaymentPlanInput(enrollment_id=enrollment_id, plan_code=code), today=TODAY
    )


def _billed(session: Session, world: World, code: str = "monthly") -> tuple[Enrollment, uuid.UUID]:
    student, stint = student_in(session, world)
    household = family(session, world, student)
    _plan(session, world, stint.id, code)
    return stint, household.id


def test_set_payment_plan_records_every_installment_and_every_ledger_entry(session, world):
    student, stint = student_in(session, world)
    family(session, world, student)
    before = snapshot(session)

    _plan(session, world, stint.id, "monthly")

    missing, created = unaudited(session, before)
    assert missing == []
    assert created["installment"] == 10 and created["ledger_entry"] >= 10 and created["billing_agreement"] == 1


def test_repricing_records_the_cancelled_schedule_and_the_new_one(session, world):
    stint, _ = _billed(session, world, "monthly")
    before = snapshot(session)

    _plan(session, world, stint.id, "semester")

    missing, created = unaudited(session, before)
    assert missing == []
    assert created["installment"] == 2 and created["ledger_entry"] >= 10  # ten cancellations and two charges


def test_apply_discount_records_the_grant_and_the_repriced_rows(session, world):
    _, household_id = _billed(session, world)
    before = snapshot(session)

    agreements.apply_discount(
        session,
        world.scope(),
        ApplyDiscountInput(household_id=household_id, discount_code="founding_family", reason="founding"),
        today=TODAY,
    )

    missing, created = unaudited(session, before)
    assert missing == []
    assert created["discount_grant"] == 1 and created["installment"] == 10


def test_record_payment_records_the_payment_and_the_installments_it_paid(session, world):
    _, household_id = _billed(session, world, "semester")
    before = snapshot(session)

    ledger.record_payment(
        session,
        world.scope(),
        RecordPaymentInput(household_id=household_id, amount_cents=5_000_000, method=PaymentMethod.CHECK),
        today=TODAY,
    )

    missing, created = unaudited(session, before)
    assert missing == []
    assert created["ledger_entry"] == 1


def _first_installment(session: Session, household_id: uuid.UUID) -> Installment:
    return session.execute(
        select(Installment).where(Installment.household_id == household_id).order_by(Installment.seq).limit(1)
    ).scalar_one()


def test_charge_installment_records_the_attempt_the_installment_the_customer_and_the_payment(session, world):
    _, household_id = _billed(session, world)
    first = _first_installment(session, household_id)
    before = snapshot(session)

    charges.charge_installment(
        session,
        world.scope(),
        ChargeInstallmentInput(installment_id=first.id, payment_method_ref="pm_ok"),
        today=TODAY,
        gateway=FakeGateway(),
    )

    missing, created = unaudited(session, before)
    assert missing == []
    assert created["payment_attempt"] == 1 and created["billing_customer"] == 1 and created["ledger_entry"] == 1


def test_a_declined_charge_records_the_failed_attempt_and_installment(session, world):
    _, household_id = _billed(session, world)
    first = _first_installment(session, household_id)
    before = snapshot(session)

    charges.charge_installment(
        session,
        world.scope(),
        ChargeInstallmentInput(installment_id=first.id, payment_method_ref="pm_ok"),
        today=TODAY,
        gateway=FakeGateway(outcomes=[ChargeStatus.FAILED]),
    )

    missing, created = unaudited(session, before)
    assert missing == [] and created["payment_attempt"] == 1


def _payment_id(session: Session, household_id: uuid.UUID) -> uuid.UUID:
    return session.execute(
        select(LedgerEntry.id).where(LedgerEntry.household_id == household_id, LedgerEntry.kind == LedgerKind.PAYMENT)
    ).scalar_one()


def test_a_manual_refund_records_its_ledger_entry(session, world):
    _, household_id = _billed(session, world, "annual")
    ledger.record_payment(
        session,
        world.scope(),
        RecordPaymentInput(household_id=household_id, amount_cents=100_000, method=PaymentMethod.CHECK),
        today=TODAY,
    )
    before = snapshot(session)

    charges.refund_payment(
        session,
        world.scope(),
        RefundPaymentInput(payment_id=_payment_id(session, household_id), amount_cents=40_000, reason="overpaid"),
        today=TODAY,
        gateway=None,
    )

    missing, created = unaudited(session, before)
    assert missing == [] and created["ledger_entry"] == 1


def test_a_card_refund_records_its_ledger_entry_with_the_gateway_reference(session, world):
    _, household_id = _billed(session, world)
    gateway = FakeGateway()
    charges.charge_installment(
        session,
        world.scope(),
        ChargeInstallmentInput(installment_id=_first_installment(session, household_id).id, payment_method_ref="pm"),
        today=TODAY,
        gateway=gateway,
    )
    before = snapshot(session)

    charges.refund_payment(
        session,
        world.scope(),
        RefundPaymentInput(payment_id=_payment_id(session, household_id), amount_cents=1_000, reason="goodwill"),
        today=TODAY,
        gateway=gateway,
    )

    missing, created = unaudited(session, before)
    assert missing == [] and created["ledger_entry"] == 1


def test_a_withdrawal_records_cancelled_installments_credits_and_the_agreement(session, world):
    stint, _ = _billed(session, world)
    before = snapshot(session)
    stint.status = EnrollmentStatus.WITHDRAWN
    stint.end_on = dt.date(2026, 12, 15)
    session.flush()

    withdrawal.on_enrollment_ended(session, world.scope(), stint)

    missing, created = unaudited(session, before)
    assert missing == []
    assert created["ledger_entry"] >= 5  # one cancellation per later installment


def test_gateway_events_record_the_payment_the_refund_and_the_applied_event(session, world):
    _, household_id = _billed(session, world)
    gateway = FakeGateway(outcomes=[ChargeStatus.PROCESSING])
    first = _first_installment(session, household_id)
    pending = charges.charge_installment(
        session,
        world.scope(),
        ChargeInstallmentInput(installment_id=first.id, payment_method_ref="pm_ok"),
        today=TODAY,
        gateway=gateway,
    )
    before = snapshot(session)

    for event in (
        WebhookEvent("evt_ok", "payment_intent.succeeded", pending.gateway_ref, amount_cents=first.amount_cents),
        WebhookEvent(
            "evt_re", "charge.refunded", pending.gateway_ref, amount_cents=first.amount_cents, amount_refunded_cents=9
        ),
        WebhookEvent("evt_other", "customer.created", None),
    ):
        gateway_events.apply_gateway_event(session, event, today=TODAY)

    missing, created = unaudited(session, before)
    assert missing == []
    assert created["gateway_event"] == 3 and created["ledger_entry"] == 2
