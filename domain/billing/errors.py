"""Billing errors, named for the rule they enforce (NotFound, NotApplicable and friends live in domain.errors)."""

from __future__ import annotations

from domain.errors import DomainError


class OnlineChargingDisabled(DomainError):
    """No payment gateway is configured (STRIPE_API_KEY unset): only manual payments can be recorded."""

    code = "online_charging_disabled"
    status = 409


class GatewayUnavailable(DomainError):
    """The gateway could not be reached or failed; nothing was recorded, and a retry is safe."""

    code = "gateway_unavailable"
    status = 502


class BillingInProgress(DomainError):
    """The agreement has installments due, paid or being charged: its price can no longer change."""

    code = "billing_in_progress"
    status = 409


class InstallmentNotChargeable(DomainError):
    """The installment is cancelled, or the household has nothing left to pay on it."""

    code = "installment_not_chargeable"
    status = 409


class PaymentMethodMissing(DomainError):
    """The household has no saved payment method at the gateway and none was given."""

    code = "payment_method_missing"
    status = 409


class RefundExceedsPayment(DomainError):
    """A refund larger than what is left of the payment after earlier refunds."""

    code = "refund_exceeds_payment"
    status = 409


class RefundRefused(DomainError):
    """The gateway declined the refund (e.g. the payment was disputed); nothing was recorded."""

    code = "refund_refused"
    status = 409
