"""The Stripe adapter behind billing's gateway interface (domain/billing/gateway.py), with the official SDK.

One Customer per household, one PaymentIntent per installment attempt (confirmed at once against
the household's saved payment method), refunds by PaymentIntent. Every POST carries the SIS's
idempotency key, so a retried call returns Stripe's first answer instead of charging again.
Configuration comes from the Settings (mcp_server/settings.py): STRIPE_API_KEY enables charging,
STRIPE_WEBHOOK_SECRET verifies webhooks, STRIPE_API_BASE (tests, local fakes) points the SDK at
another server. The composition root (mcp_server/wiring.py) puts the gateway in the runner's Deps.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import stripe

from domain.billing.errors import GatewayUnavailable
from domain.billing.gateway import (
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    CustomerRequest,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from mcp_server.settings import Settings

log = logging.getLogger("sis.billing.stripe")

API_KEY_ENV = "STRIPE_API_KEY"
WEBHOOK_SECRET_ENV = "STRIPE_WEBHOOK_SECRET"


def _field(obj: Any, name: str) -> Any:
    """An attribute of a StripeObject, or None when absent (stripe 16 objects are not dicts)."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name) if name in obj else None


def _ref(value: Any) -> str | None:
    """An object's id whether the API returned it expanded or as a bare id."""
    if value is None or isinstance(value, str):
        return value
    ident = _field(value, "id")
    return str(ident) if ident is not None else None


