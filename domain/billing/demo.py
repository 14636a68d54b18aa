"""Billing for demo data: enrollments priced by the one pricing function, returned as rows to insert in bulk.

db/demo/billing_seed.py decides who is billed on which plan and who pays; it may not import the
domain, so it is handed this object. Rows carry no change events, like the rest of the seeded
history; withdrawals go through the same service function as they would live.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from db.base import Base, utcnow
from db.models import AgreementStatus, BillingAgreement, Enrollment, Installment
from domain.billing import rules, service
from policies.scope import Actor, DataClass, scope_for_orgs

SEED_ACTOR = "demo seed"


class DemoPricing:
    """Prices and settles demo enrollments exactly as set_payment_plan and a withdrawal would."""

    def __init__(self) -> None:
        self._cache = service.RuleCache(batch=True)

    def price(self, session: Session, enrollment_id: uuid.UUID, plan_code: str) -> list[Base]:
        """The enrollment's agreement, installments and dated ledger entries, in insert order (none without a payer)."""
        enrollment = session.get(Enrollment, enrollment_id)
        assert enrollment is not None
        terms, _ = service.enrollment_terms(
            session, enrollment, plan_code=plan_code, discount_codes=None, cache=self._cache
        )
        if not terms.shares:
            return []
        chain = self._cache.chain(session, enrollment.org_id)
        plan = service.plan_named(session, chain, plan_code, cache=self._cache)
        now = utcnow()
        agreement = BillingAgreement(
            id=uuid.uuid4(),
            org_id=enrollment.org_id,
            enrollment_id=enrollment.id,
            student_id=enrollment.student_id,
            offering_id=enrollment.offering_id,
            plan_id=plan.id,
            status=AgreementStatus.ACTIVE,
            terms=terms.to_json(),
            total_cents=rules.compute_quote(terms).total_cents,
            withdrawn_on=None,
            created_at=now,
            updated_at=now,
        )
        rows: list[Base] = [agreement]
        for row in service.schedule_rows(agreement, terms, label=service.agreement_label(session, agreement)):
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
        service.on_enrollment_ended(session, scope, enrollment, audit=False)
