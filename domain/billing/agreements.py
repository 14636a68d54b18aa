"""Billing agreements: an enrollment priced on a plan, its installments scheduled on each household's ledger.

An agreement freezes the terms it was priced with (`rules.Terms` as JSON), so its installments
are always what `rules.compute_quote` says for them, and names the fee, discount and plan versions
that priced it. It can be re-priced only until billing starts: a new plan prices it again with the
versions in force that day; a granted discount keeps its tuition, fees and plan and recomputes only
discounts and shares. Re-pricing cancels the old schedule with reversing entries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import (
    AgreementStatus,
    BillingAgreement,
    DiscountEligibility,
    DiscountGrant,
    Enrollment,
    HouseholdStudent,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    LedgerKind,
    PaymentPlan,
    ProgramOffering,
    RefundRule,
    Student,
)
from domain.audit.changes import record_changes, record_rows
from domain.billing import rules
from domain.billing.access import enrollment_for, household_for, offering_for, require_full_sis
from domain.billing.errors import BillingInProgress
from domain.billing.ledger import sync_installments
from domain.billing.previews import tuition_preview
from domain.billing.pricing import SIBLING_STATUSES, agreement_of, discount_definitions, enrollment_terms
from domain.billing.schemas import AgreementRead, ApplyDiscountInput, DiscountGrantRead, SetPaymentPlanInput
from domain.billing.versions import refund_rule_in_force
from domain.errors import InvalidInput, NotFound
from policies.scope import Action, DataClass, Scope


def _billing_started(session: Session, agreement: BillingAgreement) -> bool:
    """True once any installment was paid (even in part), charged or attempted: the price is then fixed."""
    started = session.execute(
        select(Installment.id).where(
            Installment.agreement_id == agreement.id,
            or_(
                Installment.status.in_(
                    [InstallmentStatus.PAID, InstallmentStatus.PROCESSING, InstallmentStatus.FAILED]
                ),
                Installment.attempt_count > 0,
                Installment.id.in_(select(LedgerEntry.installment_id).where(LedgerEntry.kind == LedgerKind.PAYMENT)),
            ),
        )
    ).first()
    return started is not None


def cancel_installments(
    session: Session,
    scope: Scope,
    installments: Iterable[Installment],
    *,
    memo: str,
    reason: str | None,
    audit: bool = True,
) -> None:
    """Cancel installments, reversing each one's net amount on its own due date (the ledger is append-only)."""
    for inst in installments:
        if inst.status is InstallmentStatus.CANCELLED:
            continue
        inst.status = InstallmentStatus.CANCELLED
        if audit:
            record_changes(session, scope, inst, reason=reason)
        if inst.amount_cents:
            agreement = session.get(BillingAgreement, inst.agreement_id)
            assert agreement is not None
            entry = LedgerEntry(
                id=uuid.uuid4(),
                org_id=inst.org_id,
                household_id=inst.household_id,
                student_id=agreement.student_id,
                agreement_id=inst.agreement_id,
                installment_id=inst.id,
                kind=LedgerKind.CANCELLATION,
                amount_cents=-inst.amount_cents,
                posted_on=inst.due_on,
                memo=memo,
            )
            session.add(entry)
            if audit:
                record_changes(session, scope, entry, reason=reason)


def schedule_rows(agreement: BillingAgreement, terms: rules.Terms, *, label: str) -> list[Installment | LedgerEntry]:
    """Installment rows and their ledger entries (dated on the due dates) for every household share, in insert order."""
    rows: list[Installment | LedgerEntry] = []
    for part in rules.compute_quote(terms).households:
        count = len(part.installments)
        for line in part.installments:
            inst = Installment(
                id=uuid.uuid4(),
                org_id=agreement.org_id,
                agreement_id=agreement.id,
                household_id=part.household_id,
                seq=line.seq,
                due_on=line.due_on,
                amount_cents=line.amount_cents,
                status=InstallmentStatus.SCHEDULED,
                attempt_count=0,
            )
            rows.append(inst)
            amounts = [(LedgerKind.CHARGE, line.charge_cents, f"installment {line.seq} of {count}")]
            if line.credit_cents:
                amounts.append(
                    (LedgerKind.CREDIT, -line.credit_cents, f"discounts on installment {line.seq} of {count}")
                )
            rows += [
                LedgerEntry(
                    id=uuid.uuid4(),
                    org_id=agreement.org_id,
                    household_id=part.household_id,
                    student_id=agreement.student_id,
                    agreement_id=agreement.id,
                    installment_id=inst.id,
                    kind=kind,
                    amount_cents=amount,
                    posted_on=line.due_on,
                    memo=f"{label}: {what}",
                )
                for kind, amount, what in amounts
            ]
    return rows


