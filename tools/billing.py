"""Billing tools: prices, balances, payments, plans, discounts, gateway charges and refunds (financial data)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.billing import agreements, charges, ledger, previews, withdrawal
from domain.billing.schemas import (
    AgreementRead,
    ApplyDiscountInput,
    BalanceInput,
    BalanceReport,
    ChargeInstallmentInput,
    ChargeRead,
    DiscountGrantRead,
    OutstandingBalancePage,
    OutstandingBalancesQuery,
    PaymentRead,
    PreviewTuitionInput,
    RecordPaymentInput,
    RefundPaymentInput,
    RefundRead,
    SetPaymentPlanInput,
    SettleWithdrawalInput,
    TuitionPreview,
    WithdrawalRead,
)
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, tool

# Billing outputs name households and amounts; the students they concern are disclosed through these fields.
_STUDENT_FIELDS = ("student_id",)


@tool(data_class=DataClass.FINANCIAL, title="Preview tuition", student_id_fields=_STUDENT_FIELDS)
def preview_tuition(session: Session, scope: Scope, data: PreviewTuitionInput, ctx: ToolContext) -> TuitionPreview:
    """Show every price line (tuition, discounts in stacking order, fees) and every installment, in cents.

    For an enrolled student pass enrollment_id (from query_roster): with a plan set this is exactly what will be
    charged. For a what-if pass offering_id (list_offerings) plus household_id, plan_code or discount_codes.
    Roster-only schools have no billing (not_applicable).
    """
    return previews.preview_tuition(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, title="Household balance", student_id_fields=_STUDENT_FIELDS)
def compute_balance(session: Session, scope: Scope, data: BalanceInput, ctx: ToolContext) -> BalanceReport:
    """A household's (or one student's) ledger: charges, discounts, payments, refunds, balance, overdue, next due.

    household_id comes from get_household or list_outstanding_balances; student_id from search_students.
    Also lists installments (ids for charge_installment) and ledger entries (payment ids for refund_payment).
    Amounts are cents (100000 = $1,000.00).
    """
    return ledger.compute_balance(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, title="Outstanding balances")
def list_outstanding_balances(
    session: Session, scope: Scope, data: OutstandingBalancesQuery, ctx: ToolContext
) -> OutstandingBalancePage:
    """List families (households) owing more than a threshold, largest balance first, in your financial scope.

    For "which families have outstanding balances over $1,000?" pass over_dollars=1000 (or over_cents=100000).
    overdue_only=true keeps families with an amount past due; org_id limits to a campus or brand (whoami).
    A balance counts installments due by as_of (default today) minus payments; amounts are cents.
    """
    return ledger.list_outstanding_balances(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Record a payment", idempotent=False)
def record_payment(session: Session, scope: Scope, data: RecordPaymentInput, ctx: ToolContext) -> PaymentRead:
    """Record a check, cash or bank-transfer payment a household made (amount in cents).

    household_id from compute_balance or get_household; installment_id (optional) from compute_balance,
    otherwise the money pays the oldest installments first. Card payments come from charge_installment.
    """
    return ledger.record_payment(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Set payment plan", student_id_fields=_STUDENT_FIELDS)
def set_payment_plan(session: Session, scope: Scope, data: SetPaymentPlanInput, ctx: ToolContext) -> AgreementRead:
    """Bill an enrollment on a plan (a code from list_billing_definitions, e.g. 'annual' or 'monthly'): prices it
    with the fees, discounts and plan in force today and schedules each household's installments on their ledgers.

    enrollment_id from query_roster. Check the amounts first with preview_tuition. Fails with
    billing_in_progress once an installment was paid or charged.
    """
    return agreements.set_payment_plan(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Apply a discount", idempotent=False)
def apply_discount(session: Session, scope: Scope, data: ApplyDiscountInput, ctx: ToolContext) -> DiscountGrantRead:
    """Grant a discount (founding family, parent advocate tier, subsidy...) to a household or one of its students.

    household_id from get_household; discount codes appear in preview_tuition lines. Agreements not yet billing
    are re-priced at once; the others keep their price (listed as unchanged). Sibling discounts are automatic.
    """
    return agreements.apply_discount(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Charge an installment", idempotent=True)
def charge_installment(session: Session, scope: Scope, data: ChargeInstallmentInput, ctx: ToolContext) -> ChargeRead:
    """Charge one installment to the household's saved card through the payment gateway: its scheduled amount
    (as preview_tuition shows it), less anything a check or transfer already paid toward it.

    installment_id from compute_balance. Safe to retry: a charge that succeeded or is processing is reported
    again, never repeated. Fails when online charging is disabled (no gateway configured) or the installment
    is cancelled or already paid; a declined card comes back as status 'failed'.
    """
    return charges.charge_installment(session, scope, data, today=ctx.today, gateway=ctx.gateway)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Refund a payment", idempotent=False, destructive=True)
def refund_payment(session: Session, scope: Scope, data: RefundPaymentInput, ctx: ToolContext) -> RefundRead:
    """Return all or part of a payment: card payments through the gateway, others recorded as paid out by hand.

    payment_id is the payment's ledger entry id from compute_balance. Fails when asking for more than is left
    of the payment after earlier refunds.
    """
    return charges.refund_payment(session, scope, data, today=ctx.today, gateway=ctx.gateway)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Settle a withdrawal", idempotent=True)
def settle_withdrawal(session: Session, scope: Scope, data: SettleWithdrawalInput, ctx: ToolContext) -> WithdrawalRead:
    """Apply the refund rule to a withdrawn enrollment: cancel installments due after the last day and credit
    the refundable share of unearned tuition; shows the refund due per household (pay it with refund_payment).

    enrollment_id from query_roster (status 'withdrawn'). Running it again shows the same settlement.
    """
    return withdrawal.settle_withdrawal(session, scope, data.enrollment_id)
