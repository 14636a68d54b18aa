"""Reading billing definitions: every version with its status on a day, at an org, its ancestors and campuses."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import DiscountDefinition, FeeDefinition, Organization, PaymentPlan, RefundRule
from domain.billing import rules
from domain.billing.access import require_full_sis
from domain.billing.definition_schemas import (
    BillingDefinitions,
    BillingDefinitionsQuery,
    DefinitionKind,
    DiscountRead,
    FeeRead,
    PaymentPlanRead,
    RefundRuleRead,
    RefundTierRead,
    VersionStatus,
)
from domain.billing.versions import series_key
from domain.visibility import org_condition
from policies.scope import DataClass, Scope

Row = TypeVar("Row", FeeDefinition, DiscountDefinition, PaymentPlan, RefundRule)
# Each version's status on a day, and the day its successor takes over.
Statuses = dict[uuid.UUID, tuple[VersionStatus, dt.date | None]]


def statuses_on(rows: Iterable[Row], on: dt.date) -> Statuses:
    """Each version's status on `on` and the day its successor takes over."""
    by_series: dict[Any, list[Row]] = defaultdict(list)
    for row in rows:
        by_series[series_key(row)].append(row)
    found: Statuses = {}
    for versions in by_series.values():
        versions.sort(key=lambda r: (r.effective_from, r.version))
        started = [r for r in versions if r.effective_from <= on]
        for i, row in enumerate(versions):
            until = versions[i + 1].effective_from if i + 1 < len(versions) else None
            if row.effective_from > on:
                status = VersionStatus.SCHEDULED
            elif row is started[-1]:
                status = VersionStatus.CURRENT if row.is_active else VersionStatus.RETIRED
            else:
                status = VersionStatus.SUPERSEDED
            found[row.id] = (status, until)
    return found


def _base(row: Any, statuses: Statuses) -> dict[str, Any]:
    status, until = statuses[row.id]
    return {
        "id": row.id,
        "org_id": row.org_id,
        "code": row.code,
        "name": row.name,
        "version": row.version,
        "effective_from": row.effective_from,
        "until": until,
        "status": status,
        "active": row.is_active,
    }


def fee_read(row: FeeDefinition, statuses: Statuses) -> FeeRead:
    applies = "offering" if row.offering_id else "program" if row.program_id else "org"
    return FeeRead(
        **_base(row, statuses),
        kind=row.kind,
        amount_cents=row.amount_cents,
        applies_to=applies,
        offering_id=row.offering_id,
        program_id=row.program_id,
        timing=row.timing,
        prorated=row.prorated,
        refundable=row.refundable,
    )


def discount_read(row: DiscountDefinition, statuses: Statuses) -> DiscountRead:
    return DiscountRead(
        **_base(row, statuses),
        kind=row.kind,
        percent_bp=row.percent_bp,
        amount_cents=row.amount_cents,
        cap_cents=row.cap_cents,
        stacking_order=row.stacking_order,
        eligibility=row.eligibility,
        sibling_rank_min=row.sibling_rank_min,
    )


def plan_read(row: PaymentPlan, statuses: Statuses) -> PaymentPlanRead:
    return PaymentPlanRead(
        **_base(row, statuses),
        installment_count=row.installment_count,
        due_month_offsets=[int(m) for m in row.due_month_offsets],
        due_day=row.due_day,
        installment_fee_cents=row.installment_fee_cents or 0,
    )


def refund_read(row: RefundRule, statuses: Statuses) -> RefundRuleRead:
    return RefundRuleRead(
        **_base(row, statuses),
        applies_to="offering" if row.offering_id else "org",
        offering_id=row.offering_id,
        tiers=[
            RefundTierRead(within_days=t.within_days, through_on=t.through_on, refund_bp=t.refund_bp)
            for t in rules.parse_tiers(row.tiers)
        ],
    )


def _path_and_ancestors(path: str) -> list[str]:
    """'/a/b/' -> ['/a/', '/a/b/']."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _governing_orgs(session: Session, scope: Scope, org_id: uuid.UUID) -> list[uuid.UUID]:
    """The visible part of the org's subtree and every ancestor of it: the orgs whose definitions price there.

    Naming a brand therefore answers what naming each visible campus of it would (domain/visibility.py).

    Raises:
        NotFound: no such org, or none of its subtree is in the caller's financial scope.
    """
    narrowed, in_subtree = org_condition(session, scope, Organization.id, org_id, DataClass.FINANCIAL)
    visible = session.execute(
        select(Organization.path).where(in_subtree, narrowed.org_filter(Organization.id, DataClass.FINANCIAL))
    ).scalars()
    paths = {prefix for path in visible for prefix in _path_and_ancestors(path)}
    return list(session.execute(select(Organization.id).where(Organization.path.in_(sorted(paths)))).scalars())


def _rows(session: Session, model: type[Row], orgs: list[uuid.UUID]) -> list[Row]:
    """The model's versions defined at these orgs."""
    found = session.execute(select(model).where(model.org_id.in_(orgs))).scalars()
    return sorted(found, key=lambda r: (r.code, str(r.org_id), r.version))


def list_billing_definitions(
    session: Session, scope: Scope, data: BillingDefinitionsQuery, *, today: dt.date
) -> BillingDefinitions:
    """Fees, discounts, plans and refund rules in force at an org (inherited or its own) and at its campuses,
    every version with its status on `as_of`.

    Raises:
        NotFound: no such org, or none of its subtree is in the caller's financial scope.
        NotApplicable: a ROSTER_ONLY org.
    """
    on = data.as_of or today
    if scope.allows_org(data.org_id, DataClass.DIRECTORY) or scope.allows_org(data.org_id, DataClass.FINANCIAL):
        require_full_sis(session, data.org_id)
    orgs = _governing_orgs(session, scope, data.org_id)

    def wanted(kind: DefinitionKind) -> bool:
        return data.kind is None or data.kind is kind

    fees = _rows(session, FeeDefinition, orgs) if wanted(DefinitionKind.FEE) else []
    discounts = _rows(session, DiscountDefinition, orgs) if wanted(DefinitionKind.DISCOUNT) else []
    plans = _rows(session, PaymentPlan, orgs) if wanted(DefinitionKind.PAYMENT_PLAN) else []
    refunds = _rows(session, RefundRule, orgs) if wanted(DefinitionKind.REFUND_RULE) else []
    statuses = {
        **statuses_on(fees, on),
        **statuses_on(discounts, on),
        **statuses_on(plans, on),
        **statuses_on(refunds, on),
    }
    return BillingDefinitions(
        as_of=on,
        fees=[fee_read(r, statuses) for r in fees],
        discounts=[discount_read(r, statuses) for r in discounts],
        payment_plans=[plan_read(r, statuses) for r in plans],
        refund_rules=[refund_read(r, statuses) for r in refunds],
        row_count=len(fees) + len(discounts) + len(plans) + len(refunds),
    )