def _post_schedule(
    session: Session, scope: Scope, agreement: BillingAgreement, terms: rules.Terms, *, label: str, reason: str | None
) -> None:
    rows = schedule_rows(agreement, terms, label=label)
    session.add_all(rows)
    record_rows(session, scope, rows, reason=reason)
    session.flush()


def agreement_label(session: Session, agreement: BillingAgreement) -> str:
    """'Offering, First Last': how ledger memos and gateway charges name an agreement."""
    offering = session.get(ProgramOffering, agreement.offering_id)
    student = session.get(Student, agreement.student_id)
    assert offering is not None and student is not None
    return f"{offering.name}, {student.first_name} {student.last_name}"


def new_agreement(
    enrollment: Enrollment,
    plan: PaymentPlan,
    terms: rules.Terms,
    *,
    priced_on: dt.date,
    refund_rule: RefundRule | None,
) -> BillingAgreement:
    """A new active agreement pricing `enrollment` on `plan` by `terms` on `priced_on` (not yet added to a session)."""
    return BillingAgreement(
        id=uuid.uuid4(),
        org_id=enrollment.org_id,
        enrollment_id=enrollment.id,
        student_id=enrollment.student_id,
        offering_id=enrollment.offering_id,
        plan_id=plan.id,
        status=AgreementStatus.ACTIVE,
        terms=terms.to_json(),
        total_cents=rules.compute_quote(terms).total_cents,
        priced_on=priced_on,
        refund_rule_id=refund_rule.id if refund_rule else None,
    )


def price_agreement(
    session: Session,
    scope: Scope,
    enrollment: Enrollment,
    terms: rules.Terms,
    plan: PaymentPlan,
    *,
    priced_on: dt.date,
    reason: str | None,
) -> BillingAgreement:
    """Create or re-price the enrollment's agreement from `terms`, dated `priced_on`, and post its schedule.

    The agreement keeps the refund rule version in force on its date for a later withdrawal.

    Raises:
        BillingInProgress: an installment was already paid or charged.
        InvalidInput: the student has no household to bill.
    """
    if not terms.shares:
        raise InvalidInput(
            "the student belongs to no household with a billing share; add one with add_student_to_household",
            field="enrollment_id",
        )
    total = rules.compute_quote(terms).total_cents
    agreement = agreement_of(session, enrollment.id)
    offering = session.get_one(ProgramOffering, enrollment.offering_id)
    refund_rule = refund_rule_in_force(session, offering, priced_on)
    if agreement is None:
        agreement = new_agreement(enrollment, plan, terms, priced_on=priced_on, refund_rule=refund_rule)
        session.add(agreement)
    else:
        if agreement.status is not AgreementStatus.ACTIVE:
            raise BillingInProgress(f"the agreement of enrollment {enrollment.id} is {agreement.status.value}")
        if _billing_started(session, agreement):
            raise BillingInProgress(
                "installments of this enrollment were already paid or charged: its plan and price can no longer "
                "change (record a payment or a refund instead)",
                field="enrollment_id",
            )
        old = session.execute(select(Installment).where(Installment.agreement_id == agreement.id)).scalars().all()
        cancel_installments(session, scope, old, memo=f"replaced by a new schedule ({plan.name})", reason=reason)
        agreement.plan_id = plan.id
        agreement.terms = terms.to_json()
        agreement.total_cents = total
        agreement.priced_on = priced_on
        agreement.refund_rule_id = refund_rule.id if refund_rule else None
    record_changes(session, scope, agreement, reason=reason)
    session.flush()
    _post_schedule(session, scope, agreement, terms, label=agreement_label(session, agreement), reason=reason)
    for household_id, _ in terms.shares:
        sync_installments(session, scope, household_id)
    return agreement


