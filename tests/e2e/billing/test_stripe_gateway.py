"""The Stripe adapter and the billing service against localstripe (a fake Stripe API) on loopback.

localstripe (GPL, a test tool only: never imported by the product) runs in a subprocess bound to
127.0.0.1 on a free port; the real `stripe` SDK is pointed at it. Its webhook deliveries, signed
like Stripe's, go to the real endpoint served by uvicorn on another loopback port.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import stripe
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import (
    AttemptStatus,
    GatewayEvent,
    Household,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
)
from domain.billing import agreements, charges, ledger, previews
from domain.billing.gateway import ChargeRequest, ChargeStatus, CustomerRequest, RefundRequest
from domain.billing.schemas import (
    BalanceInput,
    ChargeInstallmentInput,
    PreviewTuitionInput,
    RefundPaymentInput,
    SetPaymentPlanInput,
)
from mcp_server.rest.billing_webhooks import PATH, router
from mcp_server.settings import Settings
from mcp_server.stripe_gateway import StripeGateway, gateway_from_settings
from tests.conftest import ENGINES, fresh_database
from tests.integration.billing.support import TODAY, build_world, family, student_in
from tools.runner import Deps

SECRET = "whsec_localstripe_test"
DECLINED_CARD = "4000000000000341"  # attaches, then declines when charged

_SERVER = """
import sys
import aiohttp.web
import localstripe.resources
import localstripe.server

