"""Billing services on both engines: prices, plans, ledgers, balances, scope, gateway charges and refunds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    ChangeEvent,
    DomainEvent,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    LedgerKind,
    PaymentMethod,
)
from domain.billing import agreements, charges, gateway_events, ledger, previews
from domain.billing.errors import (
    BillingInProgress,
    GatewayUnavailable,
    InstallmentNotChargeable,
    OnlineChargingDisabled,
    PaymentMethodMissing,
    RefundExceedsPayment,
)
from domain.billing.gateway import ChargeStatus, WebhookEvent
from domain.billing.schemas import (
    ApplyDiscountInput,
    BalanceInput,
    ChargeInstallmentInput,
    OutstandingBalancesQuery,
    PreviewTuitionInput,
    RecordPaymentInput,
    RefundPaymentInput,
    SetPaymentPlanInput,
)
from domain.errors import DuplicateRecord, NotApplicable, NotFound, PermissionDenied
from policies.scope import Action
from tests.factories import create_household
from tests.integration.billing.support import (
    TODAY,
    FakeGateway,
    World,
    agreement_of,
    family,
    grant,
    student_in,
    unavailable,
)


def plan(session: Session, world: World, enrollment_id, code: str = "monthly"):
    return agreements.set_payment_plan(
        session, world.scope(), SetPaymentPlanInput(enrollment_id=enrollment_id, plan_code=code), today=TODAY
    )


def balance(session: Session, world: World, household_id, as_of: dt.date = TODAY):
    return ledger.compute_balance(
        session, world.scope(), BalanceInput(household_id=household_id, as_of=as_of), today=TODAY
    ).households[0]


def pay(session: Session, world: World, household_id, amount: int, **kw):
    return ledger.record_payment(
        session,
        world.scope(),
        RecordPaymentInput(household_id=household_id, amount_cents=amount, method=PaymentMethod.CHECK, **kw),
        today=TODAY,
    )


def installments(session: Session, household_id) -> list[Installment]:
    return list(
        session.execute(
            select(Installment)
            .where(Installment.household_id == household_id, Installment.status != InstallmentStatus.CANCELLED)
            .order_by(Installment.due_on, Installment.seq)
        ).scalars()
    )


# -- prices ---------------------------------------------------------------------------------------


def test_the_second_child_of_a_household_gets_the_sibling_discount(session, world):
    older, older_stint = student_in(session, world, birth_on=dt.date(2014, 3, 1))
    younger, younger_stint = student_in(session, world, birth_on=dt.date(2017, 3, 1))
    family(session, world, older, younger)

    first = previews.preview_tuition(
        session, world.scope(), PreviewTuitionInput(enrollment_id=older_stint.id), today=TODAY
    )
    second = previews.preview_tuition(
        session, world.scope(), PreviewTuitionInput(enrollment_id=younger_stint.id), today=TODAY
    )

    assert "sibling" not in {line.code for line in first.lines}
    assert [line.code for line in second.lines if line.kind == "discount"] == ["sibling"]
    assert second.source == "what_if" and second.plan_code == "annual"


def test_a_what_if_for_a_third_child_counts_the_enrolled_siblings(session, world):
    a, _ = student_in(session, world)
    b, _ = student_in(session, world)
    household = family(session, world, a, b)

    preview = previews.preview_tuition(
        session,
        world.scope(),
        PreviewTuitionInput(offering_id=world.offering.id, household_id=household.id, plan_code="semester"),
        today=TODAY,
    )

    assert [line.code for line in preview.lines if line.kind == "discount"] == ["sibling"]
    assert len(preview.installments) == 2
    assert preview.households[0].household_id == household.id


def test_named_discounts_replace_eligibility_in_a_what_if(session, world):
    preview = previews.preview_tuition(
        session,
        world.scope(),
        PreviewTuitionInput(
            offering_id=world.offering.id,
            start_on=world.offering.start_on,
            discount_codes=["founding_family", "subsidy_half"],
        ),
        today=TODAY,
    )

    discounts = [(line.code, line.basis_cents, line.amount_cents) for line in preview.lines if line.kind == "discount"]
    assert discounts == [("founding_family", 4_000_000, 200_000), ("subsidy_half", 3_800_000, 1_500_000)]
    with pytest.raises(NotFound, match="founding_family"):
        previews.preview_tuition(
            session,
            world.scope(),
            PreviewTuitionInput(offering_id=world.offering.id, discount_codes=["no_such_thing"]),
            today=TODAY,
        )


def test_billing_does_not_apply_at_a_roster_only_school(session, world):
    student, stint = student_in(session, world, world.roster_offering)
    create_household(session, world.roster_campus, {student: 10_000})
    admin = world.scope()
    # An admin scope that reaches the roster-only school for directory data still gets no billing there.
    from policies.scope import Actor, scope_for_orgs

    everywhere = scope_for_orgs(
        Actor(user_id=None, label="admin"), [world.roster_campus.id, *admin.orgs(admin_class())]
    )

    with pytest.raises(NotApplicable, match="roster-only"):
        previews.preview_tuition(
            session, everywhere, PreviewTuitionInput(offering_id=world.roster_offering.id), today=TODAY
        )
    with pytest.raises(NotApplicable):
        agreements.set_payment_plan(
            session, everywhere, SetPaymentPlanInput(enrollment_id=stint.id, plan_code="annual"), today=TODAY
        )
    with pytest.raises(NotApplicable):
        ledger.list_outstanding_balances(
            session, everywhere, OutstandingBalancesQuery(org_id=world.roster_campus.id), today=TODAY
        )


def admin_class():
    from policies.scope import DataClass

    return DataClass.FINANCIAL


# -- plans and ledgers ------------------------------------------------------------------------------


def test_setting_a_plan_schedules_installments_that_the_preview_then_shows_exactly(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)

    agreement = plan(session, world, stint.id, "monthly")
    preview = previews.preview_tuition(session, world.scope(), PreviewTuitionInput(enrollment_id=stint.id), today=TODAY)

    assert preview.source == "agreement" and preview.agreement_id == agreement.agreement_id
    stored = [(i.seq, i.due_on, i.amount_cents) for i in installments(session, household.id)]
    shown = [(i.seq, i.due_on, i.amount_cents) for i in preview.households[0].installments]
    assert stored == shown and len(stored) == 10
    assert sum(a for _, _, a in stored) == preview.total_cents == 4_000_000 + 50_000 + 95_000


def test_the_balance_counts_installments_due_by_the_day_and_payments_received(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    first, second, third, fourth, *_ = installments(session, household.id)

    pay(session, world, household.id, first.amount_cents + second.amount_cents)
    now = balance(session, world, household.id)

    assert now.balance_cents == third.amount_cents + fourth.amount_cents
    assert now.overdue_cents == third.amount_cents + fourth.amount_cents
    assert now.oldest_overdue_on == third.due_on
    assert now.next_due_on == dt.date(2026, 12, 1)
    assert now.charges_cents - now.discounts_cents - now.payments_cents == now.balance_cents
    assert [i.status for i in installments(session, household.id)][:3] == [
        InstallmentStatus.PAID,
        InstallmentStatus.PAID,
        InstallmentStatus.SCHEDULED,
    ]
    assert balance(session, world, household.id, as_of=dt.date(2027, 6, 1)).balance_cents == sum(
        i.amount_cents for i in installments(session, household.id)
    ) - (first.amount_cents + second.amount_cents)


def test_an_installment_due_today_is_owed_but_not_overdue(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    first = installments(session, household.id)[0]

    on_the_day = balance(session, world, household.id, as_of=first.due_on)

    assert on_the_day.balance_cents == first.amount_cents
    assert on_the_day.overdue_cents == 0


def test_a_plan_cannot_change_once_an_installment_is_paid(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    plan(session, world, stint.id, "semester")  # nothing paid yet: re-planned
    assert len(installments(session, household.id)) == 2

    pay(session, world, household.id, installments(session, household.id)[0].amount_cents)

    with pytest.raises(BillingInProgress):
        plan(session, world, stint.id, "annual")
    assert balance(session, world, household.id, as_of=dt.date(2027, 6, 1)).balance_cents == (
        installments(session, household.id)[1].amount_cents
    )


def test_a_granted_discount_reprices_an_agreement_not_yet_billing(session, world):
    a, a_stint = student_in(session, world)
    b, b_stint = student_in(session, world)
    household = family(session, world, a, b)
    plan(session, world, a_stint.id, "monthly")
    plan(session, world, b_stint.id, "monthly")
    b_first = next(
        i for i in installments(session, household.id) if i.agreement_id == agreement_of(session, b_stint).id
    )
    pay(session, world, household.id, 1, installment_id=b_first.id)  # b's billing has begun
    before = agreement_of(session, a_stint).total_cents

    result = agreements.apply_discount(
        session,
        world.scope(),
        ApplyDiscountInput(household_id=household.id, discount_code="founding_family", reason="board decision"),
        today=TODAY,
    )

    assert result.repriced_agreement_ids == [agreement_of(session, a_stint).id]
    assert result.unchanged_agreement_ids == [agreement_of(session, b_stint).id]
    assert agreement_of(session, a_stint).total_cents == before - 200_000


def test_sibling_discounts_are_automatic_and_cannot_be_granted(session, world):
    a, _ = student_in(session, world)
    household = family(session, world, a)

    with pytest.raises(Exception, match="automatically"):
        agreements.apply_discount(
            session,
            world.scope(),
            ApplyDiscountInput(household_id=household.id, discount_code="sibling", reason="asked"),
            today=TODAY,
        )


def test_writes_record_change_events_and_payments_emit_no_gateway_event(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    before = session.execute(select(func.count()).select_from(ChangeEvent)).scalar_one()

    plan(session, world, stint.id, "semester")
    payment = pay(session, world, household.id, 10_000, reference="CHK 1")

    entity_types = set(
        session.execute(select(ChangeEvent.entity_type).where(ChangeEvent.seq > before)).scalars()  # type: ignore[operator]
    )
    assert {"billing_agreement", "installment", "ledger_entry"} <= entity_types
    assert (
        session.execute(
            select(ChangeEvent.new_value).where(
                ChangeEvent.entity_id == str(payment.payment_id), ChangeEvent.field == "reference"
            )
        ).scalar_one()
        == "CHK 1"
    )


# -- scope ----------------------------------------------------------------------------------------


def test_another_campus_finance_sees_the_household_as_not_found(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id)

    with pytest.raises(NotFound):
        ledger.compute_balance(session, world.campus_scope(), BalanceInput(household_id=household.id), today=TODAY)
    page = ledger.list_outstanding_balances(session, world.campus_scope(), OutstandingBalancesQuery(), today=TODAY)
    assert household.id not in {i.household_id for i in page.items}


def test_read_only_financial_access_cannot_record_a_payment(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id)

    with pytest.raises(PermissionDenied):
        ledger.record_payment(
            session,
            world.scope(actions=(Action.READ,)),
            RecordPaymentInput(household_id=household.id, amount_cents=100, method=PaymentMethod.CASH),
            today=TODAY,
        )
    assert (
        ledger.compute_balance(
            session, world.scope(actions=(Action.READ,)), BalanceInput(household_id=household.id), today=TODAY
        ).balance_cents
        > 0
    )


# -- outstanding balances -------------------------------------------------------------------------


def test_outstanding_balances_are_strictly_over_the_threshold_in_cents_or_dollars(session, world):
    owing = {}
    for amount_paid in (0, None):
        student, stint = student_in(session, world)
        household = family(session, world, student)
        plan(session, world, stint.id, "monthly")
        due = sum(i.amount_cents for i in installments(session, household.id) if i.due_on <= TODAY)
        if amount_paid is None:
            pay(session, world, household.id, due - 100_000)  # leaves exactly $1,000.00
        owing[household.id] = due if amount_paid == 0 else 100_000

    by_cents = ledger.list_outstanding_balances(
        session, world.scope(), OutstandingBalancesQuery(over_cents=100_000), today=TODAY
    )
    by_dollars = ledger.list_outstanding_balances(
        session, world.scope(), OutstandingBalancesQuery(over_dollars=Decimal("999.99")), today=TODAY
    )

    over = {h for h, owed in owing.items() if owed > 100_000}
    assert {i.household_id for i in by_cents.items} == over
    assert {i.household_id for i in by_dollars.items} == set(owing)
    assert by_cents.over_cents == 100_000 and by_dollars.over_cents == 99_999
    assert by_cents.total_balance_cents == sum(owing[h] for h in over)


def test_overdue_only_leaves_out_households_whose_balance_is_due_today(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    on_time = sum(i.amount_cents for i in installments(session, household.id) if i.due_on < dt.date(2026, 11, 1))
    pay(session, world, household.id, on_time, paid_on=dt.date(2026, 10, 15))

    on_due_day = OutstandingBalancesQuery(as_of=dt.date(2026, 11, 1))
    assert household.id in {
        i.household_id for i in ledger.list_outstanding_balances(session, world.scope(), on_due_day, today=TODAY).items
    }
    overdue = OutstandingBalancesQuery(as_of=dt.date(2026, 11, 1), overdue_only=True)
    assert household.id not in {
        i.household_id for i in ledger.list_outstanding_balances(session, world.scope(), overdue, today=TODAY).items
    }


# -- gateway charges ------------------------------------------------------------------------------


def test_without_a_gateway_online_charging_is_disabled_with_a_clear_message(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id)

    with pytest.raises(OnlineChargingDisabled, match="STRIPE_API_KEY"):
        charges.charge_installment(
            session,
            world.scope(),
            ChargeInstallmentInput(installment_id=installments(session, household.id)[0].id),
            today=TODAY,
            gateway=None,
        )


def test_a_charge_sends_the_installment_amount_once_and_a_retry_replays_it(session, world, gateway: FakeGateway):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    first = installments(session, household.id)[0]
    request = ChargeInstallmentInput(installment_id=first.id, payment_method_ref="pm_card_visa")

    charged = charges.charge_installment(session, world.scope(), request, today=TODAY, gateway=gateway)
    again = charges.charge_installment(session, world.scope(), request, today=TODAY, gateway=gateway)

    assert [c.amount_cents for c in gateway.charges] == [first.amount_cents] == [459_500]
    assert charged.status == "succeeded" and not charged.replayed
    assert again.replayed and again.payment_id == charged.payment_id
    assert charged.idempotency_key.endswith("-1")
    payments = (
        session.execute(
            select(LedgerEntry).where(LedgerEntry.household_id == household.id, LedgerEntry.kind == LedgerKind.PAYMENT)
        )
        .scalars()
        .all()
    )
    assert [p.amount_cents for p in payments] == [-first.amount_cents]
    assert first.status is InstallmentStatus.PAID
    events = session.execute(select(DomainEvent.event_type).where(DomainEvent.event_type.like("payment.%"))).scalars()
    assert list(events) == ["payment.succeeded"]


def test_a_decline_is_recorded_and_the_next_attempt_uses_a_new_key(session, world, gateway: FakeGateway):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    first = installments(session, household.id)[0]
    gateway.outcomes = [ChargeStatus.FAILED, ChargeStatus.SUCCEEDED]
    request = ChargeInstallmentInput(installment_id=first.id, payment_method_ref="pm_card_chargeDeclined")

    declined = charges.charge_installment(session, world.scope(), request, today=TODAY, gateway=gateway)
    assert declined.status == "failed" and declined.failure_message == "Your card was declined."
    assert first.status is InstallmentStatus.FAILED
    assert balance(session, world, household.id).balance_cents > 0

    paid = charges.charge_installment(session, world.scope(), request, today=TODAY, gateway=gateway)
    assert paid.status == "succeeded" and paid.attempt_no == 2
    assert gateway.charges[0].idempotency_key != gateway.charges[1].idempotency_key


def test_a_charge_that_fails_in_flight_is_retried_with_the_same_idempotency_key(session, world, gateway: FakeGateway):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    first = installments(session, household.id)[0]
    gateway.outcomes = [unavailable(), ChargeStatus.SUCCEEDED]
    request = ChargeInstallmentInput(installment_id=first.id, payment_method_ref="pm_card_visa")

    savepoint = session.begin_nested()
    with pytest.raises(GatewayUnavailable):
        charges.charge_installment(session, world.scope(), request, today=TODAY, gateway=gateway)
    savepoint.rollback()  # what the runner does with a failed call
    charges.charge_installment(session, world.scope(), request, today=TODAY, gateway=gateway)

    assert gateway.charges[0].idempotency_key == gateway.charges[1].idempotency_key


def test_a_paid_or_cancelled_installment_is_not_charged(session, world, gateway: FakeGateway):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    first = installments(session, household.id)[0]
    pay(session, world, household.id, first.amount_cents, installment_id=first.id)

    with pytest.raises(InstallmentNotChargeable, match="already paid"):
        charges.charge_installment(
            session,
            world.scope(),
            ChargeInstallmentInput(installment_id=first.id, payment_method_ref="pm_x"),
            today=TODAY,
            gateway=gateway,
        )
    with pytest.raises(PaymentMethodMissing):
        charges.charge_installment(
            session,
            world.scope(),
            ChargeInstallmentInput(installment_id=installments(session, household.id)[1].id),
            today=TODAY,
            gateway=gateway,
        )
    assert gateway.charges == []


@given(
    tuition=st.integers(0, 5_000_000),
    share=st.integers(1, 9_999),
    plan_code=st.sampled_from(["annual", "semester", "monthly"]),
    codes=st.sets(st.sampled_from(["founding_family", "parent_advocate_1", "subsidy_quarter", "subsidy_half"])),
    late_days=st.integers(0, 200),
)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_what_charge_installment_sends_equals_the_preview_to_the_cent(
    session, world, gateway: FakeGateway, tuition, share, plan_code, codes, late_days
):
    savepoint = session.begin_nested()
    try:
        world.offering.tuition_cents = tuition
        student, stint = student_in(session, world, start_on=world.offering.start_on + dt.timedelta(days=late_days))
        a = family(session, world, student, share=share)
        b = create_household(session, world.campus, {student: 10_000 - share})
        for code in sorted(codes):
            grant(session, a, code)
        plan(session, world, stint.id, plan_code)
        preview = previews.preview_tuition(
            session, world.scope(), PreviewTuitionInput(enrollment_id=stint.id), today=TODAY
        )
        gateway.charges.clear()

        for household in (a, b):
            for inst in installments(session, household.id):
                if inst.amount_cents:
                    charges.charge_installment(
                        session,
                        world.scope(),
                        ChargeInstallmentInput(installment_id=inst.id, payment_method_ref="pm_ok"),
                        today=TODAY,
                        gateway=gateway,
                    )

        sent = [(c.metadata["household_id"], c.amount_cents) for c in gateway.charges]
        shown = [
            (str(part.household_id), i.amount_cents)
            for part in sorted(preview.households, key=lambda p: [a.id, b.id].index(p.household_id))
            for i in part.installments
            if i.amount_cents
        ]
        assert sent == shown
        assert sum(amount for _, amount in sent) == preview.total_cents
    finally:
        savepoint.rollback()


# -- refunds --------------------------------------------------------------------------------------


def test_a_manual_payment_is_refunded_by_hand_and_never_beyond_what_was_paid(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "annual")
    payment = pay(session, world, household.id, 300_000)
    refund = charges.refund_payment(
        session,
        world.scope(),
        RefundPaymentInput(payment_id=payment.payment_id, amount_cents=100_000, reason="overpaid"),
        today=TODAY,
        gateway=None,
    )

    assert not refund.through_gateway and refund.amount_cents == 100_000
    with pytest.raises(RefundExceedsPayment, match="200000 cents left"):
        charges.refund_payment(
            session,
            world.scope(),
            RefundPaymentInput(payment_id=payment.payment_id, amount_cents=200_001, reason="too much"),
            today=TODAY,
            gateway=None,
        )
    rest = charges.refund_payment(
        session,
        world.scope(),
        RefundPaymentInput(payment_id=payment.payment_id, reason="rest"),
        today=TODAY,
        gateway=None,
    )
    assert rest.amount_cents == 200_000


def test_a_card_payment_is_refunded_through_the_gateway(session, world, gateway: FakeGateway):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    charged = charges.charge_installment(
        session,
        world.scope(),
        ChargeInstallmentInput(installment_id=installments(session, household.id)[0].id, payment_method_ref="pm_ok"),
        today=TODAY,
        gateway=gateway,
    )
    assert charged.payment_id is not None

    refund = charges.refund_payment(
        session,
        world.scope(),
        RefundPaymentInput(payment_id=charged.payment_id, amount_cents=1_500, reason="lunch"),
        today=TODAY,
        gateway=gateway,
    )

    assert refund.through_gateway and gateway.refunds[0].amount_cents == 1_500
    assert gateway.refunds[0].payment_ref == charged.gateway_ref


# -- gateway events (applied by the webhook) -------------------------------------------------------


def test_gateway_events_are_applied_once_and_out_of_order_events_are_harmless(session, world, gateway: FakeGateway):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    first = installments(session, household.id)[0]
    gateway.outcomes = [ChargeStatus.PROCESSING]
    pending = charges.charge_installment(
        session,
        world.scope(),
        ChargeInstallmentInput(installment_id=first.id, payment_method_ref="pm_ok"),
        today=TODAY,
        gateway=gateway,
    )
    assert pending.status == "pending" and first.status is InstallmentStatus.PROCESSING
    ref = pending.gateway_ref

    refunded = WebhookEvent("evt_2", "charge.refunded", ref, amount_cents=first.amount_cents, amount_refunded_cents=500)
    succeeded = WebhookEvent("evt_1", "payment_intent.succeeded", ref, amount_cents=first.amount_cents)
    failed = WebhookEvent("evt_3", "payment_intent.payment_failed", ref, failure_message="late noise")

    outcomes = [
        gateway_events.apply_gateway_event(session, e, today=TODAY)
        for e in (refunded, succeeded, failed, refunded, succeeded)
    ]

    assert outcomes[0] == "refund recorded: 500 cents"  # the refund arrived first: the payment is recorded with it
    assert outcomes[1] == "already recorded"
    assert outcomes[2].startswith("ignored: attempt already succeeded")
    assert outcomes[3:] == ["duplicate: already applied"] * 2
    kinds = session.execute(
        select(LedgerEntry.kind, LedgerEntry.amount_cents).where(
            LedgerEntry.household_id == household.id, LedgerEntry.kind.in_([LedgerKind.PAYMENT, LedgerKind.REFUND])
        )
    ).all()
    assert sorted(kinds) == sorted([(LedgerKind.PAYMENT, -first.amount_cents), (LedgerKind.REFUND, 500)])


def test_an_event_about_a_payment_not_yet_known_asks_for_redelivery(session, world):
    event = WebhookEvent("evt_9", "payment_intent.succeeded", "pi_unknown", 100, metadata={"installment_id": "x"})

    with pytest.raises(gateway_events.EventNotYetApplicable):
        gateway_events.apply_gateway_event(session, event, today=TODAY)
    foreign = WebhookEvent("evt_10", "payment_intent.succeeded", "pi_foreign", 100)
    assert gateway_events.apply_gateway_event(session, foreign, today=TODAY).startswith("ignored")


def test_the_same_check_recorded_twice_is_refused_unless_confirmed(session, world):
    """A second payment with the same method and reference on one household is a double entry (#15)."""
    student, stint = student_in(session, world)
    household = family(session, world, student)
    plan(session, world, stint.id, "monthly")
    pay(session, world, household.id, 40_000, reference="Check 1042")
    with pytest.raises(DuplicateRecord) as refused:
        pay(session, world, household.id, 40_000, reference=" check 1042 ")
    assert refused.value.field == "reference" and "$400.00" in refused.value.message
    assert pay(session, world, household.id, 40_000, reference="Check 1042", confirm_duplicate=True)
    assert pay(session, world, household.id, 40_000, reference="Check 1043")
    payments = session.execute(
        select(func.count()).where(LedgerEntry.household_id == household.id, LedgerEntry.kind == LedgerKind.PAYMENT)
    ).scalar_one()
    assert payments == 3
