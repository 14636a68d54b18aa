"""The full demo data set: the system of record's demo seed plus billing on top of it.

Composed here, at the composition root, because billing amounts come from the domain's pricing
function, which the `db` layer may not import: db/demo/billing_seed.py decides who is billed on
which plan and who pays, and is handed a `DemoPricing` that prices and settles through the
domain. Seeded rows carry no change events, like the rest of the seeded history.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.base import Base, utcnow
from db.demo.billing_seed import seed_billing
from db.demo.calendar import DEMO_TODAY
from db.demo.seed import DemoSummary, seed_demo
from db.models import Enrollment, Installment, ProgramOffering, RefundRule
from domain.billing.agreements import agreement_label, new_agreement, schedule_rows
from domain.billing.pricing import PrefetchedPricingData, seed_terms
from domain.billing.versions import refund_rule_in_force
from domain.billing.withdrawal import on_enrollment_ended
from policies.scope import Actor, DataClass, scope_for_orgs

SEED_ACTOR = "demo seed"


class DemoPricing:
    """Prices and settles demo enrollments exactly as set_payment_plan and a withdrawal would.

    One instance prices the whole seed, with the rule versions in force on `on` (the seed's today):
    its rule data is read once for every household.
    """

    def __init__(self, on: dt.date = DEMO_TODAY) -> None:
        self._on = on
        self._data = PrefetchedPricingData()
        self._refund_rules: dict[uuid.UUID, RefundRule | None] = {}

    def price(self, session: Session, enrollment_id: uuid.UUID, plan_code: str) -> list[Base]:
        """The enrollment's agreement, installments and dated ledger entries, in insert order (none without a payer)."""
        enrollment = session.get(Enrollment, enrollment_id)
        assert enrollment is not None
        terms, plan = seed_terms(session, enrollment, plan_code=plan_code, on=self._on, data=self._data)
        if not terms.shares:
            return []
        now = utcnow()
        if enrollment.offering_id not in self._refund_rules:
            offering = session.get_one(ProgramOffering, enrollment.offering_id)
            self._refund_rules[enrollment.offering_id] = refund_rule_in_force(session, offering, self._on)
        refund_rule = self._refund_rules[enrollment.offering_id]
        agreement = new_agreement(enrollment, plan, terms, priced_on=self._on, refund_rule=refund_rule)
        agreement.withdrawn_on = None
        agreement.created_at = agreement.updated_at = now
        rows: list[Base] = [agreement]
        for row in schedule_rows(agreement, terms, label=agreement_label(session, agreement)):
            if isinstance(row, Installment):
                row.created_at = row.updated_at = now
            else:
                row.recorded_at = now
            rows.append(row)
        return rows

    def settle_withdrawal(self, session: Session, enrollment_id: uuid.UUID) -> None:
        """Apply the refund rule to an ended enrollment (cancelled installments, withdrawal credit)."""
        enrollment = session.get(Enrollment, enrollment_id)
        assert enrollment is not None
        scope = scope_for_orgs(
            Actor(user_id=None, label=SEED_ACTOR), [enrollment.org_id], classes=[DataClass.FINANCIAL]
        )
        on_enrollment_ended(session, scope, enrollment, audit=False)


def seed_full_demo(
    engine: Engine, *, seed: int, today: dt.date, progress: Callable[[str, int, int], None] | None = None
) -> DemoSummary:
    """Seed the demo network, then its tuition rules, plans, ledgers and payments."""
    summary = seed_demo(engine, seed=seed, today=today, progress=progress)
    with Session(engine) as session, session.begin():
        seed_billing(session, rng=random.Random(seed), today=today, pricing=DemoPricing(today))
    return summary
