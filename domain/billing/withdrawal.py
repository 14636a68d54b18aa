"""Withdrawal: billing settled when a stint ends early, by the offering's refund rule (rules as data).

Installments due after the last day are cancelled with reversing entries, and the refund tier
for the days since the billing start credits a share of the unearned tuition
(`rules.settle_withdrawal`). The enrollment service calls `on_enrollment_ended` on every
withdrawal or transfer; `settle_withdrawal` applies or shows it again on request.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    AgreementStatus,
    BillingAgreement,
    Enrollment,
    Installment,
    LedgerEntry,
    LedgerKind,
    ProgramOffering,
    RefundRule,
)
from domain.audit.changes import record_changes
from domain.billing import rules
from domain.billing.access import enrollment_for
from domain.billing.agreements import cancel_installments
from domain.billing.ledger import balance_on, sync_installments
from domain.billing.pricing import SIBLING_STATUSES, agreement_of
from domain.billing.schemas import WithdrawalHouseholdRead, WithdrawalRead
from domain.billing.versions import refund_rule_in_force
from domain.errors import InvalidInput, NotFound
from policies.scope import Action, Scope


def _refund_rule(session: Session, agreement: BillingAgreement, offering: ProgramOffering) -> RefundRule | None:
    """The refund rule version the agreement was priced with; for agreements older than versions, today's."""
    if agreement.refund_rule_id is not None:
        return session.get_one(RefundRule, agreement.refund_rule_id)
    return refund_rule_in_force(session, offering, agreement.priced_on or dt.date.max)


def _settlement_read(
    session: Session, agreement: BillingAgreement, last_day: dt.date, rule: RefundRule | None
) -> WithdrawalRead:
    terms = rules.Terms.from_json(agreement.terms)
    tiers = rules.parse_tiers(rule.tiers) if rule else []
    parts = rules.settle_withdrawal(terms, last_day=last_day, tiers=tiers)
    households = []
    for part in parts:
        owed = balance_on(session, part.household_id, dt.date.max)
        households.append(
            WithdrawalHouseholdRead(
                household_id=part.household_id,
                cancelled_installments=len(part.cancelled_seqs),
                cancelled_cents=part.cancelled_cents,
                earned_cents=part.earned_cents,
                unearned_cents=part.unearned_cents,
                refund_bp=part.refund_bp,
                credit_cents=part.credit_cents,
                refund_due_cents=max(0, -owed),
            )
        )
    return WithdrawalRead(
        agreement_id=agreement.id,
        enrollment_id=agreement.enrollment_id,
        last_day=last_day,
        refund_rule=rule.code if rule else None,
        households=households,
    )


def on_enrollment_ended(
    session: Session, scope: Scope, enrollment: Enrollment, *, audit: bool = True
) -> WithdrawalRead | None:
    """Settle billing when a stint ends early: cancel later installments and credit the refund tier.

    Called by the enrollment service after a withdrawal or transfer (the caller's right to end the
    stint is the authority; no financial grant is needed). Does nothing without an agreement.
    `audit=False` is for seeded history only, which carries no change events.
    """
    agreement = agreement_of(session, enrollment.id)
    if agreement is None or enrollment.end_on is None:
        return None
    offering = session.get(ProgramOffering, agreement.offering_id)
    assert offering is not None
    rule = _refund_rule(session, agreement, offering)
    last_day = enrollment.end_on
    if agreement.status is AgreementStatus.WITHDRAWN:
        return _settlement_read(session, agreement, agreement.withdrawn_on or last_day, rule)
    terms = rules.Terms.from_json(agreement.terms)
    parts = rules.settle_withdrawal(terms, last_day=last_day, tiers=rules.parse_tiers(rule.tiers) if rule else [])
    reason = f"withdrawal, last day {last_day}"
    for part in parts:
        later = (
            session.execute(
                select(Installment).where(
                    Installment.agreement_id == agreement.id,
                    Installment.household_id == part.household_id,
                    Installment.seq.in_(part.cancelled_seqs),
                )
            )
            .scalars()
            .all()
        )
        cancel_installments(
            session, scope, later, memo=f"cancelled: withdrawal, last day {last_day}", reason=reason, audit=audit
        )
        if part.credit_cents:
            entry = LedgerEntry(
                id=uuid.uuid4(),
                org_id=agreement.org_id,
                household_id=part.household_id,
                student_id=agreement.student_id,
                agreement_id=agreement.id,
                kind=LedgerKind.CANCELLATION,
                amount_cents=-part.credit_cents,
                posted_on=last_day,
                memo=f"withdrawal credit: {part.refund_bp / 100:.0f}% of {part.unearned_cents} cents unearned "
                f"({rule.code if rule else 'no rule'})",
            )
            session.add(entry)
            if audit:
                record_changes(session, scope, entry, reason=reason)
    agreement.status = AgreementStatus.WITHDRAWN
    agreement.withdrawn_on = last_day
    if audit:
        record_changes(session, scope, agreement, reason=reason)
    session.flush()
    for part in parts:
        sync_installments(session, scope, part.household_id, audit=audit)
    return _settlement_read(session, agreement, last_day, rule)


def settle_withdrawal(session: Session, scope: Scope, enrollment_id: uuid.UUID) -> WithdrawalRead:
    """Apply (or show again) the billing settlement of a withdrawn enrollment.

    Raises:
        NotFound, NotApplicable, PermissionDenied, InvalidInput (the enrollment has not ended).
    """
    enrollment = enrollment_for(session, scope, enrollment_id, Action.WRITE)
    if enrollment.status in SIBLING_STATUSES or enrollment.end_on is None:
        raise InvalidInput(
            f"enrollment {enrollment.id} is {enrollment.status.value}; withdraw it first (withdraw_enrollment)",
            field="enrollment_id",
        )
    settled = on_enrollment_ended(session, scope, enrollment)
    if settled is None:
        raise NotFound(f"enrollment {enrollment.id} has no billing agreement", field="enrollment_id")
    return settled