# Keep the fake's state in memory: by default it pickles every write to a shared /tmp file.
localstripe.resources.Store.dump_to_disk = lambda self: None
aiohttp.web.run_app(localstripe.server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def localstripe_url() -> Iterator[str]:
    try:
        import localstripe  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("localstripe is required in CI (pip install localstripe)")
        pytest.skip("localstripe is not installed")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture()
def stripe_client(localstripe_url: str) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_local", base_addresses={"api": localstripe_url}, max_network_retries=0)


@pytest.fixture()
def gateway(localstripe_url: str) -> StripeGateway:
    # localstripe does not model off-session confirmation; real Stripe gets off_session=True.
    return StripeGateway("sk_test_local", api_base=localstripe_url, max_network_retries=0, off_session=False)


def card(client: stripe.StripeClient, number: str = "4242424242424242") -> str:
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    return str(method.id)


# -- the adapter --------------------------------------------------------------------------------------


def test_a_household_customer_carries_its_household_id(gateway, stripe_client):
    customer = gateway.create_customer(CustomerRequest("hh-1", "Rivera household", "sis-cus-hh-1"))

    stored = stripe_client.v1.customers.retrieve(customer)
    assert customer.startswith("cus_") and stored.metadata["household_id"] == "hh-1"


def test_a_charge_succeeds_for_exactly_the_requested_amount(gateway, stripe_client):
    customer = gateway.create_customer(CustomerRequest("hh-2", "Chen household", "sis-cus-hh-2"))

    result = gateway.charge(
        ChargeRequest(
            351_500, "usd", customer, card(stripe_client), "sis-pi-x-1", "installment 2", {"installment_id": "i2"}
        )
    )

    assert result.status is ChargeStatus.SUCCEEDED
    intent = stripe_client.v1.payment_intents.retrieve(result.payment_ref)
    assert (intent.amount, intent.currency, intent.metadata["installment_id"]) == (351_500, "usd", "i2")


def test_a_declined_card_is_a_failed_result_not_an_exception(gateway, stripe_client):
    customer = gateway.create_customer(CustomerRequest("hh-3", "Okafor household", "sis-cus-hh-3"))

    result = gateway.charge(
        ChargeRequest(100_000, "usd", customer, card(stripe_client, DECLINED_CARD), "sis-pi-y-1", "x")
    )

    assert result.status is ChargeStatus.FAILED and result.failure_message == "Your card was declined."


def test_a_partial_refund_goes_to_the_payment_intent(gateway, stripe_client):
    customer = gateway.create_customer(CustomerRequest("hh-4", "Nguyen household", "sis-cus-hh-4"))
    paid = gateway.charge(ChargeRequest(200_000, "usd", customer, card(stripe_client), "sis-pi-z-1", "x"))

    refund = gateway.refund(RefundRequest(paid.payment_ref or "", 50_000, "sis-re-z-1"))

    assert refund.succeeded and (refund.refund_ref or "").startswith("re_")
    assert stripe_client.v1.refunds.retrieve(refund.refund_ref).amount == 50_000


def test_the_gateway_is_enabled_only_by_stripe_api_key(localstripe_url):
    def built(environ: dict[str, str]) -> StripeGateway | None:
        return gateway_from_settings(Settings.from_environ(environ))

    assert built({}) is None
    assert built({"STRIPE_API_KEY": "  "}) is None
    assert isinstance(built({"STRIPE_API_KEY": "sk_test_x", "STRIPE_API_BASE": localstripe_url}), StripeGateway)


# -- the billing service through Stripe ---------------------------------------------------------------


def test_stripe_receives_exactly_the_previewed_installment_and_the_refund(session, gateway, stripe_client):
    world = build_world(session)
    student, stint = student_in(session, world)
    household = family(session, world, student)
    scope = world.scope()
    agreements.set_payment_plan(
        session, scope, SetPaymentPlanInput(enrollment_id=stint.id, plan_code="monthly"), today=TODAY
    )
    preview = previews.preview_tuition(session, scope, PreviewTuitionInput(enrollment_id=stint.id), today=TODAY)
    first = session.execute(
        select(Installment).where(Installment.household_id == household.id).order_by(Installment.due_on).limit(1)
    ).scalar_one()

    charged = charges.charge_installment(
        session,
        scope,
        ChargeInstallmentInput(installment_id=first.id, payment_method_ref=card(stripe_client)),
        today=TODAY,
        gateway=gateway,
    )
    replay = charges.charge_installment(
        session, scope, ChargeInstallmentInput(installment_id=first.id), today=TODAY, gateway=gateway
    )

    intent = stripe_client.v1.payment_intents.retrieve(charged.gateway_ref)
    assert intent.amount == preview.households[0].installments[0].amount_cents == charged.amount_cents
    assert intent.metadata["installment_id"] == str(first.id)
    assert replay.replayed and replay.gateway_ref == charged.gateway_ref
    charged_for = [
        pi for pi in stripe_client.v1.payment_intents.list().auto_paging_iter() if pi.customer == intent.customer
    ]
    assert len(charged_for) == 1

    assert charged.payment_id is not None
    refund = charges.refund_payment(
        session,
        scope,
        RefundPaymentInput(payment_id=charged.payment_id, amount_cents=9_500, reason="lunch"),
        today=TODAY,
        gateway=gateway,
    )
    assert refund.through_gateway and stripe_client.v1.refunds.retrieve(refund.gateway_ref).amount == 9_500
    balance = ledger.compute_balance(session, scope, BalanceInput(household_id=household.id), today=TODAY)
    assert balance.households[0].payments_cents == charged.amount_cents
    assert balance.households[0].refunds_cents == 9_500


def test_a_decline_through_stripe_leaves_the_installment_open(session, gateway, stripe_client):
    world = build_world(session)
    student, stint = student_in(session, world)
    household = family(session, world, student)
    scope = world.scope()
    agreements.set_payment_plan(
        session, scope, SetPaymentPlanInput(enrollment_id=stint.id, plan_code="semester"), today=TODAY
    )
    first = session.execute(
        select(Installment).where(Installment.household_id == household.id).order_by(Installment.due_on).limit(1)
    ).scalar_one()

    declined = charges.charge_installment(
        session,
        scope,
        ChargeInstallmentInput(installment_id=first.id, payment_method_ref=card(stripe_client, DECLINED_CARD)),
        today=TODAY,
        gateway=gateway,
    )

    assert declined.status == "failed" and declined.failure_message == "Your card was declined."
    assert first.status is InstallmentStatus.FAILED
    retried = charges.charge_installment(
        session,
        scope,
        ChargeInstallmentInput(installment_id=first.id, payment_method_ref=card(stripe_client)),
        today=TODAY,
        gateway=gateway,
    )
    assert (
        retried.status == "succeeded"
        and retried.attempt_no == 2
        and retried.idempotency_key != declined.idempotency_key
    )


# -- webhooks delivered by localstripe -------------------------------------------------------------------


@pytest.fixture(scope="module", params=ENGINES)
def committed_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = fresh_database(request.param, request, tmp_path_factory, "stripe")
    yield engine
    engine.dispose()


@pytest.fixture()
def served_app(committed_engine: Engine, localstripe_url: str) -> Iterator[Deps]:
    """The webhook endpoint served by uvicorn on loopback, registered with localstripe."""
    deps = Deps(session_factory=sessionmaker(bind=committed_engine, expire_on_commit=False), clock=lambda: TODAY)
    app = FastAPI()
    app.include_router(router)
    app.state.deps = deps
    app.state.stripe_webhook_secret = SECRET
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    httpx.post(
        f"{localstripe_url}/_config/webhooks/sis",
        data={"url": f"http://127.0.0.1:{port}{PATH}", "secret": SECRET},
    ).raise_for_status()
    try:
        yield deps
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def processing_attempt(deps: Deps, amount: int) -> tuple[PaymentAttempt, Household]:
    """A committed installment with a pending gateway attempt, as charge_installment leaves one mid-flight."""
    with deps.session_factory.begin() as session:
        world = build_world(session)
        student, stint = student_in(session, world)
        household = family(session, world, student)
        agreements.set_payment_plan(
            session, world.scope(), SetPaymentPlanInput(enrollment_id=stint.id, plan_code="monthly"), today=TODAY
        )
        inst = session.execute(
            select(Installment).where(Installment.household_id == household.id).limit(1)
        ).scalar_one()
        inst.status = InstallmentStatus.PROCESSING
        inst.attempt_count = 1
        attempt = PaymentAttempt(
            id=uuid.uuid4(),
            org_id=inst.org_id,
            installment_id=inst.id,
            household_id=household.id,
            attempt_no=1,
            idempotency_key=f"sis-pi-{inst.id}-1",
            amount_cents=amount,
            status=AttemptStatus.PENDING,
        )
        session.add(attempt)
    return attempt, household


def wait_for_event(deps: Deps, payment_ref: str, *, timeout: float = 60.0) -> GatewayEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with deps.session_factory() as session:
            found = (
                session.execute(select(GatewayEvent).where(GatewayEvent.object_ref == payment_ref)).scalars().first()
            )
            if found is not None:
                return found
        time.sleep(0.1)
    raise AssertionError(f"no webhook for {payment_ref} was applied")


def test_localstripe_success_and_decline_webhooks_are_verified_and_applied_once(served_app, gateway, stripe_client):
    deps = served_app
    paid_attempt, household = processing_attempt(deps, 459_500)
    customer = gateway.create_customer(CustomerRequest(str(household.id), household.name, f"sis-cus-{household.id}"))
    metadata = {"installment_id": str(paid_attempt.installment_id), "attempt_id": str(paid_attempt.id)}

    paid = gateway.charge(ChargeRequest(459_500, "usd", customer, card(stripe_client), "k-ok", "x", metadata))
    applied = wait_for_event(deps, paid.payment_ref or "")

    assert applied.event_type == "payment_intent.succeeded" and applied.outcome.startswith("payment recorded")
    with deps.session_factory() as session:
        payments = (
            session.execute(
                select(LedgerEntry.amount_cents).where(
                    LedgerEntry.installment_id == paid_attempt.installment_id, LedgerEntry.kind == LedgerKind.PAYMENT
                )
            )
            .scalars()
            .all()
        )
        assert payments == [-459_500]
        assert session.get(Installment, paid_attempt.installment_id).status is InstallmentStatus.PAID

    failed_attempt, failed_household = processing_attempt(deps, 459_500)
    other = gateway.create_customer(CustomerRequest(str(failed_household.id), "x", f"sis-cus-{failed_household.id}"))
    declined = gateway.charge(
        ChargeRequest(
            459_500,
            "usd",
            other,
            card(stripe_client, DECLINED_CARD),
            "k-declined",
            "x",
            {"installment_id": str(failed_attempt.installment_id), "attempt_id": str(failed_attempt.id)},
        )
    )
    assert declined.status is ChargeStatus.FAILED
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with deps.session_factory() as session:
            stored = session.get(PaymentAttempt, failed_attempt.id)
            if stored is not None and stored.status is AttemptStatus.FAILED:
                break
        time.sleep(0.1)
    with deps.session_factory() as session:
        stored = session.get(PaymentAttempt, failed_attempt.id)
        assert stored is not None and stored.status is AttemptStatus.FAILED
        assert stored.failure_message and "declined" in stored.failure_message
        assert session.get(Installment, failed_attempt.installment_id).status is InstallmentStatus.FAILED


def test_the_webhook_secret_must_match_for_a_delivery_to_count(committed_engine):
    with Session(committed_engine) as session:
        before = len(session.execute(select(GatewayEvent)).scalars().all())
    app = FastAPI()
    app.include_router(router)
    app.state.deps = Deps(session_factory=sessionmaker(bind=committed_engine), clock=lambda: dt.date(2026, 11, 20))
    app.state.stripe_webhook_secret = SECRET
    from fastapi.testclient import TestClient

    payload = '{"id": "evt_forged", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {}}}'
    with TestClient(app) as client:
        forged = client.post(
            PATH,
            content=payload,
            headers={"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload, "whsec_wrong")},
        )

    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_signature"
    with Session(committed_engine) as session:
        assert len(session.execute(select(GatewayEvent)).scalars().all()) == before
