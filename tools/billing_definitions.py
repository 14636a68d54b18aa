"""Billing definition tools: fees, discounts, payment plans and refund rules as versioned data (financial)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.billing import definition_reads, definitions
from domain.billing.definition_schemas import (
    BillingDefinitions,
    BillingDefinitionsQuery,
    DefineDiscountInput,
    DefineFeeInput,
    DefinePaymentPlanInput,
    DiscountRead,
    FeeRead,
    PaymentPlanRead,
    RefundRuleRead,
    SetRefundRulesInput,
)
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, tool


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Define a fee", idempotent=True)
def define_fee(session: Session, scope: Scope, data: DefineFeeInput, ctx: ToolContext) -> FeeRead:
    """Define a fee charged besides tuition (registration, materials, technology, late...) at a FULL_SIS org.

    org_id from whoami; offering_id (list_offerings) or program_id limits it to those offerings. The same code
    again at the same org and target is a new version from effective_from (default today); agreements already
    priced keep their version. Fails at a roster-only org, or for a version taking effect in the past once the
    one it replaces priced agreements. set_payment_plan prices with the versions in force that day.
    """
    return definitions.define_fee(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Define a discount", idempotent=True)
def define_discount(session: Session, scope: Scope, data: DefineDiscountInput, ctx: ToolContext) -> DiscountRead:
    """Define a tuition discount (sibling, staff, scholarship, early payment...) at a FULL_SIS org.

    Give percent_bp (basis points, 1000 = 10%) or amount_cents; stacking_order decides the order discounts
    apply in. Sibling discounts apply automatically (sibling_rank_min); granted ones via apply_discount.
    The same code again is a new version; agreements already priced keep theirs.
    """
    return definitions.define_discount(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Define a payment plan", idempotent=True)
def define_payment_plan(
    session: Session, scope: Scope, data: DefinePaymentPlanInput, ctx: ToolContext
) -> PaymentPlanRead:
    """Define a payment plan at a FULL_SIS org: installment count, due months and day, a fee per installment.

    set_payment_plan bills an enrollment on it by code. The same code again is a new version from
    effective_from; agreements already priced keep theirs. Fails on zero installments or due months that do
    not match the count.
    """
    return definitions.define_payment_plan(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Set refund rules", idempotent=True)
def set_refund_rules(session: Session, scope: Scope, data: SetRefundRulesInput, ctx: ToolContext) -> RefundRuleRead:
    """Set the withdrawal refund schedule of an offering (list_offerings) or an org subtree (whoami).

    Tiers by days after the billing start or by withdrawal date give the share of unearned tuition refunded.
    An offering's schedule wins over its org's. A new schedule is a new version; agreements priced earlier
    keep the schedule of their date. Fails on overlapping or unordered windows.
    """
    return definitions.set_refund_rules(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.FINANCIAL, title="Billing definitions")
def list_billing_definitions(
    session: Session, scope: Scope, data: BillingDefinitionsQuery, ctx: ToolContext
) -> BillingDefinitions:
    """List the fees, discounts, payment plans and refund rules at an org: inherited ones, its own and its
    campuses', every version with its status (current, scheduled, superseded, retired) on as_of.

    org_id from whoami; kind filters to one kind. Use it to find codes for set_payment_plan or apply_discount.
    """
    return definition_reads.list_billing_definitions(session, scope, data, today=ctx.today)
