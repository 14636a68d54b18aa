"""Gateway charges and refunds: an installment collected through the payment gateway, a payment returned.

The amount charged is always the installment's, recomputed from its agreement's terms, less what
checks or transfers already covered; the gateway only moves money. Each attempt carries an
idempotency key derived from the installment's ledger charge entry, so a retry never charges
twice. The gateway is handed in by the caller (the runner's Deps); without one, online charging
is disabled and refunds of manual payments still work.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    AttemptStatus,
    BillingAgreement,
    BillingCustomer,
    Household,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
    PaymentMethod,
)
from domain.audit.changes import record_changes, record_rows
from domain.billing import rules
from domain.billing.access import check_financial
from domain.billing.agreements import agreement_label
from domain.billing.errors import (
    InstallmentNotChargeable,
    OnlineChargingDisabled,
    PaymentMethodMissing,
    RefundExceedsPayment,
    RefundRefused,
)
from domain.billing.gateway import (
    DISABLED_MESSAGE,
    ChargeRequest,
    ChargeStatus,
    CustomerRequest,
    PaymentGateway,
    RefundRequest,
)
from domain.billing.ledger import balance_on, coverage, sync_installments
from domain.billing.schemas import ChargeInstallmentInput, ChargeRead, RefundPaymentInput, RefundRead
from domain.errors import NotFound
from domain.events import emit_event
from policies.scope import Action, Scope

CURRENCY = "usd"


def _online(gateway: PaymentGateway | None) -> PaymentGateway:
    """The gateway to charge through.

    Raises:
        OnlineChargingDisabled: none is configured.
    """
    if gateway is None:
        raise OnlineChargingDisabled(DISABLED_MESSAGE)
    return gateway


def installment_amount(session: Session, inst: Installment) -> int:
    """The installment's amount, recomputed by the one pricing function from its agreement's terms."""
    agreement = session.get(BillingAgreement, inst.agreement_id)
    assert agreement is not None
    quote = rules.compute_quote(rules.Terms.from_json(agreement.terms))
    amount = quote.household(inst.household_id).installments[inst.seq - 1].amount_cents
    if amount != inst.amount_cents:
        raise RuntimeError(f"installment {inst.id} stores {inst.amount_cents} but its terms price it at {amount}")
    return amount


def _charge_entry(session: Session, inst: Installment) -> LedgerEntry:
    entry = session.execute(
        select(LedgerEntry).where(LedgerEntry.installment_id == inst.id, LedgerEntry.kind == LedgerKind.CHARGE)
    ).scalar_one()
    return entry


def idempotency_key(charge_entry_id: uuid.UUID, attempt_no: int) -> str:
    """The gateway key of one attempt at an installment: its ledger charge entry and the attempt number."""
    return f"sis-pi-{charge_entry_id}-{attempt_no}"


def payment_for_attempt(session: Session, attempt: PaymentAttempt) -> LedgerEntry | None:
    """The payment entry a gateway attempt recorded, if it succeeded."""
    return session.execute(select(LedgerEntry).where(LedgerEntry.payment_attempt_id == attempt.id)).scalar_one_or_none()


def _charge_read(session: Session, inst: Installment, attempt: PaymentAttempt, *, replayed: bool) -> ChargeRead:
    payment = payment_for_attempt(session, attempt)
    return ChargeRead(
        installment_id=inst.id,
        household_id=inst.household_id,
        attempt_no=attempt.attempt_no,
        idempotency_key=attempt.idempotency_key,
        amount_cents=attempt.amount_cents,
        status=attempt.status,
        gateway_ref=attempt.gateway_ref,
        failure_message=attempt.failure_message,
        payment_id=payment.id if payment else None,
        replayed=replayed,
    )


def _latest_attempt(session: Session, inst: Installment) -> PaymentAttempt | None:
    return session.execute(
        select(PaymentAttempt)
        .where(PaymentAttempt.installment_id == inst.id)
        .order_by(PaymentAttempt.attempt_no.desc())
        .limit(1)
    ).scalar_one_or_none()


def publish(session: Session, event_type: str, org_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """The one place billing hands domain events (payment.succeeded, payment.failed, ...) to the outbox."""
    emit_event(session, event_type=event_type, org_id=org_id, payload=payload)


def record_gateway_payment(
    session: Session,
    scope: Scope,
    attempt: PaymentAttempt,
    *,
    amount_cents: int,
    posted_on: dt.date,
    reference: str | None,
) -> LedgerEntry:
    """The payment entry of a succeeded attempt, written once whichever of the response or the webhook comes first."""
    existing = payment_for_attempt(session, attempt)
    if existing is not None:
        return existing
    inst = session.get(Installment, attempt.installment_id)
    assert inst is not None
    agreement = session.get(BillingAgreement, inst.agreement_id)
    assert agreement is not None
    attempt.status = AttemptStatus.SUCCEEDED
    attempt.gateway_ref = attempt.gateway_ref or reference
    attempt.failure_message = None
    record_changes(session, scope, attempt, reason="gateway payment succeeded")
    memo = f"card payment, installment {inst.seq}"
    if amount_cents != attempt.amount_cents:
        memo += f" (gateway reported {amount_cents} cents; {attempt.amount_cents} were requested)"
    entry = LedgerEntry(
        id=uuid.uuid4(),
        org_id=inst.org_id,
        household_id=inst.household_id,
        student_id=agreement.student_id,
        agreement_id=agreement.id,
        installment_id=inst.id,
        kind=LedgerKind.PAYMENT,
        amount_cents=-amount_cents,
        posted_on=posted_on,
        memo=memo,
        method=PaymentMethod.CARD,
        reference=attempt.gateway_ref,
        payment_attempt_id=attempt.id,
    )
    session.add(entry)
    record_changes(session, scope, entry, reason="gateway payment succeeded")
    if inst.status is InstallmentStatus.PROCESSING:
        inst.status = InstallmentStatus.SCHEDULED  # sync_installments decides whether it is now paid
        record_changes(session, scope, inst, reason="gateway payment succeeded")
    session.flush()
    sync_installments(session, scope, inst.household_id)
    publish(
        session,
        "payment.succeeded",
        inst.org_id,
        {
            "household_id": inst.household_id,
            "installment_id": inst.id,
            "student_id": agreement.student_id,
            "payment_id": entry.id,
            "amount_cents": amount_cents,
            "gateway_ref": attempt.gateway_ref,
        },
    )
    return entry


def record_gateway_failure(session: Session, scope: Scope, attempt: PaymentAttempt, message: str | None) -> bool:
    """Mark an attempt failed unless it already succeeded (a late failure never undoes a payment)."""
    if attempt.status is not AttemptStatus.PENDING:
        return False
    attempt.status = AttemptStatus.FAILED
    attempt.failure_message = (message or "the payment failed")[:500]
    record_changes(session, scope, attempt, reason="gateway payment failed")
    inst = session.get(Installment, attempt.installment_id)
    assert inst is not None
    if inst.status is InstallmentStatus.PROCESSING:
        inst.status = InstallmentStatus.FAILED
        record_changes(session, scope, inst, reason="gateway payment failed")
    session.flush()
    publish(
        session,
        "payment.failed",
        inst.org_id,
        {
            "household_id": inst.household_id,
            "installment_id": inst.id,
            "amount_cents": attempt.amount_cents,
            "gateway_ref": attempt.gateway_ref,
            "failure_message": attempt.failure_message,
        },
    )
    return True


def _customer(
    session: Session, scope: Scope, gateway: PaymentGateway, household: Household, payment_method_ref: str | None
) -> BillingCustomer:
    """The household's gateway customer, created once (keyed by household), with its payment method.

    Raises:
        PaymentMethodMissing: no saved payment method and none given.
    """
    customer = session.execute(
        select(BillingCustomer).where(BillingCustomer.household_id == household.id)
    ).scalar_one_or_none()
    if customer is None:
        ref = gateway.create_customer(
            CustomerRequest(
                household_id=str(household.id), name=household.name, idempotency_key=f"sis-cus-{household.id}"
            )
        )
        customer = BillingCustomer(
            id=uuid.uuid4(), org_id=household.org_id, household_id=household.id, customer_ref=ref
        )
        session.add(customer)
    if payment_method_ref:
        customer.payment_method_ref = payment_method_ref
    if not customer.payment_method_ref:
        raise PaymentMethodMissing(
            f"household {household.name} has no saved payment method; pass payment_method_ref",
            field="payment_method_ref",
        )
    record_changes(session, scope, customer, reason="gateway customer")
    session.flush()
    return customer


def charge_installment(
    session: Session,
    scope: Scope,
    data: ChargeInstallmentInput,
    *,
    today: dt.date,
    gateway: PaymentGateway | None,
) -> ChargeRead:
    """Collect an installment through the gateway: the previewed amount less what it already received; never twice.

    Raises:
        NotFound, PermissionDenied, OnlineChargingDisabled, InstallmentNotChargeable, PaymentMethodMissing,
        GatewayUnavailable (nothing recorded; retrying reuses the same idempotency key).
    """
    inst = session.execute(
        select(Installment).where(Installment.id == data.installment_id).with_for_update()
    ).scalar_one_or_none()
    if inst is None:
        raise NotFound(f"installment {data.installment_id} not found", field="installment_id")
    check_financial(scope, inst.org_id, Action.WRITE, f"installment {data.installment_id}", "installment_id")
    latest = _latest_attempt(session, inst)
    if latest is not None and latest.status is not AttemptStatus.FAILED:
        # Succeeded or still processing: report it again rather than charge a second time.
        return _charge_read(session, inst, latest, replayed=True)
    if inst.status is InstallmentStatus.CANCELLED:
        raise InstallmentNotChargeable(f"installment {inst.id} was cancelled", field="installment_id")
    if inst.status is InstallmentStatus.PAID:
        raise InstallmentNotChargeable(
            f"installment {inst.seq} due {inst.due_on} is already paid (by check, cash or transfer)",
            field="installment_id",
        )
    scheduled = installment_amount(session, inst)
    if scheduled == 0:
        raise InstallmentNotChargeable(f"installment {inst.seq} is zero after discounts", field="installment_id")
    _, covered = coverage(session, inst.household_id)
    # What checks or transfers already covered of it is not charged again.
    amount = scheduled - covered.get(inst.id, 0)
    if amount <= 0:
        raise InstallmentNotChargeable(
            f"installment {inst.seq} due {inst.due_on} is already covered by payments received", field="installment_id"
        )
    online = _online(gateway)
    household = session.get(Household, inst.household_id)
    assert household is not None
    customer = _customer(session, scope, online, household, data.payment_method_ref)
    attempt_no = inst.attempt_count + 1
    key = idempotency_key(_charge_entry(session, inst).id, attempt_no)
    attempt = PaymentAttempt(
        id=uuid.uuid4(),
        org_id=inst.org_id,
        installment_id=inst.id,
        household_id=inst.household_id,
        attempt_no=attempt_no,
        idempotency_key=key,
        amount_cents=amount,
        status=AttemptStatus.PENDING,
    )
    session.add(attempt)
    inst.attempt_count = attempt_no
    inst.status = InstallmentStatus.PROCESSING
    record_rows(session, scope, [attempt, inst], reason="charge installment")
    # Written before the call, so a webhook racing this transaction waits for it instead of guessing.
    session.flush()
    agreement = session.get(BillingAgreement, inst.agreement_id)
    assert agreement is not None
    result = online.charge(
        ChargeRequest(
            amount_cents=amount,
            currency=CURRENCY,
            customer_ref=customer.customer_ref,
            payment_method_ref=customer.payment_method_ref or "",
            idempotency_key=key,
            description=f"{agreement_label(session, agreement)}: installment {inst.seq}",
            metadata={
                "installment_id": str(inst.id),
                "household_id": str(inst.household_id),
                "attempt_id": str(attempt.id),
                "attempt_no": str(attempt_no),
            },
        )
    )
    attempt.gateway_ref = result.payment_ref
    record_changes(session, scope, attempt, reason="charge installment")
    if result.status is ChargeStatus.SUCCEEDED:
        record_gateway_payment(
            session, scope, attempt, amount_cents=amount, posted_on=today, reference=result.payment_ref
        )
    elif result.status is ChargeStatus.FAILED:
        record_gateway_failure(session, scope, attempt, result.failure_message)
    session.flush()
    return _charge_read(session, inst, attempt, replayed=False)


def refunded_so_far(session: Session, payment: LedgerEntry) -> int:
    """Cents of the payment refunded already (every earlier refund entry)."""
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.refund_of_id == payment.id, LedgerEntry.kind == LedgerKind.REFUND
        )
    ).scalar_one()
    return int(total)


def refund_entry(
    session: Session,
    scope: Scope,
    payment: LedgerEntry,
    amount: int,
    *,
    posted_on: dt.date,
    method: PaymentMethod | None,
    memo: str,
) -> LedgerEntry:
    """A refund entry of `amount` cents against the payment, added to the session (its change event is the caller's)."""
    entry = LedgerEntry(
        id=uuid.uuid4(),
        org_id=payment.org_id,
        household_id=payment.household_id,
        student_id=payment.student_id,
        agreement_id=payment.agreement_id,
        installment_id=payment.installment_id,
        kind=LedgerKind.REFUND,
        amount_cents=amount,
        posted_on=posted_on,
        memo=memo,
        method=method,
        refund_of_id=payment.id,
    )
    session.add(entry)
    return entry


def refund_payment(
    session: Session,
    scope: Scope,
    data: RefundPaymentInput,
    *,
    today: dt.date,
    gateway: PaymentGateway | None,
) -> RefundRead:
    """Return (part of) a payment: through the gateway for card payments, else recorded as paid out by hand.

    Raises:
        NotFound, PermissionDenied, RefundExceedsPayment, OnlineChargingDisabled, GatewayUnavailable.
    """
    payment = session.execute(
        select(LedgerEntry)
        .where(LedgerEntry.id == data.payment_id, LedgerEntry.kind == LedgerKind.PAYMENT)
        .with_for_update()
    ).scalar_one_or_none()
    if payment is None:
        raise NotFound(f"payment {data.payment_id} not found", field="payment_id")
    check_financial(scope, payment.org_id, Action.WRITE, f"payment {data.payment_id}", "payment_id")
    refunded = refunded_so_far(session, payment)
    left = -payment.amount_cents - refunded
    amount = data.amount_cents or left
    if amount <= 0 or amount > left:
        raise RefundExceedsPayment(
            f"payment {payment.id} has {left} cents left to refund (of {-payment.amount_cents}); asked for {amount}",
            field="amount_cents",
        )
    through_gateway = payment.payment_attempt_id is not None
    method = payment.method if through_gateway else (data.method or payment.method)
    entry = refund_entry(session, scope, payment, amount, posted_on=today, method=method, memo=f"refund: {data.reason}")
    record_changes(session, scope, entry, reason=data.reason)
    # Flushed before the gateway call: it takes the write lock a racing charge.refunded webhook then waits for.
    session.flush()
    if through_gateway:
        count = session.execute(
            select(func.count()).where(LedgerEntry.refund_of_id == payment.id, LedgerEntry.kind == LedgerKind.REFUND)
        ).scalar_one()
        result = _online(gateway).refund(
            RefundRequest(
                payment_ref=payment.reference or "",
                amount_cents=amount,
                idempotency_key=f"sis-re-{payment.id}-{count}",
                metadata={"payment_id": str(payment.id), "household_id": str(payment.household_id)},
            )
        )
        if not result.succeeded:
            raise RefundRefused(f"the gateway refused the refund: {result.failure_message}", field="payment_id")
        entry.reference = result.refund_ref
        record_changes(session, scope, entry, reason=data.reason)
    session.flush()
    sync_installments(session, scope, payment.household_id)
    publish(
        session,
        "payment.refunded",
        payment.org_id,
        {"household_id": payment.household_id, "payment_id": payment.id, "refund_id": entry.id, "amount_cents": amount},
    )
    return RefundRead(
        refund_id=entry.id,
        payment_id=payment.id,
        household_id=payment.household_id,
        amount_cents=amount,
        through_gateway=through_gateway,
        gateway_ref=entry.reference,
        balance_cents=balance_on(session, payment.household_id, today),
    )
