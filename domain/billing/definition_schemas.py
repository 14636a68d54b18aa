"""Inputs and read models of the billing definitions: fees, discounts, payment plans and refund rules.

Every amount is integer cents (100000 = $1,000.00) and every percentage basis points (10000 = 100%).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from pydantic import BaseModel, Field, field_validator

from db.models import DiscountEligibility, DiscountKind, FeeKind, FeeTiming

CODE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_CODE = "Short stable code, lower case letters, digits and underscores (e.g. 'registration')."
_EFFECTIVE = (
    "First day this version prices agreements (default today). Defining the same code again at the same org "
    "makes a new version; agreements already priced keep the version that priced them."
)
_ACTIVE = "false retires the code from effective_from on (a retired version prices nothing)."


class DefinitionKind(enum.StrEnum):
    FEE = "fee"
    DISCOUNT = "discount"
    PAYMENT_PLAN = "payment_plan"
    REFUND_RULE = "refund_rule"


class VersionStatus(enum.StrEnum):
    CURRENT = "current"  # the version in force on the day asked about
    SCHEDULED = "scheduled"  # takes effect later
    SUPERSEDED = "superseded"  # a later version took over (it stays, referenced by what it priced)
    RETIRED = "retired"  # in force, but retires the code


# -- inputs ------------------------------------------------------------------------------------


class _Definition(BaseModel):
    org_id: uuid.UUID = Field(description="The FULL_SIS org (campus or brand, from whoami) whose rule this is.")
    code: str = Field(pattern=CODE_PATTERN, description=_CODE)
    name: str = Field(min_length=1, max_length=200, description="Name shown on price lines and ledgers.")
    effective_from: dt.date | None = Field(default=None, description=_EFFECTIVE)
    active: bool = Field(default=True, description=_ACTIVE)
    reason: str | None = Field(default=None, max_length=300, description="Why (kept with the change events).")


class DefineFeeInput(_Definition):
    """A fee charged besides tuition: org-wide, for one program's offerings, or for one offering."""

    kind: FeeKind = Field(description="registration, materials, technology, late, activity, deposit, lunch or other.")
    amount_cents: int = Field(ge=0, le=100_000_000, description="The fee for a full year, in cents.")
    offering_id: uuid.UUID | None = Field(
        default=None, description="Only this offering (from list_offerings); omit for every offering of the org."
    )
    program_id: uuid.UUID | None = Field(
        default=None, description="Only this program's offerings; omit for every offering of the org."
    )
    timing: FeeTiming = Field(
        default=FeeTiming.UPFRONT,
        description="'upfront': charged once, with the first installment; 'spread': divided across the installments.",
    )
    prorated: bool | None = Field(
        default=None, description="Prorated for a mid-year start (default: only spread fees are prorated)."
    )
    refundable: bool = Field(default=True, description="Whether a withdrawal refund covers it.")


class DefineDiscountInput(_Definition):
    """A discount of tuition: a percentage (basis points) or a fixed amount, applied in stacking order."""

    kind: DiscountKind = Field(
        description="sibling, staff, scholarship, early_payment, founding_family, parent_advocate, subsidy or other."
    )
    percent_bp: int | None = Field(
        default=None, ge=0, le=10_000, description="Percent in basis points (1000 = 10%); or give amount_cents."
    )
    amount_cents: int | None = Field(default=None, ge=0, le=100_000_000, description="A fixed amount off, in cents.")
    cap_cents: int | None = Field(default=None, ge=0, le=100_000_000, description="At most this many cents off.")
    stacking_order: int = Field(
        default=100, ge=0, le=10_000, description="Lower applies first; each percentage applies to what is left."
    )
    eligibility: DiscountEligibility = Field(
        default=DiscountEligibility.GRANTED,
        description="'granted': only where apply_discount grants it; 'sibling': automatic by sibling rank.",
    )
    sibling_rank_min: int | None = Field(
        default=None, ge=2, le=20, description="For sibling eligibility: from the Nth child on (2 = second child)."
    )


