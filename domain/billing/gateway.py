"""The payment gateway seen from the domain: a Protocol and plain data, no payment SDK.

The SIS computes every amount; a gateway only moves money. The composition root builds an
adapter (mcp_server/stripe_gateway.py for Stripe) into the runner's Deps, and the billing tools
hand it to domain/billing/charges.py; with none, online charging is disabled and everything
else (previews, ledgers, manual payments) works.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class ChargeStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    PROCESSING = "processing"
    FAILED = "failed"


@dataclass(frozen=True)
class CustomerRequest:
    household_id: str
    name: str
    idempotency_key: str


@dataclass(frozen=True)
class ChargeRequest:
    """One installment charge: the amount is the SIS's, never the gateway's."""

    amount_cents: int
    currency: str
    customer_ref: str
    payment_method_ref: str
    idempotency_key: str
    description: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    payment_ref: str | None
    failure_message: str | None = None


@dataclass(frozen=True)
class RefundRequest:
    payment_ref: str
    amount_cents: int
    idempotency_key: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool
    refund_ref: str | None
    failure_message: str | None = None


class PaymentGateway(Protocol):
    """What billing needs from a payment processor."""

    name: str

    def create_customer(self, request: CustomerRequest) -> str:
        """Create the household's customer and return its reference.

        Raises:
            GatewayUnavailable: the gateway could not be reached.
        """
        ...

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge a saved payment method; a decline is a FAILED result, not an exception.

        Raises:
            GatewayUnavailable: the outcome is unknown; retry with the same idempotency key.
        """
        ...

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund (part of) a payment.

        Raises:
            GatewayUnavailable: the outcome is unknown; retry with the same idempotency key.
        """
        ...


@dataclass(frozen=True)
class WebhookEvent:
    """A verified gateway webhook event, reduced to what billing applies."""

    event_id: str
    event_type: str
    payment_ref: str | None
    amount_cents: int | None = None
    amount_refunded_cents: int | None = None
    failure_message: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


# Event types billing applies; anything else is acknowledged and ignored.
PAYMENT_SUCCEEDED = "payment_intent.succeeded"
PAYMENT_FAILED = "payment_intent.payment_failed"
CHARGE_REFUNDED = "charge.refunded"
HANDLED_EVENTS = frozenset({PAYMENT_SUCCEEDED, PAYMENT_FAILED, CHARGE_REFUNDED})

DISABLED_MESSAGE = (
    "online charging is disabled: no payment gateway is configured (set STRIPE_API_KEY and "
    "STRIPE_WEBHOOK_SECRET and restart the server); record check, cash or transfer payments with record_payment"
)