class StripeGateway:
    """PaymentGateway over a `stripe.StripeClient`."""

    name = "stripe"

    def __init__(
        self, api_key: str, *, api_base: str | None = None, max_network_retries: int = 2, off_session: bool = True
    ) -> None:
        # off_session: the family is not at the keyboard when an installment is collected (localstripe lacks it).
        self.off_session = off_session
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
        )

    def create_customer(self, request: CustomerRequest) -> str:
        """Create the household's Customer (metadata.household_id) and return its id."""
        try:
            customer = self.client.v1.customers.create(
                params={"name": request.name, "metadata": {"household_id": request.household_id}},
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as err:
            raise GatewayUnavailable(f"Stripe could not create the customer: {err.user_message or err}") from err
        return str(customer.id)

    def _attach(self, payment_method: str, customer: str) -> None:
        """Attach a payment method to the customer (a no-op when it already is)."""
        method = self.client.v1.payment_methods.retrieve(payment_method)
        if _ref(_field(method, "customer")) != customer:
            self.client.v1.payment_methods.attach(payment_method, params={"customer": customer})

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Create and confirm one PaymentIntent for exactly `request.amount_cents`; a decline is a FAILED result."""
        try:
            self._attach(request.payment_method_ref, request.customer_ref)
            params: dict[str, Any] = {
                "amount": request.amount_cents,
                "currency": request.currency,
                "customer": request.customer_ref,
                "payment_method": request.payment_method_ref,
                "confirm": True,
                "metadata": {**request.metadata, "description": request.description[:500]},
            }
            if self.off_session:
                params["off_session"] = True
            intent = self.client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.CardError as err:
            error = err.error
            intent_ref = _ref(_field(error, "payment_intent")) if error is not None else None
            return ChargeResult(ChargeStatus.FAILED, intent_ref, err.user_message or str(err))
        except stripe.InvalidRequestError as err:
            # A bad payment method or parameters: retrying the same request cannot succeed.
            return ChargeResult(ChargeStatus.FAILED, None, err.user_message or str(err))
        except stripe.StripeError as err:
            log.warning("Stripe charge %s failed: %s", request.idempotency_key, err)
            raise GatewayUnavailable(f"Stripe did not complete the charge ({err.user_message or err}); retry") from err
        status = str(intent.status)
        if status == "succeeded":
            return ChargeResult(ChargeStatus.SUCCEEDED, str(intent.id))
        if status in {"processing", "requires_capture"}:
            return ChargeResult(ChargeStatus.PROCESSING, str(intent.id))
        error = _field(intent, "last_payment_error")
        message = _field(error, "message") or f"the payment needs attention ({status})"
        return ChargeResult(ChargeStatus.FAILED, str(intent.id), str(message))

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund part or all of a PaymentIntent."""
        try:
            refund = self.client.v1.refunds.create(
                params={
                    "payment_intent": request.payment_ref,
                    "amount": request.amount_cents,
                    "metadata": dict(request.metadata),
                },
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.InvalidRequestError as err:
            return RefundResult(False, None, err.user_message or str(err))
        except stripe.StripeError as err:
            raise GatewayUnavailable(f"Stripe did not complete the refund ({err.user_message or err}); retry") from err
        status = str(refund.status)
        if status in {"succeeded", "pending"}:
            return RefundResult(True, str(refund.id))
        return RefundResult(False, str(refund.id), f"refund {status}")


def to_webhook_event(event: Any) -> WebhookEvent:
    """The billing view of a verified Stripe event (PaymentIntent or Charge payloads)."""
    obj = event.data.object
    kind = str(_field(obj, "object") or "")
    metadata_obj = _field(obj, "metadata")
    raw = metadata_obj.to_dict() if hasattr(metadata_obj, "to_dict") else dict(metadata_obj or {})
    metadata = {str(k): str(v) for k, v in raw.items()}
    if kind == "charge":
        return WebhookEvent(
            event_id=str(event.id),
            event_type=str(event.type),
            payment_ref=_ref(_field(obj, "payment_intent")),
            amount_cents=_field(obj, "amount"),
            amount_refunded_cents=_field(obj, "amount_refunded"),
            metadata=metadata,
        )
    error = _field(obj, "last_payment_error")
    received = _field(obj, "amount_received")
    return WebhookEvent(
        event_id=str(event.id),
        event_type=str(event.type),
        payment_ref=_ref(_field(obj, "id")),
        amount_cents=received if received else _field(obj, "amount"),
        failure_message=_field(error, "message"),
        metadata=metadata,
    )


TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE
# A Stripe event nests a few levels (event -> data -> object -> metadata); far deeper is not one.
MAX_DEPTH = 12


def construct_event(payload: bytes, signature: str | None, secret: str, *, now: float | None = None) -> Any:
    """Verify the Stripe-Signature header over the raw body (5-minute tolerance either way) and parse the event.

    A signed body must still be a Stripe event: a JSON object with an id, a type and `data.object`,
    nested no deeper than an event is. Stripe's SDK checks only that a signature is not too old; a
    timestamp more than the tolerance in the future is refused here as well.

    Raises:
        stripe.SignatureVerificationError: missing, wrong, stale or future signature.
        ValueError: the body is not a Stripe event.
    """
    stripe.WebhookSignature.verify_header(payload, signature, secret, TOLERANCE_SECONDS)
    stamps = [part[2:] for part in (signature or "").split(",") if part.strip().startswith("t=")]
    moment = time.time() if now is None else now
    if stamps and stamps[0].strip().isdigit() and int(stamps[0]) > moment + TOLERANCE_SECONDS:
        raise stripe.SignatureVerificationError(  # type: ignore[no-untyped-call]
            "timestamp is in the future, outside the tolerance zone", signature
        )
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"not JSON ({type(err).__name__})") from None
    if not isinstance(body, dict) or _depth(body) > MAX_DEPTH:
        raise ValueError("a Stripe event is a JSON object of a few levels")
    data = body.get("data")
    if not (isinstance(body.get("id"), str) and isinstance(body.get("type"), str) and isinstance(data, dict)):
        raise ValueError("a Stripe event has a string id, a string type and a data object")
    if not isinstance(data.get("object"), dict):
        raise ValueError("a Stripe event's data.object is an object")
    return stripe.Event.construct_from(body, stripe.api_key)


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def gateway_from_settings(settings: Settings) -> StripeGateway | None:
    """The Stripe gateway when STRIPE_API_KEY is set, else None (online charging disabled)."""
    if not settings.stripe_api_key:
        log.info("online charging disabled: %s is not set", API_KEY_ENV)
        return None
    return StripeGateway(settings.stripe_api_key, api_base=settings.stripe_api_base)
