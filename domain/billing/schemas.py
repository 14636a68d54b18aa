"""Inputs and read models of the billing area; every amount is integer cents (100000 = $1,000.00)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel, Field, model_validator

from db.models import AttemptStatus, InstallmentStatus, LedgerKind, PaymentMethod

MAX_PAGE = 500
MANUAL_METHODS = (PaymentMethod.CHECK, PaymentMethod.CASH, PaymentMethod.TRANSFER)


# -- inputs ------------------------------------------------------------------------------------


class PreviewTuitionInput(BaseModel):
    enrollment_id: uuid.UUID | None = Field(
        default=None,
        description="Price an existing enrollment (from query_roster). Give this, or offering_id for a what-if.",
    )
    offering_id: uuid.UUID | None = Field(
        default=None, description="What-if: the offering to price (from list_offerings), instead of enrollment_id."
    )
    household_id: uuid.UUID | None = Field(
        default=None,
        description="What-if: the paying household (from get_household); its enrolled children count for the "
        "sibling discount.",
    )
    student_id: uuid.UUID | None = Field(
        default=None, description="What-if: the student (from search_students); their households' shares apply."
    )
    start_on: dt.date | None = Field(
        default=None, description="What-if: the first day of billing; later than the offering start prorates."
    )
    plan_code: str | None = Field(
        default=None,
        max_length=40,
        description="Payment plan code: 'annual' (1 payment), 'semester' (2) or 'monthly' (10). "
        "Defaults to the enrollment's plan, else annual.",
    )
    discount_codes: list[str] | None = Field(
        default=None,
        description="What-if: exactly these discount codes (e.g. ['sibling', 'founding_family']); "
        "omit to apply the discounts the family is eligible for.",
    )

    @model_validator(mode="after")
    def _one_subject(self) -> PreviewTuitionInput:
        if (self.enrollment_id is None) == (self.offering_id is None):
            raise ValueError("give exactly one of enrollment_id or offering_id")
        return self


class BalanceInput(BaseModel):
    household_id: uuid.UUID | None = Field(default=None, description="The household (from get_household).")
    student_id: uuid.UUID | None = Field(
        default=None, description="Or a student (from search_students): their charges in each of their households."
    )
    as_of: dt.date | None = Field(default=None, description="The day the balance is computed for; default today.")

    @model_validator(mode="after")
    def _one_subject(self) -> BalanceInput:
        if (self.household_id is None) == (self.student_id is None):
            raise ValueError("give exactly one of household_id or student_id")
        return self


class OutstandingBalancesQuery(BaseModel):
    org_id: uuid.UUID | None = Field(default=None, description="Only this org's subtree (a campus or a brand).")
    over_cents: int | None = Field(
        default=None,
        ge=0,
        description="Only balances strictly greater than this many CENTS (100000 = $1,000.00). "
        "Give this or over_dollars, not both; default 0 (anything owed).",
    )
    over_dollars: Decimal | None = Field(
        default=None,
        ge=0,
        decimal_places=2,
        description="Only balances strictly greater than this many DOLLARS (1000 = $1,000.00).",
    )
    overdue_only: bool = Field(default=False, description="Only households with an amount past its due date.")
    as_of: dt.date | None = Field(default=None, description="The day balances are computed for; default today.")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description=f"At most this many households (max {MAX_PAGE}).")
    offset: int = Field(default=0, ge=0, description="Skip this many households (paging).")

    @model_validator(mode="after")
    def _one_threshold(self) -> OutstandingBalancesQuery:
        if self.over_cents is not None and self.over_dollars is not None:
            raise ValueError("give over_cents or over_dollars, not both")
        return self

    def threshold_cents(self) -> int:
        """The threshold in cents, whichever unit it was given in."""
        if self.over_dollars is not None:
            return int(self.over_dollars * 100)
        return self.over_cents or 0


class RecordPaymentInput(BaseModel):
    household_id: uuid.UUID = Field(description="The paying household (from get_household or compute_balance).")
    amount_cents: int = Field(
        gt=0, le=100_000_000, description="Amount received in cents (125000 = $1,250.00); at most $1,000,000."
    )
    method: PaymentMethod = Field(description="'check', 'cash' or 'transfer' (card payments come from the gateway).")
    paid_on: dt.date | None = Field(default=None, description="The day the money was received; default today.")
    reference: str | None = Field(default=None, max_length=120, description="Check number or transfer reference.")
    installment_id: uuid.UUID | None = Field(
        default=None, description="The installment this pays (from compute_balance); omit to pay the oldest first."
    )
    memo: str | None = Field(default=None, max_length=300, description="A note for the ledger.")
    confirm_duplicate: bool = Field(
        default=False,
        description="Record it although this household already has a payment with this method and reference "
        "(a second check with the same number is refused unless this is true).",
    )

    @model_validator(mode="after")
    def _manual_only(self) -> RecordPaymentInput:
        if self.method not in MANUAL_METHODS:
            raise ValueError("record_payment takes check, cash or transfer; card payments come from charge_installment")
        return self


class SetPaymentPlanInput(BaseModel):
    enrollment_id: uuid.UUID = Field(description="The enrollment to bill (from query_roster).")
    plan_code: str = Field(max_length=40, description="'annual' (1 payment), 'semester' (2) or 'monthly' (10).")
    reason: str | None = Field(default=None, max_length=300, description="Why (audit).")


class ApplyDiscountInput(BaseModel):
    household_id: uuid.UUID = Field(description="The household granted the discount (from get_household).")
    discount_code: str = Field(
        max_length=40, description="e.g. 'founding_family', 'parent_advocate_1', 'subsidy_half' (see preview_tuition)."
    )
    student_id: uuid.UUID | None = Field(default=None, description="Only this student of the household; omit for all.")
    offering_id: uuid.UUID | None = Field(default=None, description="Only this offering; omit for every offering.")
    reason: str = Field(min_length=2, max_length=300, description="Why the discount is granted (audit).")


class ChargeInstallmentInput(BaseModel):
    installment_id: uuid.UUID = Field(description="The installment to collect (from compute_balance).")
    payment_method_ref: str | None = Field(
        default=None,
        max_length=120,
        description="A gateway payment method id (pm_...) to charge and save for the household; omit to use the "
        "saved one.",
    )


class RefundPaymentInput(BaseModel):
    payment_id: uuid.UUID = Field(description="The payment's ledger entry id (from compute_balance entries).")
    amount_cents: int | None = Field(
        default=None, gt=0, description="Cents to refund; default what is left of the payment after earlier refunds."
    )
    method: PaymentMethod | None = Field(
        default=None,
        description="How a manual refund is paid out ('check', 'cash', 'transfer'); card payments are refunded "
        "through the gateway.",
    )
    reason: str = Field(min_length=2, max_length=300, description="Why the money is returned (audit).")


class SettleWithdrawalInput(BaseModel):
    enrollment_id: uuid.UUID = Field(description="A withdrawn enrollment (from query_roster with status withdrawn).")


# -- read models -------------------------------------------------------------------------------


class PriceLine(BaseModel):
    kind: str = Field(description="'tuition', 'discount' (lowers the total) or 'fee'.")
    code: str
    name: str
    amount_cents: int = Field(description="The line's amount in cents; discounts are positive amounts taken off.")
    basis_cents: int = Field(
        description="Tuition and fees: the amount before proration. Discounts: the running amount they applied to."
    )


class InstallmentLine(BaseModel):
    seq: int
    due_on: dt.date
    amount_cents: int


class HouseholdPart(BaseModel):
    household_id: uuid.UUID
    household_name: str
    share_bp: int = Field(description="Billing share in basis points (10000 = 100%).")
    gross_cents: int
    discount_cents: int
    total_cents: int
    installments: list[InstallmentLine]


class TuitionPreview(BaseModel):
    source: str = Field(description="'agreement' (the enrollment's agreed terms) or 'what_if'.")
    agreement_id: uuid.UUID | None
    enrollment_id: uuid.UUID | None
    student_id: uuid.UUID | None
    offering_id: uuid.UUID
    offering_name: str
    plan_code: str
    plan_name: str
    billing_start: dt.date
    billed_months: int = Field(description="Months billed (proration: joining after the 15th skips that month).")
    offering_months: int
    lines: list[PriceLine]
    gross_cents: int
    discount_cents: int
    total_cents: int
    installments: list[InstallmentLine] = Field(description="The student's schedule: these sum exactly to the total.")
    households: list[HouseholdPart] = Field(description="Each household's share and its own schedule.")


class LedgerEntryRead(BaseModel):
    id: uuid.UUID
    kind: LedgerKind
    amount_cents: int = Field(description="Signed: charges and refunds raise the balance, the rest lower it.")
    posted_on: dt.date
    memo: str
    student_id: uuid.UUID | None
    installment_id: uuid.UUID | None
    method: PaymentMethod | None
    reference: str | None


class InstallmentRead(BaseModel):
    id: uuid.UUID
    agreement_id: uuid.UUID
    student_id: uuid.UUID
    seq: int
    due_on: dt.date
    amount_cents: int
    status: InstallmentStatus


class HouseholdBalance(BaseModel):
    household_id: uuid.UUID
    household_name: str
    as_of: dt.date
    charges_cents: int = Field(description="Charges posted by as_of.")
    discounts_cents: int = Field(description="Discount credits posted by as_of (a positive amount off).")
    payments_cents: int = Field(description="Payments received by as_of (positive).")
    refunds_cents: int = Field(description="Refunds paid out by as_of (positive).")
    cancellations_cents: int = Field(description="Withdrawal cancellations and credits by as_of (positive).")
    balance_cents: int = Field(description="What the household owes on as_of (negative: credit in its favour).")
    overdue_cents: int = Field(description="Of the balance, the part past its due date.")
    oldest_overdue_on: dt.date | None = Field(description="Due date of the oldest installment still unpaid.")
    next_due_on: dt.date | None = Field(description="The next installment due after as_of.")
    next_due_cents: int | None
    scheduled_cents: int = Field(description="Installments due after as_of, not yet in the balance.")
    installments: list[InstallmentRead]
    entries: list[LedgerEntryRead] = Field(description="Ledger entries posted by as_of, oldest first.")


class BalanceReport(BaseModel):
    as_of: dt.date
    student_id: uuid.UUID | None = Field(description="Set when the balance is one student's charges.")
    balance_cents: int = Field(description="Sum over the households shown.")
    overdue_cents: int
    households: list[HouseholdBalance]


class OutstandingBalance(BaseModel):
    household_id: uuid.UUID
    household_name: str
    org_id: uuid.UUID
    campus: str
    balance_cents: int
    overdue_cents: int
    oldest_overdue_on: dt.date | None


class OutstandingBalancePage(BaseModel):
    as_of: dt.date
    over_cents: int = Field(description="The threshold applied: balances strictly greater than this.")
    items: list[OutstandingBalance]
    total: int
    total_balance_cents: int = Field(description="Sum of the balances of every matching household (all pages).")
    limit: int
    offset: int
    next_offset: int | None


class PaymentRead(BaseModel):
    payment_id: uuid.UUID = Field(description="The payment's ledger entry (refund_payment takes it).")
    household_id: uuid.UUID
    amount_cents: int
    method: PaymentMethod
    posted_on: dt.date
    reference: str | None
    balance_cents: int = Field(description="The household's balance after the payment, on the payment day.")


class AgreementRead(BaseModel):
    agreement_id: uuid.UUID
    preview: TuitionPreview


class DiscountGrantRead(BaseModel):
    grant_id: uuid.UUID
    household_id: uuid.UUID
    discount_code: str
    student_id: uuid.UUID | None
    offering_id: uuid.UUID | None
    repriced_agreement_ids: list[uuid.UUID] = Field(description="Agreements re-priced with the discount now.")
    unchanged_agreement_ids: list[uuid.UUID] = Field(
        description="Agreements already billing (due, paid or charged): the discount applies from the next one."
    )


class ChargeRead(BaseModel):
    installment_id: uuid.UUID
    household_id: uuid.UUID
    attempt_no: int
    idempotency_key: str
    amount_cents: int
    status: AttemptStatus
    gateway_ref: str | None
    failure_message: str | None
    payment_id: uuid.UUID | None = Field(description="The payment's ledger entry when the charge succeeded.")
    replayed: bool = Field(description="True when this repeats an earlier attempt's outcome (nothing was charged).")


class RefundRead(BaseModel):
    refund_id: uuid.UUID = Field(description="The refund's ledger entry.")
    payment_id: uuid.UUID
    household_id: uuid.UUID
    amount_cents: int
    through_gateway: bool
    gateway_ref: str | None
    balance_cents: int


class WithdrawalHouseholdRead(BaseModel):
    household_id: uuid.UUID
    cancelled_installments: int
    cancelled_cents: int
    earned_cents: int
    unearned_cents: int
    refund_bp: int = Field(description="The refund tier applied to the unearned amount (10000 = 100%).")
    credit_cents: int = Field(description="Credited for unearned tuition kept (refundable if paid).")
    refund_due_cents: int = Field(description="Paid beyond what is now owed: refund it with refund_payment.")


class WithdrawalRead(BaseModel):
    agreement_id: uuid.UUID
    enrollment_id: uuid.UUID
    last_day: dt.date
    refund_rule: str | None
    households: list[WithdrawalHouseholdRead]