class DefinePaymentPlanInput(_Definition):
    """How an agreement's amount is split into installments and when they are due."""

    installment_count: int = Field(ge=1, le=24, description="Number of installments (1 = one payment).")
    due_month_offsets: list[int] | None = Field(
        default=None,
        description="Months after the offering's start month each installment is due, increasing, one per "
        "installment (e.g. [0, 5] for August and January); default every month from the start.",
    )
    due_day: int = Field(default=1, ge=1, le=28, description="Day of the month installments are due.")
    installment_fee_cents: int = Field(
        default=0, ge=0, le=10_000_000, description="A fee added to every installment (cents); default none."
    )

    @field_validator("due_month_offsets")
    @classmethod
    def _months(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(not 0 <= m <= 35 for m in value):
            raise ValueError("due months are 0..35 months after the start month")
        return value


class RefundTierInput(BaseModel):
    within_days: int | None = Field(
        default=None, ge=0, le=3_650, description="Withdrawals at most this many days after the billing start."
    )
    through_on: dt.date | None = Field(default=None, description="Or: withdrawals with a last day on or before this.")
    refund_bp: int = Field(ge=0, le=10_000, description="Share of unearned tuition refunded (10000 = 100%).")


class SetRefundRulesInput(BaseModel):
    """A withdrawal refund schedule for an offering or an org subtree (a new version of the one there)."""

    org_id: uuid.UUID | None = Field(default=None, description="The org whose schedule this is; or offering_id.")
    offering_id: uuid.UUID | None = Field(default=None, description="Or one offering's schedule (from list_offerings).")
    name: str = Field(
        default="Withdrawal refund", min_length=1, max_length=200, description="Name shown on withdrawal credits."
    )
    tiers: list[RefundTierInput] = Field(
        min_length=1,
        max_length=12,
        description="In order: each tier by within_days or all by through_on, limits increasing; the last tier may "
        "give neither (any later withdrawal). E.g. [{within_days: 30, refund_bp: 10000}, {refund_bp: 5000}].",
    )
    effective_from: dt.date | None = Field(default=None, description=_EFFECTIVE)
    reason: str | None = Field(default=None, max_length=300, description="Why (kept with the change events).")


class BillingDefinitionsQuery(BaseModel):
    org_id: uuid.UUID = Field(description="The org (from whoami): its own, inherited and its campuses' definitions.")
    kind: DefinitionKind | None = Field(
        default=None, description="Only fees, discounts, payment plans or refund rules."
    )
    as_of: dt.date | None = Field(
        default=None, description="The day whose current versions are marked (default today)."
    )


# -- read models -------------------------------------------------------------------------------


class VersionRead(BaseModel):
    id: uuid.UUID = Field(description="This version's id (agreements priced with it name it).")
    org_id: uuid.UUID
    code: str
    name: str
    version: int
    effective_from: dt.date
    until: dt.date | None = Field(description="The day the next version takes over, if any.")
    status: VersionStatus
    active: bool


class FeeRead(VersionRead):
    kind: FeeKind
    amount_cents: int
    applies_to: str = Field(description="'org', 'program' or 'offering'.")
    offering_id: uuid.UUID | None
    program_id: uuid.UUID | None
    timing: FeeTiming
    prorated: bool
    refundable: bool


class DiscountRead(VersionRead):
    kind: DiscountKind
    percent_bp: int | None
    amount_cents: int | None
    cap_cents: int | None
    stacking_order: int
    eligibility: DiscountEligibility
    sibling_rank_min: int | None


class PaymentPlanRead(VersionRead):
    installment_count: int
    due_month_offsets: list[int]
    due_day: int
    installment_fee_cents: int


class RefundTierRead(BaseModel):
    within_days: int | None
    through_on: dt.date | None
    refund_bp: int


class RefundRuleRead(VersionRead):
    applies_to: str = Field(description="'org' or 'offering'.")
    offering_id: uuid.UUID | None
    tiers: list[RefundTierRead]


class BillingDefinitions(BaseModel):
    as_of: dt.date
    fees: list[FeeRead]
    discounts: list[DiscountRead]
    payment_plans: list[PaymentPlanRead]
    refund_rules: list[RefundRuleRead]
    row_count: int = Field(description="Versions listed.")
