"""POST /api/v1/webhooks/stripe with real Stripe signatures: success, decline, refund, duplicates, replays, forgeries."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from db.models import GatewayEvent, Installment, InstallmentStatus, LedgerEntry, LedgerKind, PaymentAttempt
from domain.billing.gateway import ChargeStatus
from mcp_server.rest.billing_webhooks import PATH, router
from tests.integration.billing.support import FakeGateway
from tools.runner import Deps, run_tool

SECRET = "whsec_test_billing"
_events = itertools.count(1)


@pytest.fixture()
def gateway() -> FakeGateway:
    return FakeGateway(outcomes=[ChargeStatus.PROCESSING] * 5)


@pytest.fixture()
def client(billing_deps: Deps) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(router)
    app.state.deps = billing_deps
    app.state.stripe_webhook_secret = SECRET
    with TestClient(app) as test_client:
        yield test_client


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> str:
    return json.dumps(
        {
            "id": event_id or f"evt_test_{next(_events)}_{uuid.uuid4().hex[:8]}",
            "object": "event",
            "type": kind,
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    )


def post(client: TestClient, payload: str, *, secret: str = SECRET, timestamp: int | None = None, signed: bool = True):
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
            payload, secret, timestamp=timestamp
        )
    return client.post(PATH, content=payload.encode(), headers=headers)


def intent(attempt: PaymentAttempt, **kw: Any) -> dict[str, Any]:
    return {
        "id": attempt.gateway_ref,
        "object": "payment_intent",
        "amount": attempt.amount_cents,
        "amount_received": attempt.amount_cents,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"installment_id": str(attempt.installment_id), "attempt_id": str(attempt.id)},
        **kw,
    }


def pending_charge(deps: Deps, who, gateway: FakeGateway) -> PaymentAttempt:
    """Charge a scheduled installment through the runner; the fake gateway leaves it processing."""
    with deps.session_factory() as s:
        installment = s.execute(
            select(Installment.id)
            .where(
                Installment.status == InstallmentStatus.SCHEDULED,
                Installment.amount_cents > 0,
                Installment.id.not_in(
                    select(LedgerEntry.installment_id).where(
                        LedgerEntry.installment_id.is_not(None), LedgerEntry.kind == LedgerKind.PAYMENT
                    )
                ),
            )
            .order_by(Installment.due_on, Installment.id)
            .limit(1)
        ).scalar_one()
    result = run_tool(
        dataclasses.replace(deps, gateway=gateway),
        who("network_admin"),
        "charge_installment",
        {"installment_id": str(installment), "payment_method_ref": "pm_ok"},
    )
    assert result.output.status == "pending"  # type: ignore[attr-defined]
    with deps.session_factory() as s:
        return s.execute(select(PaymentAttempt).where(PaymentAttempt.installment_id == installment)).scalar_one()


def payments_of(deps: Deps, attempt: PaymentAttempt) -> list[int]:
    with deps.session_factory() as s:
        return list(
            s.execute(
                select(LedgerEntry.amount_cents).where(
                    LedgerEntry.installment_id == attempt.installment_id,
                    LedgerEntry.kind.in_([LedgerKind.PAYMENT, LedgerKind.REFUND]),
                )
            ).scalars()
        )


def test_a_signed_success_records_the_payment_once_however_often_it_is_delivered(client, billing_deps, who, gateway):
    attempt = pending_charge(billing_deps, who, gateway)
    payload = event("payment_intent.succeeded", intent(attempt))

    first = post(client, payload)
    duplicate = post(client, payload)
    replayed = post(client, payload, timestamp=int(time.time()) - 60)  # same event, freshly signed again

    assert first.status_code == 200 and first.json()["outcome"].startswith("payment recorded")
    assert duplicate.json()["outcome"] == replayed.json()["outcome"] == "duplicate: already applied"
    assert payments_of(billing_deps, attempt) == [-attempt.amount_cents]
    with billing_deps.session_factory() as s:
        assert s.get(Installment, attempt.installment_id).status is InstallmentStatus.PAID
        assert s.execute(select(func.count()).select_from(GatewayEvent)).scalar_one() == 1


def test_a_decline_marks_the_attempt_failed_and_keeps_the_balance_open(client, billing_deps, who, gateway):
    attempt = pending_charge(billing_deps, who, gateway)
    error = {"message": "Your card was declined.", "code": "card_declined"}

    response = post(
        client,
        event(
            "payment_intent.payment_failed", intent(attempt, status="requires_payment_method", last_payment_error=error)
        ),
    )

    assert response.status_code == 200 and response.json()["outcome"] == "attempt marked failed"
    with billing_deps.session_factory() as s:
        stored = s.get(PaymentAttempt, attempt.id)
        assert (stored.status.value, stored.failure_message) == ("failed", "Your card was declined.")
        assert s.get(Installment, attempt.installment_id).status is InstallmentStatus.FAILED
    assert payments_of(billing_deps, attempt) == []


def test_a_refund_is_recorded_from_the_cumulative_amount_so_redelivery_adds_nothing(client, billing_deps, who, gateway):
    attempt = pending_charge(billing_deps, who, gateway)
    post(client, event("payment_intent.succeeded", intent(attempt)))
    charge = {
        "id": "ch_test",
        "object": "charge",
        "amount": attempt.amount_cents,
        "payment_intent": attempt.gateway_ref,
    }

    partial = post(client, event("charge.refunded", charge | {"amount_refunded": 10_000}))
    again = post(client, event("charge.refunded", charge | {"amount_refunded": 10_000}))
    more = post(client, event("charge.refunded", charge | {"amount_refunded": 25_000}))

    assert partial.json()["outcome"] == "refund recorded: 10000 cents"
    assert again.json()["outcome"] == "refund already recorded"
    assert more.json()["outcome"] == "refund recorded: 15000 cents"
    assert sorted(payments_of(billing_deps, attempt)) == sorted([-attempt.amount_cents, 10_000, 15_000])


def test_a_failure_arriving_after_the_success_changes_nothing(client, billing_deps, who, gateway):
    attempt = pending_charge(billing_deps, who, gateway)

    post(client, event("payment_intent.succeeded", intent(attempt)))
    late = post(client, event("payment_intent.payment_failed", intent(attempt, status="requires_payment_method")))

    assert late.json()["outcome"] == "ignored: attempt already succeeded"
    assert payments_of(billing_deps, attempt) == [-attempt.amount_cents]


def test_unsigned_wrongly_signed_and_stale_events_are_rejected_with_a_reason(client, billing_deps, who, gateway):
    attempt = pending_charge(billing_deps, who, gateway)
    payload = event("payment_intent.succeeded", intent(attempt))

    unsigned = post(client, payload, signed=False)
    forged = post(client, payload, secret="whsec_attacker")
    stale = post(client, payload, timestamp=int(time.time()) - 3_600)
    tampered = client.post(
        PATH,
        content=payload.replace(str(attempt.amount_cents), "1").encode(),
        headers={"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload, SECRET)},
    )

    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (400, "missing_signature")
    assert (forged.status_code, forged.json()["error"]["code"]) == (400, "invalid_signature")
    assert (stale.status_code, stale.json()["error"]["code"]) == (400, "stale_signature")
    assert (tampered.status_code, tampered.json()["error"]["code"]) == (400, "invalid_signature")
    assert payments_of(billing_deps, attempt) == []


def test_an_event_for_a_payment_not_known_yet_asks_stripe_to_retry(client):
    unknown = {
        "id": "pi_unknown",
        "object": "payment_intent",
        "amount": 100,
        "metadata": {"installment_id": str(uuid.uuid4())},
    }

    response = post(client, event("payment_intent.succeeded", unknown))

    assert response.status_code == 503 and response.json()["error"]["code"] == "retry_later"


def test_events_billing_does_not_use_are_acknowledged(client):
    response = post(client, event("customer.created", {"id": "cus_1", "object": "customer", "metadata": {}}))

    assert response.status_code == 200 and response.json()["outcome"].startswith("ignored")


def test_without_a_webhook_secret_the_endpoint_says_webhooks_are_disabled(billing_deps):
    app = FastAPI()
    app.include_router(router)
    app.state.deps = billing_deps
    with TestClient(app) as client:
        response = client.post(PATH, content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})

    assert response.status_code == 503 and "STRIPE_WEBHOOK_SECRET" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "payload",
    [
        "[]",
        '"an event"',
        json.dumps({"id": "evt_1", "type": "payment_intent.succeeded", "data": []}),
        json.dumps({"id": "evt_2", "type": "payment_intent.succeeded", "data": {"object": "pi_1"}}),
        json.dumps({"id": 7, "type": None, "data": {"object": {}}}),
        json.dumps({"id": "evt_3", "type": "payment_intent.succeeded", "data": {"object": functools.reduce(
            lambda inner, _: {"x": inner}, range(500), {})}}),
        "{" * 5000,
    ],
    ids=["array", "string", "data-list", "object-string", "wrong-types", "deep", "unbalanced"],
)  # fmt: skip
def test_a_validly_signed_body_that_is_not_an_event_is_a_400_not_a_500(client, payload):
    response = post(client, payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_payload"


def test_a_signature_dated_in_the_future_beyond_the_tolerance_is_refused(client, billing_deps, who, gateway):
    attempt = pending_charge(billing_deps, who, gateway)
    ahead = post(client, event("payment_intent.succeeded", intent(attempt)), timestamp=int(time.time()) + 3_600)
    assert (ahead.status_code, ahead.json()["error"]["code"]) == (400, "stale_signature")
    assert "future" in ahead.json()["error"]["message"]
    assert payments_of(billing_deps, attempt) == []
