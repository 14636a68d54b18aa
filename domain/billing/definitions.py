"""Billing definitions as data: fees, discounts, payment plans and refund rules, each a series of versions.

Defining a code again where it exists (same org, code and target) adds a version; nothing is
updated in place, so an agreement keeps pointing at the version that priced it. Versions take
effect in order: a new one may not take effect before the latest, nor in the past once the
version it replaces has priced an agreement (those agreements were priced as of then). Only
FULL_SIS orgs have billing definitions; out of the caller's financial scope is not found.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import String, cast, exists, select
from sqlalchemy.orm import Session

from db.models import (
    BillingAgreement,
    DiscountDefinition,
    DiscountEligibility,
    FeeDefinition,
    FeeTiming,
    Organization,
    PaymentPlan,
    Program,
    ProgramOffering,
    RefundRule,
)
from domain.audit.changes import record_changes
from domain.billing import rules
from domain.billing.access import check_financial, offering_for, require_full_sis
from domain.billing.definition_reads import discount_read, fee_read, plan_read, refund_read, statuses_on
from domain.billing.definition_schemas import (
    DefineDiscountInput,
    DefineFeeInput,
    DefinePaymentPlanInput,
    DiscountRead,
    FeeRead,
    PaymentPlanRead,
    RefundRuleRead,
    SetRefundRulesInput,
)
from domain.errors import InvalidInput, NotFound
from domain.events import emit_event
from policies.scope import Action, DataClass, Scope

Row = TypeVar("Row", FeeDefinition, DiscountDefinition, PaymentPlan, RefundRule)
DEFAULT_REFUND_CODE = "withdrawal"


# -- where a definition may be written -------------------------------------------------------


def _org_for_write(session: Session, scope: Scope, org_id: uuid.UUID) -> Organization:
    """The FULL_SIS org, when the caller may change financial data there.

    Raises:
        NotFound: no such org, or outside the caller's financial scope.
        NotApplicable: a ROSTER_ONLY org (its billing runs outside the SIS).
        PermissionDenied: financial data there is read-only for the caller.
    """
    org = session.get(Organization, org_id)
    visible = org is not None and any(scope.allows_org(org_id, dc) for dc in (DataClass.DIRECTORY, DataClass.FINANCIAL))
    if org is None or not visible:
        raise NotFound(f"organization {org_id} not found", field="org_id")
    require_full_sis(session, org_id)
    check_financial(scope, org_id, Action.WRITE, f"organization {org_id}", "org_id")
    return org


def _offering_for_write(session: Session, scope: Scope, offering_id: uuid.UUID) -> ProgramOffering:
    offering = offering_for(session, scope, offering_id)
    check_financial(scope, offering.org_id, Action.WRITE, f"offering {offering_id}", "offering_id")
    return offering


def _within(session: Session, org: Organization, inner_org_id: uuid.UUID) -> bool:
    """True when `inner_org_id` is `org` or below it."""
    inner = session.get_one(Organization, inner_org_id)
    return inner.path.startswith(org.path)


# -- versions --------------------------------------------------------------------------------


def _series(session: Session, model: type[Row], org_id: uuid.UUID, code: str, target: uuid.UUID | None) -> list[Row]:
    """Every version of one definition, oldest first, locked against a concurrent new version."""
    stmt = select(model).where(model.org_id == org_id, model.code == code)
    if target is not None:
        stmt = stmt.where(getattr(model, "applies_to_id") == target)  # noqa: B009 (fees and refund rules only)
    return list(session.execute(stmt.order_by(model.version).with_for_update()).scalars())


def _used(session: Session, row: Row) -> bool:
    """True when an agreement was priced with this version."""
    if isinstance(row, PaymentPlan):
        used = exists().where(BillingAgreement.plan_id == row.id)
    elif isinstance(row, RefundRule):
        used = exists().where(BillingAgreement.refund_rule_id == row.id)
    else:
        # Fee and discount versions are named in the agreement's frozen terms (source_id).
        used = exists().where(cast(BillingAgreement.terms, String).contains(str(row.id)))
    return bool(session.execute(select(used)).scalar())


def _content(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in fields}


def _add_version(
    session: Session,
    scope: Scope,
    row: Row,
    versions: list[Row],
    *,
    today: dt.date,
    compared: Iterable[str],
    event: str,
    reason: str | None,
) -> Row:
    """Add `row` as the series' next version, or return the latest when it says exactly the same.

    Raises:
        InvalidInput: it would take effect before the latest version, or in the past although
            the version it replaces already priced agreements.
    """
    latest = versions[-1] if versions else None
    if latest is not None:
        fields = [*compared, "effective_from", "is_active"]
        if _content(latest, fields) == _content(row, fields):
            return latest  # a retried call: nothing new to record
        if row.effective_from < latest.effective_from:
            raise InvalidInput(
                f"{row.code} version {latest.version} takes effect on {latest.effective_from}; a new version "
                "takes effect on or after that day",
                field="effective_from",
            )
        if row.effective_from < today and _used(session, latest):
            raise InvalidInput(
                f"{row.code} version {latest.version} already priced agreements: a new version cannot take effect "
                f"in the past ({row.effective_from}); use today or a later day",
                field="effective_from",
            )
    row.id = uuid.uuid4()
    row.version = latest.version + 1 if latest else 1
    session.add(row)
    record_changes(session, scope, row, reason=reason)
    session.flush()
    emit_event(
        session,
        event_type=f"billing.{event}",
        org_id=row.org_id,
        payload={"id": row.id, "code": row.code, "version": row.version, "effective_from": row.effective_from},
    )
    return row


# -- writes ----------------------------------------------------------------------------------

_FEE_FIELDS = ("name", "kind", "amount_cents", "timing", "prorated", "refundable", "offering_id", "program_id")


def define_fee(session: Session, scope: Scope, data: DefineFeeInput, *, today: dt.date) -> FeeRead:
    """Define a fee (or its next version) at a FULL_SIS org: org-wide, for a program, or for one offering.

    Raises:
        NotFound, NotApplicable, PermissionDenied, InvalidInput.
    """
    org = _org_for_write(session, scope, data.org_id)
    if data.offering_id is not None and data.program_id is not None:
        raise InvalidInput("a fee applies to an offering or a program, not both", field="program_id")
    org_id, target = org.id, org.id
    if data.offering_id is not None:
        offering = _offering_for_write(session, scope, data.offering_id)
        if not _within(session, org, offering.org_id):
            raise InvalidInput(f"offering {offering.id} is not at {org.name} or below it", field="offering_id")
        # Kept at the offering's own org, so that every version of its fee is one series.
        org_id, target = offering.org_id, offering.id
    elif data.program_id is not None:
        program = session.get(Program, data.program_id)
        if program is None or not scope.allows_org(program.org_id, DataClass.DIRECTORY):
            raise NotFound(f"program {data.program_id} not found", field="program_id")
        target = program.id
    prorated = data.prorated if data.prorated is not None else data.timing is FeeTiming.SPREAD
    row = FeeDefinition(
        org_id=org_id,
        offering_id=data.offering_id,
        program_id=data.program_id,
        applies_to_id=target,
        code=data.code,
        name=data.name,
        kind=data.kind,
        amount_cents=data.amount_cents,
        timing=data.timing,
        prorated=prorated,
        refundable=data.refundable,
        is_active=data.active,
        effective_from=data.effective_from or today,
    )
    versions = _series(session, FeeDefinition, org_id, data.code, target)
    saved = _add_version(
        session, scope, row, versions, today=today, compared=_FEE_FIELDS, event="fee_defined", reason=data.reason
    )
    return fee_read(saved, statuses_on([*versions, saved] if saved is row else versions, today))


_DISCOUNT_FIELDS = (
    "name",
    "kind",
    "percent_bp",
    "amount_cents",
    "cap_cents",
    "stacking_order",
    "eligibility",
    "sibling_rank_min",
)


def define_discount(session: Session, scope: Scope, data: DefineDiscountInput, *, today: dt.date) -> DiscountRead:
    """Define a discount (or its next version) at a FULL_SIS org.

    Raises:
        NotFound, NotApplicable, PermissionDenied, InvalidInput.
    """
    org = _org_for_write(session, scope, data.org_id)
    if (data.percent_bp is None) == (data.amount_cents is None):
        raise InvalidInput("give exactly one of percent_bp or amount_cents", field="percent_bp")
    sibling = data.eligibility is DiscountEligibility.SIBLING
    if sibling and data.sibling_rank_min is None:
        raise InvalidInput("a sibling discount says from which child on (sibling_rank_min)", field="sibling_rank_min")
    if not sibling and data.sibling_rank_min is not None:
        raise InvalidInput("sibling_rank_min is only for sibling eligibility", field="sibling_rank_min")
    row = DiscountDefinition(
        org_id=org.id,
        code=data.code,
        name=data.name,
        kind=data.kind,
        percent_bp=data.percent_bp,
        amount_cents=data.amount_cents,
        cap_cents=data.cap_cents,
        stacking_order=data.stacking_order,
        eligibility=data.eligibility,
        sibling_rank_min=data.sibling_rank_min,
        is_active=data.active,
        effective_from=data.effective_from or today,
    )
    versions = _series(session, DiscountDefinition, org.id, data.code, None)
    saved = _add_version(
        session,
        scope,
        row,
        versions,
        today=today,
        compared=_DISCOUNT_FIELDS,
        event="discount_defined",
        reason=data.reason,
    )
    return discount_read(saved, statuses_on([*versions, saved] if saved is row else versions, today))


_PLAN_FIELDS = ("name", "installment_count", "due_month_offsets", "due_day", "installment_fee_cents")


def define_payment_plan(
    session: Session, scope: Scope, data: DefinePaymentPlanInput, *, today: dt.date
) -> PaymentPlanRead:
    """Define a payment plan (or its next version) at a FULL_SIS org.

    Raises:
        NotFound, NotApplicable, PermissionDenied, InvalidInput.
    """
    org = _org_for_write(session, scope, data.org_id)
    offsets = data.due_month_offsets if data.due_month_offsets is not None else list(range(data.installment_count))
    if len(offsets) != data.installment_count:
        raise InvalidInput(
            f"{data.installment_count} installments need {data.installment_count} due months; got {len(offsets)}",
            field="due_month_offsets",
        )
    if offsets != sorted(set(offsets)):
        raise InvalidInput("due months must be increasing, one per installment", field="due_month_offsets")
    row = PaymentPlan(
        org_id=org.id,
        code=data.code,
        name=data.name,
        installment_count=data.installment_count,
        due_month_offsets=offsets,
        due_day=data.due_day,
        installment_fee_cents=data.installment_fee_cents,
        is_active=data.active,
        effective_from=data.effective_from or today,
    )
    versions = _series(session, PaymentPlan, org.id, data.code, None)
    saved = _add_version(
        session,
        scope,
        row,
        versions,
        today=today,
        compared=_PLAN_FIELDS,
        event="payment_plan_defined",
        reason=data.reason,
    )
    return plan_read(saved, statuses_on([*versions, saved] if saved is row else versions, today))


def set_refund_rules(session: Session, scope: Scope, data: SetRefundRulesInput, *, today: dt.date) -> RefundRuleRead:
    """Set an offering's or an org's withdrawal refund schedule (a new version of the one there).

    Raises:
        NotFound, NotApplicable, PermissionDenied, InvalidInput.
    """
    if (data.org_id is None) == (data.offering_id is None):
        raise InvalidInput("give exactly one of org_id or offering_id", field="org_id")
    if data.offering_id is not None:
        offering = _offering_for_write(session, scope, data.offering_id)
        org_id, target = offering.org_id, offering.id
    else:
        assert data.org_id is not None
        org_id = target = _org_for_write(session, scope, data.org_id).id
    tiers = [t.model_dump(mode="json") for t in data.tiers]
    try:
        rules.parse_tiers(tiers)
    except ValueError as err:
        raise InvalidInput(str(err), field="tiers") from None
    # One schedule per offering or org: a new schedule is the next version of the one already there.
    existing = session.execute(
        select(RefundRule.code)
        .where(RefundRule.org_id == org_id, RefundRule.applies_to_id == target)
        .order_by(RefundRule.effective_from.desc(), RefundRule.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    code = existing or DEFAULT_REFUND_CODE
    row = RefundRule(
        org_id=org_id,
        offering_id=data.offering_id,
        applies_to_id=target,
        code=code,
        name=data.name,
        tiers=tiers,
        is_active=True,
        effective_from=data.effective_from or today,
    )
    versions = _series(session, RefundRule, org_id, code, target)
    saved = _add_version(
        session,
        scope,
        row,
        versions,
        today=today,
        compared=("name", "tiers"),
        event="refund_rules_set",
        reason=data.reason,
    )
    return refund_read(saved, statuses_on([*versions, saved] if saved is row else versions, today))
