"""Billing demo data: priced by the one pricing function, FULL_SIS only, with the families the demo needs."""

from __future__ import annotations

import random
from collections import defaultdict

from sqlalchemy import func, select

from db.demo.billing_seed import seed_billing
from db.demo.calendar import DEMO_TODAY
from db.models import (
    AgreementStatus,
    BillingAgreement,
    HouseholdStudent,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    LedgerKind,
    Organization,
    OrgKind,
)
from domain.billing import rules
from mcp_server.demo import DemoPricing


def test_seeded_billing_is_priced_by_the_pricing_function_and_tells_the_demo_stories(demo_session):
    s = demo_session
    summary = seed_billing(s, rng=random.Random(7), today=DEMO_TODAY, pricing=DemoPricing())

    assert summary.agreements > 100 and summary.payments > 100 and summary.households_behind > 0

    # Every installment is exactly what compute_quote says for the agreement's frozen terms.
    installments: dict[tuple, list[Installment]] = defaultdict(list)
    for inst in s.execute(select(Installment).order_by(Installment.seq)).scalars():
        installments[(inst.agreement_id, inst.household_id)].append(inst)
    agreements = s.execute(select(BillingAgreement)).scalars().all()
    for agreement in agreements:
        quote = rules.compute_quote(rules.Terms.from_json(agreement.terms))
        assert quote.total_cents == agreement.total_cents
        for part in quote.households:
            stored = [(i.seq, i.due_on, i.amount_cents) for i in installments[(agreement.id, part.household_id)]]
            assert stored == [(i.seq, i.due_on, i.amount_cents) for i in part.installments]
    obligations = dict(
        s.execute(
            select(LedgerEntry.agreement_id, func.sum(LedgerEntry.amount_cents))
            .where(LedgerEntry.kind.in_([LedgerKind.CHARGE, LedgerKind.CREDIT]))
            .group_by(LedgerEntry.agreement_id)
        ).all()
    )
    assert all(obligations[a.id] == a.total_cents for a in agreements)

    # Roster-only schools bill elsewhere.
    roster_paths = [
        p for p in s.execute(select(Organization.path).where(Organization.kind == OrgKind.ROSTER_ONLY)).scalars()
    ]
    billed_paths = set(
        s.execute(
            select(Organization.path).join(LedgerEntry, LedgerEntry.org_id == Organization.id).distinct()
        ).scalars()
    )
    assert billed_paths and not any(p.startswith(r) for p in billed_paths for r in roster_paths)

    # Families owing over $1,000 today, some of it overdue.
    balances = dict(
        s.execute(
            select(LedgerEntry.household_id, func.sum(LedgerEntry.amount_cents))
            .where(LedgerEntry.posted_on <= DEMO_TODAY)
            .group_by(LedgerEntry.household_id)
        ).all()
    )
    assert sum(1 for b in balances.values() if b > 100_000) >= 10
    assert any(b < 0 for b in balances.values()), "a withdrawn family that paid ahead is owed a refund"

    # Split custody: a student billed to two households, each for its share.
    split = (
        s.execute(
            select(HouseholdStudent.student_id)
            .where(HouseholdStudent.billing_share_bp.between(1, 9_999))
            .group_by(HouseholdStudent.student_id)
            .having(func.count() == 2)
        )
        .scalars()
        .all()
    )
    split_billed = [
        a for a in agreements if a.student_id in set(split) and len(rules.Terms.from_json(a.terms).shares) == 2
    ]
    assert split_billed

    # Discounts and withdrawals appear.
    codes = {d["code"] for a in agreements for d in a.terms["discounts"]}
    assert {"sibling", "founding_family"} <= codes
    withdrawn = [a for a in agreements if a.status is AgreementStatus.WITHDRAWN]
    assert withdrawn
    assert s.execute(select(func.count()).where(Installment.status == InstallmentStatus.CANCELLED)).scalar_one() > 0
    assert s.execute(select(func.count()).where(LedgerEntry.kind == LedgerKind.CANCELLATION)).scalar_one() > 0
