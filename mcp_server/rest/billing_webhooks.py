"""POST /api/v1/webhooks/stripe: Stripe's payment events, verified, then applied to billing exactly once.

The signature (`Stripe-Signature`, HMAC over the raw body with STRIPE_WEBHOOK_SECRET, five minutes'
tolerance) is checked before anything is parsed; unsigned, wrongly signed and stale deliveries
get a 400 with a JSON body saying which. A verified event is applied by domain/billing/gateway_events.py,
which dedupes by event id, so redeliveries and replays change nothing. A 503 asks Stripe to
deliver again later (a payment this database does not know yet).

This is the one write path that does not go through tools.runner.run_tool: Stripe is not a
person or an agent acting on students' records, so there is no principal to authorize and no
disclosure to log. The system acts with financial scope at the payment's own org only, and what
it changes is recorded as hash-chained change events in the same transaction. Include with
`app.include_router(router)`; the app must hold its runner `Deps` in `app.state.deps` and the
secret in `app.state.stripe_webhook_secret`.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from domain.billing.gateway import WebhookEvent
from domain.billing.gateway_events import EventNotYetApplicable, apply_gateway_event
from mcp_server.stripe_gateway import WEBHOOK_SECRET_ENV, construct_event, to_webhook_event
from tools.runner import Deps

log = logging.getLogger("sis.billing.webhooks")

PATH = "/api/v1/webhooks/stripe"
SIGNATURE_HEADER = "Stripe-Signature"

router = APIRouter(tags=["webhooks"])


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "field": None}}, status_code=status)


def _secret(request: Request) -> str:
    """The signing secret: app.state.stripe_webhook_secret (create_app sets it from STRIPE_WEBHOOK_SECRET)."""
    return str(getattr(request.app.state, "stripe_webhook_secret", None) or "").strip()


def _apply(deps: Deps, event: WebhookEvent) -> str:
    with deps.session_factory.begin() as session:
        return apply_gateway_event(session, event, today=deps.clock())


@router.post(
    PATH,
    summary="Receive a Stripe event",
    responses={400: {"description": "Unsigned, wrongly signed, stale or malformed event"}},
)
async def stripe_webhook(request: Request) -> JSONResponse:
    """Apply payment_intent.succeeded, payment_intent.payment_failed and charge.refunded to household ledgers."""
    secret = _secret(request)
    if not secret:
        return _error(
            503, "webhooks_disabled", f"Stripe webhooks are disabled: set {WEBHOOK_SECRET_ENV} and restart the server"
        )
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return _error(400, "missing_signature", f"the {SIGNATURE_HEADER} header is required")
    # The raw bytes: the signature covers them exactly, so nothing may parse them first.
    payload = await request.body()
    try:
        verified: Any = construct_event(payload, signature, secret)
    except stripe.SignatureVerificationError as err:
        text = str(err).lower()
        stale = "tolerance" in text
        code, what = ("stale_signature", "is too old") if stale else ("invalid_signature", "does not match")
        if "future" in text:
            code, what = "stale_signature", "is dated in the future"
        return _error(400, code, f"the {SIGNATURE_HEADER} {what}: {err.user_message or err}")
    except ValueError as err:
        return _error(400, "invalid_payload", f"the body is not a Stripe event: {err}")
    try:
        event = to_webhook_event(verified)
    except (AttributeError, KeyError, TypeError, ValueError):
        return _error(400, "invalid_payload", "the body is signed but is not a payment or charge event")
    deps: Deps = request.app.state.deps
    try:
        outcome = await run_in_threadpool(_apply, deps, event)
    except EventNotYetApplicable as err:
        return _error(503, "retry_later", str(err))
    except DBAPIError:
        # A concurrent transaction on the same payment (a lock or a serialization failure): Stripe retries.
        log.warning("stripe event %s hit a database conflict; asking for redelivery", event.event_id, exc_info=True)
        return _error(503, "retry_later", f"event {event.event_id} could not be applied now; deliver it again")
    log.info("stripe event %s (%s): %s", event.event_id, event.event_type, outcome)
    return JSONResponse({"received": True, "event_id": event.event_id, "outcome": outcome})
