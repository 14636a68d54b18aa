"""Billing the SIS owns: fee, discount, plan and refund rules as data; agreements, installments, the ledger.

Every amount is integer cents. Ledger amounts are signed from the household's point of view:
charges and refunds raise what it owes (positive), credits, payments and cancellations lower it
(negative), so a balance is a plain SUM. Installment charges are written when a plan is set, each
dated on its due date, so "the balance on a day" is the sum of entries posted on or before it.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps, UUIDPrimaryKey, utcnow
from db.models._types import str_enum


class FeeKind(enum.StrEnum):
    DEPOSIT = "deposit"
    REGISTRATION = "registration"
    LUNCH = "lunch"
    MATERIALS = "materials"
    TECHNOLOGY = "technology"
    LATE = "late"
    ACTIVITY = "activity"
    OTHER = "other"


class FeeTiming(enum.StrEnum):
    UPFRONT = "upfront"  # added whole to the first installment
    SPREAD = "spread"  # split across the installments with tuition


class DiscountKind(enum.StrEnum):
    SIBLING = "sibling"
    FOUNDING_FAMILY = "founding_family"
    PARENT_ADVOCATE = "parent_advocate"
    SUBSIDY = "subsidy"
    STAFF = "staff"
    SCHOLARSHIP = "scholarship"
    EARLY_PAYMENT = "early_payment"
    OTHER = "other"


class DiscountEligibility(enum.StrEnum):
    SIBLING = "sibling"  # automatic: the household's Nth enrolled child onward
    GRANTED = "granted"  # only where a DiscountGrant says so (apply_discount)


class AgreementStatus(enum.StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class InstallmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"


class LedgerKind(enum.StrEnum):
    CHARGE = "charge"
    CREDIT = "credit"
    PAYMENT = "payment"
    REFUND = "refund"
    CANCELLATION = "cancellation"


class PaymentMethod(enum.StrEnum):
    CHECK = "check"
    CASH = "cash"
    TRANSFER = "transfer"
    CARD = "card"


class AttemptStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Versioned:
    """A rule defined again under the same code is a new version; older versions stay, and stay referenced.

    Pricing reads, for a date, the highest version whose effective_from is on or before it.
    """

    version: Mapped[int] = mapped_column(default=1)
    effective_from: Mapped[dt.date]


class FeeDefinition(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """A fee charged besides tuition (deposit, lunch program, ...): for one offering, a program, or org-wide."""

    __tablename__ = "fee_definition"
    __table_args__ = (
        UniqueConstraint("org_id", "code", "applies_to_id", "version"),
        CheckConstraint("amount_cents >= 0", name="amount_nonnegative"),
        CheckConstraint("offering_id IS NULL OR program_id IS NULL", name="one_target"),
    )

    # Applies to offerings at this org and below (org-wide), or only to one program's or one offering's.
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    offering_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("program_offering.id"), index=True)
    program_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("program.id"), index=True)
    # The offering, program or (org-wide) org the fee applies to: versions of one fee share it and the code.
    applies_to_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[FeeKind] = mapped_column(str_enum(FeeKind))
    amount_cents: Mapped[int]
    timing: Mapped[FeeTiming] = mapped_column(str_enum(FeeTiming), default=FeeTiming.SPREAD)
    prorated: Mapped[bool] = mapped_column(default=True)
    refundable: Mapped[bool] = mapped_column(default=True)
    is_active: Mapped[bool] = mapped_column(default=True)


class DiscountDefinition(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """A discount rule of an org subtree: percent (basis points) or fixed cents, in a stacking order."""

    __tablename__ = "discount_definition"
    __table_args__ = (
        UniqueConstraint("org_id", "code", "version"),
        CheckConstraint("(percent_bp IS NULL) <> (amount_cents IS NULL)", name="percent_xor_amount"),
        CheckConstraint("percent_bp IS NULL OR percent_bp BETWEEN 0 AND 10000", name="percent_range"),
        CheckConstraint("amount_cents IS NULL OR amount_cents >= 0", name="amount_nonnegative"),
        CheckConstraint("cap_cents IS NULL OR cap_cents >= 0", name="cap_nonnegative"),
        CheckConstraint("sibling_rank_min IS NULL OR sibling_rank_min >= 2", name="sibling_rank"),
    )

    # Applies to offerings at this org and every org below it.
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[DiscountKind] = mapped_column(str_enum(DiscountKind))
    percent_bp: Mapped[int | None]
    amount_cents: Mapped[int | None]
    cap_cents: Mapped[int | None]
    stacking_order: Mapped[int]
    eligibility: Mapped[DiscountEligibility] = mapped_column(str_enum(DiscountEligibility))
    # For sibling eligibility: the child's rank in the household from which it applies (2 = second child on).
    sibling_rank_min: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)


class DiscountGrant(UUIDPrimaryKey, Timestamps, Base):
    """A granted discount for a household (all its students, or one), optionally for one offering."""

    __tablename__ = "discount_grant"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    discount_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("discount_definition.id"), index=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), index=True)
    student_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("student.id"))
    offering_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("program_offering.id"))
    reason: Mapped[str | None] = mapped_column(String(300))
    granted_on: Mapped[dt.date]
    revoked_on: Mapped[dt.date | None]


class PaymentPlan(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """How a year's amount is split: due dates as month offsets from the offering's start month."""

    __tablename__ = "payment_plan"
    __table_args__ = (
        UniqueConstraint("org_id", "code", "version"),
        CheckConstraint("installment_count BETWEEN 1 AND 24", name="count_range"),
        CheckConstraint("due_day BETWEEN 1 AND 28", name="due_day_range"),
        CheckConstraint("installment_fee_cents >= 0", name="installment_fee_nonnegative"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    installment_count: Mapped[int]
    # e.g. [0, 5] for semesters starting in August: due in August and January.
    due_month_offsets: Mapped[list[Any]]
    due_day: Mapped[int]
    # Added to every installment of the plan (a processing fee of a monthly plan, say).
    installment_fee_cents: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)


class RefundRule(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """What share of unearned, paid tuition a withdrawal refunds, by days since the billing start or by date."""

    __tablename__ = "refund_rule"
    __table_args__ = (UniqueConstraint("org_id", "code", "applies_to_id", "version"),)

    # Applies at this org and below; an offering-specific rule wins over the org's.
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    offering_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("program_offering.id"))
    # The offering, or (org-wide) the org: versions of one rule share it and the code.
    applies_to_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    # [{"within_days": 30, "refund_bp": 10000}, {"within_days": null, "refund_bp": 5000}]
    # or by withdrawal date: [{"through_on": "2026-09-30", "refund_bp": 10000}, ...]
    tiers: Mapped[list[Any]]
    is_active: Mapped[bool] = mapped_column(default=True)


class BillingAgreement(UUIDPrimaryKey, Timestamps, Base):
    """The priced terms of one enrollment: the plan and a snapshot of the rules, from which amounts derive."""

    __tablename__ = "billing_agreement"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrollment.id"), unique=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    offering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program_offering.id"), index=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_plan.id"))
    status: Mapped[AgreementStatus] = mapped_column(str_enum(AgreementStatus), default=AgreementStatus.ACTIVE)
    # The inputs of the one pricing function, frozen when the plan was set (see domain/billing/rules.py);
    # they name the version of every fee, discount and plan that priced it.
    terms: Mapped[dict[str, Any]]
    total_cents: Mapped[int]
    withdrawn_on: Mapped[dt.date | None]
    # The agreement date: rule versions in force on it priced the agreement (null before versioning).
    priced_on: Mapped[dt.date | None]
    # The refund rule version in force on priced_on, which a withdrawal applies.
    refund_rule_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("refund_rule.id"))


class Installment(UUIDPrimaryKey, Timestamps, Base):
    """One household's share of one scheduled payment of an agreement."""

    __tablename__ = "installment"
    __table_args__ = (
        # Not unique: re-pricing cancels a schedule and writes a new one with the same numbers.
        CheckConstraint("amount_cents >= 0", name="amount_nonnegative"),
        Index("ix_installment_household_due", "household_id", "due_on"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_agreement.id"), index=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"))
    seq: Mapped[int]
    due_on: Mapped[dt.date]
    amount_cents: Mapped[int]
    status: Mapped[InstallmentStatus] = mapped_column(str_enum(InstallmentStatus), default=InstallmentStatus.SCHEDULED)
    # Gateway attempts so far; the next attempt's idempotency key uses attempt_count + 1.
    attempt_count: Mapped[int] = mapped_column(default=0)


