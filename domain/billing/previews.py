"""Tuition previews: every line and installment of a price, from an agreement's frozen terms or a what-if.

`tuition_preview` renders a quote of `rules.compute_quote`, so a preview and a charge can never
disagree; set_payment_plan answers with the same rendering of the terms it stored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Household, ProgramOffering
from domain.billing import rules
from domain.billing.access import enrollment_for, household_for, offering_for, require_full_sis
from domain.billing.pricing import (
    agreement_of,
    build_terms,
    discounts_named,
    eligible_discounts,
    enrollment_terms,
    plan_named,
    shares_of,
)
from domain.billing.schemas import HouseholdPart, InstallmentLine, PreviewTuitionInput, PriceLine, TuitionPreview
from domain.household.rules import FULL_SHARE_BP
from domain.visibility import visible_student
from policies.scope import Action, DataClass, Scope


def _household_names(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(select(Household.id, Household.name).where(Household.id.in_(wanted)))
    return {row.id: row.name for row in rows}


def tuition_preview(
    session: Session,
    terms: rules.Terms,
    offering: ProgramOffering,
    *,
    source: str,
    agreement_id: uuid.UUID | None,
    enrollment_id: uuid.UUID | None,
    student_id: uuid.UUID | None,
) -> TuitionPreview:
    """The quote of `terms` as a preview: lines, installments and each household's part."""
    quote = rules.compute_quote(terms)
    names = _household_names(session, [h.household_id for h in quote.households])
    return TuitionPreview(
        source=source,
        agreement_id=agreement_id,
        enrollment_id=enrollment_id,
        student_id=student_id,
        offering_id=offering.id,
        offering_name=offering.name,
        plan_code=terms.plan.code,
        plan_name=terms.plan.name,
        billing_start=terms.billing_start,
        billed_months=quote.billed_months,
        offering_months=quote.offering_months,
        lines=[
            PriceLine(
                kind=line.kind,
                code=line.code,
                name=line.name,
                amount_cents=line.amount_cents,
                basis_cents=line.basis_cents,
            )
            for line in quote.lines
        ],
        gross_cents=quote.gross_cents,
        discount_cents=quote.discount_cents,
        total_cents=quote.total_cents,
        installments=[
            InstallmentLine(seq=i.seq, due_on=i.due_on, amount_cents=i.amount_cents) for i in quote.installments
        ],
        households=[
            HouseholdPart(
                household_id=h.household_id,
                household_name=names.get(h.household_id, ""),
                share_bp=h.share_bp,
                gross_cents=h.gross_cents,
                discount_cents=h.discount_cents,
                total_cents=h.total_cents,
                installments=[
                    InstallmentLine(seq=i.seq, due_on=i.due_on, amount_cents=i.amount_cents) for i in h.installments
                ],
            )
            for h in quote.households
        ],
    )


def preview_tuition(session: Session, scope: Scope, data: PreviewTuitionInput, *, today: dt.date) -> TuitionPreview:
    """Every line and installment of an enrollment's price, or of a what-if (offering, household, plan, discounts).

    Raises:
        NotFound, NotApplicable (ROSTER_ONLY org), InvalidInput.
    """
    if data.enrollment_id is not None:
        enrollment = enrollment_for(session, scope, data.enrollment_id, Action.READ)
        agreement = agreement_of(session, enrollment.id)
        what_if = data.plan_code is not None or data.discount_codes is not None or data.start_on is not None
        if agreement is not None and not what_if:
            offering = session.get(ProgramOffering, agreement.offering_id)
            assert offering is not None
            return tuition_preview(
                session,
                rules.Terms.from_json(agreement.terms),
                offering,
                source="agreement",
                agreement_id=agreement.id,
                enrollment_id=enrollment.id,
                student_id=enrollment.student_id,
            )
        plan_code = data.plan_code
        if plan_code is None and agreement is not None:
            plan_code = rules.Terms.from_json(agreement.terms).plan.code
        terms, offering, _ = enrollment_terms(
            session,
            enrollment,
            plan_code=plan_code,
            discount_codes=data.discount_codes,
            billing_start=data.start_on,
            on=today,
        )
        return tuition_preview(
            session,
            terms,
            offering,
            source="what_if",
            agreement_id=None,
            enrollment_id=enrollment.id,
            student_id=enrollment.student_id,
        )

    assert data.offering_id is not None
    offering = offering_for(session, scope, data.offering_id)
    chain = require_full_sis(session, offering.org_id)
    student = (
        visible_student(session, scope, data.student_id, DataClass.FINANCIAL) if data.student_id is not None else None
    )
    shares: dict[uuid.UUID, int] = shares_of(session, student.id) if student is not None else {}
    if data.household_id is not None:
        household_for(session, scope, data.household_id, Action.READ)
        if data.household_id not in shares:
            shares = {data.household_id: FULL_SHARE_BP}
    payers = [h for h, s in shares.items() if s > 0]
    discounts = (
        discounts_named(session, chain, data.discount_codes, today)
        if data.discount_codes is not None
        else eligible_discounts(session, chain, offering, payers, student, today)
    )
    terms = build_terms(
        session,
        offering,
        chain,
        on=today,
        billing_start=data.start_on or max(today, offering.start_on),
        plan=plan_named(session, chain, data.plan_code, today),
        discounts=discounts,
        shares=shares,
    )
    return tuition_preview(
        session,
        terms,
        offering,
        source="what_if",
        agreement_id=None,
        enrollment_id=None,
        student_id=student.id if student else None,
    )
