"""Gateway events (Stripe webhooks): a verified event applied to billing exactly once.

The event's id is stored with what was done, so redeliveries change nothing; a success, a
failure and a refund are applied whatever order they arrive in. The webhook has no caller to
take authority from: it acts as a system actor with financial scope at the payment's own org
(the one write path off the runner, mcp_server/rest/billing_webhooks.py).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import AttemptStatus, GatewayEvent, LedgerEntry, PaymentAttempt, PaymentMethod
from domain.audit.changes import record_changes
from domain.billing.charges import (
    payment_for_attempt,
    publish,
    record_gateway_failure,
    record_gateway_payment,
    refund_entry,
    refunded_so_far,
)
from domain.billing.gateway import CHARGE_REFUNDED, HANDLED_EVENTS, PAYMENT_FAILED, PAYMENT_SUCCEEDED, WebhookEvent
from domain.billing.ledger import sync_installments
from policies.scope import Actor, DataClass, Scope, scope_for_orgs

WEBHOOK_ACTOR = "payment gateway webhook"


class EventNotYetApplicable(Exception):
    """The event refers to a payment this database does not know yet; the gateway should deliver it again."""


def _system_scope(org_id: uuid.UUID | None) -> Scope:
    orgs = [org_id] if org_id is not None else []
    return scope_for_orgs(Actor(user_id=None, label=WEBHOOK_ACTOR), orgs, classes=[DataClass.FINANCIAL])


def _attempt_for_event(session: Session, event: WebhookEvent) -> PaymentAttempt | None:
    """The attempt an event is about: by the gateway's payment id, else by the ids the SIS put in its metadata."""
    if event.payment_ref:
        attempt = session.execute(
            select(PaymentAttempt).where(PaymentAttempt.gateway_ref == event.payment_ref).with_for_update()
        ).scalar_one_or_none()
        if attempt is not None:
            return attempt
    attempt_id = event.metadata.get("attempt_id")
    if attempt_id:
        try:
            found = session.get(PaymentAttempt, uuid.UUID(attempt_id), with_for_update=True)
        except ValueError:
            return None
        if found is not None and event.payment_ref and not found.gateway_ref:
            found.gateway_ref = event.payment_ref
            record_changes(session, _system_scope(found.org_id), found, reason="gateway payment reference")
        return found
    return None


def apply_gateway_event(session: Session, event: WebhookEvent, *, today: dt.date) -> str:
    """Apply a verified gateway event exactly once; returns what was done (stored with the event id).

    Raises:
        EventNotYetApplicable: the payment is unknown here yet (answer so that the gateway retries).
    """
    if session.get(GatewayEvent, event.event_id) is not None:
        return "duplicate: already applied"
    outcome, scope = _apply(session, event, today=today)
    try:
        with session.begin_nested():
            applied = GatewayEvent(
                event_id=event.event_id,
                event_type=event.event_type,
                object_ref=event.payment_ref,
                outcome=outcome[:300],
            )
            session.add(applied)
            record_changes(session, scope, applied, reason=f"gateway event {event.event_type}")
    except IntegrityError:
        # A concurrent delivery of the same event got there first; its transaction applied it.
        raise EventNotYetApplicable(f"event {event.event_id} is being applied by another delivery") from None
    return outcome


def _apply(session: Session, event: WebhookEvent, *, today: dt.date) -> tuple[str, Scope]:
    """What applying the event did, and the system scope it acted in."""
    if event.event_type not in HANDLED_EVENTS:
        return f"ignored: {event.event_type} is not used by billing", _system_scope(None)
    attempt = _attempt_for_event(session, event)
    if attempt is None:
        if event.metadata.get("installment_id"):
            raise EventNotYetApplicable(
                f"payment {event.payment_ref} of installment {event.metadata['installment_id']} is not known yet"
            )
        return f"ignored: payment {event.payment_ref} was not made by this SIS", _system_scope(None)
    scope = _system_scope(attempt.org_id)
    return _apply_to(session, event, attempt, scope, today=today), scope


def _apply_to(session: Session, event: WebhookEvent, attempt: PaymentAttempt, scope: Scope, *, today: dt.date) -> str:
    if event.event_type == PAYMENT_SUCCEEDED:
        if attempt.status is AttemptStatus.SUCCEEDED:
            return "already recorded"
        amount = event.amount_cents if event.amount_cents is not None else attempt.amount_cents
        entry = record_gateway_payment(
            session, scope, attempt, amount_cents=amount, posted_on=today, reference=event.payment_ref
        )
        return f"payment recorded: {entry.id}"
    if event.event_type == PAYMENT_FAILED:
        changed = record_gateway_failure(session, scope, attempt, event.failure_message)
        return "attempt marked failed" if changed else f"ignored: attempt already {attempt.status.value}"
    assert event.event_type == CHARGE_REFUNDED
    # amount_refunded is cumulative, so applying it is idempotent and independent of delivery order.
    payment = payment_for_attempt(session, attempt)
    if payment is None:
        # The refund arrived before the success event: a refunded charge had succeeded.
        amount = event.amount_cents if event.amount_cents is not None else attempt.amount_cents
        payment = record_gateway_payment(
            session, scope, attempt, amount_cents=amount, posted_on=today, reference=event.payment_ref
        )
    locked = session.execute(select(LedgerEntry).where(LedgerEntry.id == payment.id).with_for_update()).scalar_one()
    already = refunded_so_far(session, locked)
    new = (event.amount_refunded_cents or 0) - already
    if new <= 0:
        return "refund already recorded"
    entry = refund_entry(
        session, scope, locked, new, posted_on=today, method=PaymentMethod.CARD, memo="card refund (gateway)"
    )
    record_changes(session, scope, entry, reason="gateway refund")
    session.flush()
    sync_installments(session, scope, locked.household_id)
    publish(
        session,
        "payment.refunded",
        locked.org_id,
        {"household_id": locked.household_id, "payment_id": locked.id, "refund_id": entry.id, "amount_cents": new},
    )
    return f"refund recorded: {new} cents"