class LedgerEntry(UUIDPrimaryKey, Base):
    """One signed amount on a household's account; entries are only ever appended."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_entry_household_posted", "household_id", "posted_on"),
        CheckConstraint(
            "(kind IN ('charge', 'refund') AND amount_cents >= 0)"
            " OR (kind IN ('credit', 'payment') AND amount_cents <= 0)"
            " OR kind = 'cancellation'",
            name="sign_by_kind",
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"))
    student_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("student.id"))
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("billing_agreement.id"), index=True)
    installment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("installment.id"), index=True)
    kind: Mapped[LedgerKind] = mapped_column(str_enum(LedgerKind))
    amount_cents: Mapped[int]
    posted_on: Mapped[dt.date]
    memo: Mapped[str] = mapped_column(String(300))
    method: Mapped[PaymentMethod | None] = mapped_column(str_enum(PaymentMethod))
    # Check number, transfer reference, or the gateway's object id.
    reference: Mapped[str | None] = mapped_column(String(120))
    # A gateway payment is recorded once per attempt, whichever of the response or the webhook comes first.
    payment_attempt_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_attempt.id"), unique=True)
    # For refunds: the payment entry refunded.
    refund_of_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_entry.id"), index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PaymentAttempt(UUIDPrimaryKey, Timestamps, Base):
    """One try at collecting an installment through the gateway, keyed so that a retry never charges twice."""

    __tablename__ = "payment_attempt"
    __table_args__ = (UniqueConstraint("installment_id", "attempt_no"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    installment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("installment.id"))
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"))
    attempt_no: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    amount_cents: Mapped[int]
    status: Mapped[AttemptStatus] = mapped_column(str_enum(AttemptStatus), default=AttemptStatus.PENDING)
    gateway_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    failure_message: Mapped[str | None] = mapped_column(String(500))


class BillingCustomer(UUIDPrimaryKey, Timestamps, Base):
    """The gateway's customer for a household (one per household)."""

    __tablename__ = "billing_customer"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), unique=True)
    customer_ref: Mapped[str] = mapped_column(String(120), unique=True)
    # The saved payment method charged for installments, when the household set one up.
    payment_method_ref: Mapped[str | None] = mapped_column(String(120))


class GatewayEvent(Base):
    """A gateway webhook event already applied: delivery is at-least-once, application is exactly once."""

    __tablename__ = "gateway_event"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(80))
    object_ref: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(300))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