def set_payment_plan(session: Session, scope: Scope, data: SetPaymentPlanInput, *, today: dt.date) -> AgreementRead:
    """Bill an enrollment on a plan: price it with today's rules and schedule each household's installments.

    Raises:
        NotFound, NotApplicable, PermissionDenied, BillingInProgress, InvalidInput.
    """
    enrollment = enrollment_for(session, scope, data.enrollment_id, Action.WRITE)
    if enrollment.status not in SIBLING_STATUSES:
        raise InvalidInput(f"enrollment {enrollment.id} is {enrollment.status.value}; only current ones are billed")
    terms, offering, plan = enrollment_terms(
        session, enrollment, plan_code=data.plan_code, discount_codes=None, on=today
    )
    agreement = price_agreement(session, scope, enrollment, terms, plan, priced_on=today, reason=data.reason)
    preview = tuition_preview(
        session,
        terms,
        offering,
        source="agreement",
        agreement_id=agreement.id,
        enrollment_id=enrollment.id,
        student_id=enrollment.student_id,
    )
    return AgreementRead(agreement_id=agreement.id, preview=preview)


def apply_discount(session: Session, scope: Scope, data: ApplyDiscountInput, *, today: dt.date) -> DiscountGrantRead:
    """Grant a discount to a household (or one of its students) and re-price agreements not yet billing.

    Raises:
        NotFound, NotApplicable, PermissionDenied, InvalidInput.
    """
    household = household_for(session, scope, data.household_id, Action.WRITE)
    chain = require_full_sis(session, household.org_id)
    in_force = discount_definitions(session, chain, today)
    definition = in_force.get(data.discount_code)
    if definition is None:
        known = ", ".join(sorted(in_force)) or "none"
        raise NotFound(f"no discount {data.discount_code!r}; discounts here: {known}", field="discount_code")
    if definition.eligibility is not DiscountEligibility.GRANTED:
        raise InvalidInput(
            f"{definition.name} applies automatically by sibling rank; it is not granted", field="discount_code"
        )
    members = set(_household_students(session, household.id))
    if data.student_id is not None and data.student_id not in members:
        raise NotFound(f"student {data.student_id} is not in household {household.id}", field="student_id")
    if data.offering_id is not None:
        offering_for(session, scope, data.offering_id)
    grant = DiscountGrant(
        id=uuid.uuid4(),
        org_id=household.org_id,
        discount_id=definition.id,
        household_id=household.id,
        student_id=data.student_id,
        offering_id=data.offering_id,
        reason=data.reason,
        granted_on=today,
    )
    session.add(grant)
    record_changes(session, scope, grant, reason=data.reason)
    session.flush()
    repriced, unchanged = [], []
    students = [data.student_id] if data.student_id is not None else sorted(members)
    agreements = session.execute(
        select(BillingAgreement, Enrollment)
        .join(Enrollment, Enrollment.id == BillingAgreement.enrollment_id)
        .where(
            BillingAgreement.student_id.in_(students),
            BillingAgreement.status == AgreementStatus.ACTIVE,
            scope.org_filter(BillingAgreement.org_id, DataClass.FINANCIAL, Action.WRITE),
            *([BillingAgreement.offering_id == data.offering_id] if data.offering_id else []),
        )
        .order_by(BillingAgreement.id)
    ).all()
    for row in agreements:
        agreement, enrollment = row.BillingAgreement, row.Enrollment
        if _billing_started(session, agreement):
            unchanged.append(agreement.id)
            continue
        current = rules.Terms.from_json(agreement.terms)
        fresh, _, _ = enrollment_terms(
            session,
            enrollment,
            plan_code=current.plan.code,
            discount_codes=None,
            billing_start=current.billing_start,
            on=today,
        )
        # The agreement keeps its tuition, fee and plan versions; only its discounts and shares change.
        terms = dataclasses.replace(current, discounts=fresh.discounts, shares=fresh.shares)
        plan = session.get_one(PaymentPlan, agreement.plan_id)
        priced_on = agreement.priced_on or today
        price_agreement(session, scope, enrollment, terms, plan, priced_on=priced_on, reason=data.reason)
        repriced.append(agreement.id)
    return DiscountGrantRead(
        grant_id=grant.id,
        household_id=household.id,
        discount_code=definition.code,
        student_id=data.student_id,
        offering_id=data.offering_id,
        repriced_agreement_ids=repriced,
        unchanged_agreement_ids=unchanged,
    )


def _household_students(session: Session, household_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.execute(
            select(HouseholdStudent.student_id).where(HouseholdStudent.household_id == household_id)
        ).scalars()
    )
