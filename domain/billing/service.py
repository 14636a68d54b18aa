"""Billing: prices from rules as data, agreements and installments, household ledgers, gateway charges.

Only FULL_SIS orgs bill; asking about a ROSTER_ONLY org's enrollment is NotApplicable. Financial
rows are scoped by their own org (the enrollment's campus) in SQL. Every amount charged, shown
or stored comes from `rules.compute_quote` over an agreement's frozen terms, so a preview and a
charge can never disagree.

Balances, for a household on a day D (all integer cents, see db/models/billing.py for signs):
- balance: the sum of entries posted on or before D (installments post on their due dates);
- overdue: the part of the balance due before D and not covered by money received by D;
- scheduled: installments due after D (not yet in the balance).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.base import Base
from db.models import (
    AgreementStatus,
    AttemptStatus,
    BillingAgreement,
    BillingCustomer,
    DiscountDefinition,
    DiscountEligibility,
    DiscountGrant,
    Enrollment,
    EnrollmentStatus,
    FeeDefinition,
    FeeTiming,
    GatewayEvent,
    Household,
    HouseholdStudent,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    LedgerKind,
    Organization,
    OrgKind,
    PaymentAttempt,
    PaymentMethod,
    PaymentPlan,
    ProgramOffering,
    RefundRule,
    Student,
)
from domain.audit.changes import record_changes
from domain.billing import rules
from domain.billing.errors import (
    BillingInProgress,
    InstallmentNotChargeable,
    PaymentMethodMissing,
    RefundExceedsPayment,
    RefundRefused,
)
from domain.billing.gateway import (
    CHARGE_REFUNDED,
    HANDLED_EVENTS,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    ChargeRequest,
    ChargeStatus,
    CustomerRequest,
    RefundRequest,
    WebhookEvent,
    current_gateway,
)
from domain.billing.schemas import (
    AgreementRead,
    ApplyDiscountInput,
    BalanceInput,
    BalanceReport,
    ChargeInstallmentInput,
    ChargeRead,
    DiscountGrantRead,
    HouseholdBalance,
    HouseholdPart,
    InstallmentLine,
    InstallmentRead,
    LedgerEntryRead,
    OutstandingBalance,
    OutstandingBalancePage,
    OutstandingBalancesQuery,
    PaymentRead,
    PreviewTuitionInput,
    PriceLine,
    RecordPaymentInput,
    RefundPaymentInput,
    RefundRead,
    SetPaymentPlanInput,
    TuitionPreview,
    WithdrawalHouseholdRead,
    WithdrawalRead,
)
from domain.errors import InvalidInput, NotApplicable, NotFound, PermissionDenied
from domain.events import emit_event
from domain.household.rules import FULL_SHARE_BP
from domain.org.service import in_subtree
from policies.scope import Action, Actor, DataClass, Scope, scope_for_orgs

CURRENCY = "usd"
DEFAULT_PLAN_CODE = "annual"
# Kinds on the "what is owed" side; payments and refunds are money that moved.
OBLIGATIONS = (LedgerKind.CHARGE, LedgerKind.CREDIT, LedgerKind.CANCELLATION)
MONEY = (LedgerKind.PAYMENT, LedgerKind.REFUND)
# Enrollments that make a child count as a sibling for the sibling discount.
SIBLING_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)
WEBHOOK_ACTOR = "payment gateway webhook"


# -- lookups -----------------------------------------------------------------------------------


def _ancestor_paths(path: str) -> list[str]:
    """'/a/b/c/' -> ['/a/', '/a/b/', '/a/b/c/'] (materialized paths of the org and its ancestors)."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _ancestors(session: Session, org_id: uuid.UUID) -> list[Organization]:
    """The org and its ancestors, nearest first."""
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"organization {org_id} not found", field="org_id")
    rows = session.execute(select(Organization).where(Organization.path.in_(_ancestor_paths(org.path)))).scalars()
    return sorted(rows, key=lambda o: -len(o.path))


def require_full_sis(session: Session, org_id: uuid.UUID) -> list[Organization]:
    """The org's ancestry (nearest first), when billing applies there.

    Raises:
        NotApplicable: the org or an ancestor is ROSTER_ONLY (its billing runs elsewhere).
    """
    chain = _ancestors(session, org_id)
    roster = next((o for o in chain if o.kind is OrgKind.ROSTER_ONLY), None)
    if roster is not None:
        raise NotApplicable(
            f"billing does not apply at {chain[0].name}: {roster.name} is a roster-only organization whose "
            "billing is handled outside the SIS"
        )
    return chain


def _check_financial(scope: Scope, org_id: uuid.UUID, action: Action, what: str, field: str) -> None:
    """Raise NotFound when the caller cannot read financial data at the org, PermissionDenied when it cannot write."""
    if not scope.allows_org(org_id, DataClass.FINANCIAL, Action.READ):
        raise NotFound(f"{what} not found", field=field)
    if action is Action.WRITE and not scope.allows_org(org_id, DataClass.FINANCIAL, Action.WRITE):
        raise PermissionDenied("your role may not change financial records here", field=field)


def _enrollment_for(session: Session, scope: Scope, enrollment_id: uuid.UUID, action: Action) -> Enrollment:
    """The enrollment, when visible, billable and within the caller's financial scope.

    Raises:
        NotFound, NotApplicable, PermissionDenied.
    """
    enrollment = session.execute(
        select(Enrollment).where(
            Enrollment.id == enrollment_id,
            scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.DIRECTORY),
        )
    ).scalar_one_or_none()
    if enrollment is None:
        raise NotFound(f"enrollment {enrollment_id} not found", field="enrollment_id")
    require_full_sis(session, enrollment.org_id)
    _check_financial(scope, enrollment.org_id, action, f"enrollment {enrollment_id}", "enrollment_id")
    return enrollment


def _offering_for(session: Session, scope: Scope, offering_id: uuid.UUID) -> ProgramOffering:
    """The offering, when visible, billable and within the caller's financial scope.

    Raises:
        NotFound, NotApplicable.
    """
    offering = session.execute(
        select(ProgramOffering).where(
            ProgramOffering.id == offering_id, scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY)
        )
    ).scalar_one_or_none()
    if offering is None:
        raise NotFound(f"offering {offering_id} not found", field="offering_id")
    require_full_sis(session, offering.org_id)
    _check_financial(scope, offering.org_id, Action.READ, f"offering {offering_id}", "offering_id")
    return offering


def _household_for(session: Session, scope: Scope, household_id: uuid.UUID, action: Action) -> Household:
    """The household, when its org is within the caller's financial scope.

    Raises:
        NotFound, NotApplicable, PermissionDenied.
    """
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(f"household {household_id} not found", field="household_id")
    if scope.allows_org(household.org_id, DataClass.DIRECTORY):
        require_full_sis(session, household.org_id)
    _check_financial(scope, household.org_id, action, f"household {household_id}", "household_id")
    return household


def _student_for(session: Session, scope: Scope, student_id: uuid.UUID) -> Student:
    """The student, when their records are within the caller's financial scope.

    Raises:
        NotFound: no such student, or outside the caller's scope.
    """
    student = session.execute(
        select(Student).where(Student.id == student_id, scope.student_filter(DataClass.FINANCIAL))
    ).scalar_one_or_none()
    if student is None:
        raise NotFound(f"student {student_id} not found", field="student_id")
    return student


# -- rules as data -----------------------------------------------------------------------------


def _nearest_by_code(rows: Iterable[Any], chain: Sequence[Organization]) -> dict[str, Any]:
    """Definitions by code, the one defined nearest the org winning (a campus overrides its brand)."""
    depth = {o.id: i for i, o in enumerate(chain)}
    best: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: depth[r.org_id], reverse=True):
        best[row.code] = row
    return best


class RuleCache:
    """Rule lookups memoized for one batch of pricing in one transaction (e.g. the demo seed).

    With `batch`, shares, siblings and grants are read for every household at the first use
    instead of one household at a time: worth it only when pricing many enrollments at once.
    """

    def __init__(self, *, batch: bool = False) -> None:
        self.batch = batch
        self._chains: dict[uuid.UUID, list[Organization]] = {}
        self._plans: dict[uuid.UUID, dict[str, PaymentPlan]] = {}
        self._discounts: dict[uuid.UUID, dict[str, DiscountDefinition]] = {}
        self._fees: dict[uuid.UUID, tuple[rules.FeeTerm, ...]] = {}
        self._shares: dict[uuid.UUID, dict[uuid.UUID, int]] | None = None
        self._siblings: dict[tuple[uuid.UUID, str], list[tuple[dt.date, int, uuid.UUID]]] | None = None
        self._grants: list[tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None, str]] | None = None

    def shares(self, session: Session, student_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """The student's billing shares by household."""
        if not self.batch:
            return _shares_of(session, student_id)
        if self._shares is None:
            self._shares = defaultdict(dict)
            for sid, household_id, share in session.execute(
                select(HouseholdStudent.student_id, HouseholdStudent.household_id, HouseholdStudent.billing_share_bp)
            ):
                self._shares[sid][household_id] = share
        return dict(self._shares.get(student_id, {}))

    def siblings(
        self, session: Session, household_id: uuid.UUID, offering: ProgramOffering
    ) -> list[tuple[dt.date, int, uuid.UUID]]:
        """The household's children enrolled in the offering's session, oldest first."""
        if not self.batch:
            return _siblings(session, household_id, offering)
        if self._siblings is None:
            found: dict[tuple[uuid.UUID, str], set[tuple[dt.date, int, uuid.UUID]]] = defaultdict(set)
            for hid, label, birth, number, sid in session.execute(_sibling_query()):
                found[(hid, label)].add((birth, number, sid))
            self._siblings = {key: sorted(kids) for key, kids in found.items()}
        return list(self._siblings.get((household_id, offering.session_label), []))

    def granted_codes(
        self, session: Session, household_ids: Sequence[uuid.UUID], student: Student | None, offering: ProgramOffering
    ) -> set[str]:
        """Codes of discounts granted to any of the households, for this student (or all) and offering (or all)."""
        if not self.batch:
            return _granted_codes(session, household_ids, student, offering)
        if self._grants is None:
            self._grants = list(session.execute(_grant_query()))
        wanted = set(household_ids)
        return {
            code
            for hid, sid, oid, code in self._grants
            if hid in wanted
            and (sid is None or (student is not None and sid == student.id))
            and (oid is None or oid == offering.id)
        }

    def chain(self, session: Session, org_id: uuid.UUID) -> list[Organization]:
        """require_full_sis, memoized."""
        if org_id not in self._chains:
            self._chains[org_id] = require_full_sis(session, org_id)
        return self._chains[org_id]

    def plans(self, session: Session, chain: Sequence[Organization]) -> dict[str, PaymentPlan]:
        """The plans in force at chain[0], memoized."""
        if chain[0].id not in self._plans:
            self._plans[chain[0].id] = _plans(session, chain)
        return self._plans[chain[0].id]

    def discounts(self, session: Session, chain: Sequence[Organization]) -> dict[str, DiscountDefinition]:
        """The discount definitions in force at chain[0], memoized."""
        if chain[0].id not in self._discounts:
            self._discounts[chain[0].id] = _discount_definitions(session, chain)
        return self._discounts[chain[0].id]

    def fees(self, session: Session, offering: ProgramOffering) -> tuple[rules.FeeTerm, ...]:
        """The offering's fees as pricing inputs, memoized."""
        if offering.id not in self._fees:
            self._fees[offering.id] = _fee_terms(session, offering)
        return self._fees[offering.id]


def _plans(session: Session, chain: Sequence[Organization]) -> dict[str, PaymentPlan]:
    rows = session.execute(
        select(PaymentPlan).where(PaymentPlan.org_id.in_([o.id for o in chain]), PaymentPlan.is_active.is_(True))
    ).scalars()
    return _nearest_by_code(rows, chain)


def _discount_definitions(session: Session, chain: Sequence[Organization]) -> dict[str, DiscountDefinition]:
    rows = session.execute(
        select(DiscountDefinition).where(
            DiscountDefinition.org_id.in_([o.id for o in chain]), DiscountDefinition.is_active.is_(True)
        )
    ).scalars()
    return _nearest_by_code(rows, chain)


def plan_named(
    session: Session, chain: Sequence[Organization], code: str | None, *, cache: RuleCache | None = None
) -> PaymentPlan:
    """The plan with this code at the org (default: annual, else the one with fewest installments).

    Raises:
        NotFound: no such plan; the message lists the plans there are.
    """
    plans = (cache or RuleCache()).plans(session, chain)
    if not plans:
        raise NotFound(f"no payment plans are defined for {chain[0].name}", field="plan_code")
    if code is None:
        return plans.get(DEFAULT_PLAN_CODE) or min(plans.values(), key=lambda p: (p.installment_count, p.code))
    if code not in plans:
        raise NotFound(f"no payment plan {code!r}; plans here: {', '.join(sorted(plans))}", field="plan_code")
    return plans[code]


def plan_term(plan: PaymentPlan) -> rules.PlanTerm:
    """A plan definition as a pricing input (its offsets must match its installment count)."""
    offsets = tuple(int(o) for o in plan.due_month_offsets)
    if len(offsets) != plan.installment_count:
        raise ValueError(f"plan {plan.code}: {plan.installment_count} installments but {len(offsets)} due months")
    return rules.PlanTerm(plan.code, plan.name, offsets, plan.due_day)


def discount_term(definition: DiscountDefinition) -> rules.DiscountTerm:
    """A discount definition as a pricing input."""
    return rules.DiscountTerm(
        code=definition.code,
        name=definition.name,
        kind=definition.kind.value,
        stacking_order=definition.stacking_order,
        percent_bp=definition.percent_bp,
        amount_cents=definition.amount_cents,
        cap_cents=definition.cap_cents,
    )


def _fee_terms(session: Session, offering: ProgramOffering) -> tuple[rules.FeeTerm, ...]:
    fees = session.execute(
        select(FeeDefinition)
        .where(FeeDefinition.offering_id == offering.id, FeeDefinition.is_active.is_(True))
        .order_by(FeeDefinition.code)
    ).scalars()
    return tuple(
        rules.FeeTerm(
            code=f.code,
            name=f.name,
            kind=f.kind.value,
            amount_cents=f.amount_cents,
            upfront=f.timing is FeeTiming.UPFRONT,
            prorated=f.prorated,
            refundable=f.refundable,
        )
        for f in fees
    )


def _shares_of(session: Session, student_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """The student's billing shares by household (households with a zero share pay nothing)."""
    rows = session.execute(
        select(HouseholdStudent.household_id, HouseholdStudent.billing_share_bp).where(
            HouseholdStudent.student_id == student_id
        )
    ).all()
    return {household_id: share for household_id, share in rows}


def _sibling_query() -> Select[uuid.UUID, str, dt.date, int, uuid.UUID]:
    """(household, session label, birth date, student number, student) of children counting as siblings."""
    return (
        select(
            HouseholdStudent.household_id,
            ProgramOffering.session_label,
            Student.birth_on,
            Student.student_number,
            Student.id,
        )
        .join(Student, Student.id == HouseholdStudent.student_id)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
        .where(Enrollment.status.in_(SIBLING_STATUSES))
        .distinct()
    )


def _siblings(
    session: Session, household_id: uuid.UUID, offering: ProgramOffering
) -> list[tuple[dt.date, int, uuid.UUID]]:
    """(birth date, student number, id) of the household's children enrolled in the offering's session, oldest first."""
    rows = session.execute(
        _sibling_query().where(
            HouseholdStudent.household_id == household_id, ProgramOffering.session_label == offering.session_label
        )
    )
    return sorted((birth, number, sid) for _, _, birth, number, sid in rows)


def _grant_query() -> Select[uuid.UUID, uuid.UUID | None, uuid.UUID | None, str]:
    """(household, student or null, offering or null, discount code) of every grant in force."""
    return (
        select(DiscountGrant.household_id, DiscountGrant.student_id, DiscountGrant.offering_id, DiscountDefinition.code)
        .join(DiscountDefinition, DiscountDefinition.id == DiscountGrant.discount_id)
        .where(DiscountGrant.revoked_on.is_(None))
    )


def _granted_codes(
    session: Session, household_ids: Sequence[uuid.UUID], student: Student | None, offering: ProgramOffering
) -> set[str]:
    for_student: ColumnElement[bool] = DiscountGrant.student_id.is_(None)
    if student is not None:
        for_student = or_(for_student, DiscountGrant.student_id == student.id)
    rows = session.execute(
        _grant_query().where(
            DiscountGrant.household_id.in_(list(household_ids)),
            for_student,
            or_(DiscountGrant.offering_id.is_(None), DiscountGrant.offering_id == offering.id),
        )
    )
    return {code for _, _, _, code in rows}


def _sibling_rank(
    session: Session,
    household_ids: Iterable[uuid.UUID],
    offering: ProgramOffering,
    student: Student | None,
    cache: RuleCache,
) -> int:
    """The child's best (highest) rank among enrolled siblings in any of its households; 1 = eldest or only child.

    A what-if child with no record yet counts as the household's next (youngest) child.
    """
    best = 1
    for household_id in household_ids:
        kids = cache.siblings(session, household_id, offering)
        if student is None:
            best = max(best, len(kids) + 1)
            continue
        key = (student.birth_on, student.student_number, student.id)
        if key not in kids:
            kids = sorted([*kids, key])
        best = max(best, kids.index(key) + 1)
    return best


def _eligible_discounts(
    session: Session,
    chain: Sequence[Organization],
    offering: ProgramOffering,
    household_ids: Sequence[uuid.UUID],
    student: Student | None,
    *,
    cache: RuleCache | None = None,
) -> list[DiscountDefinition]:
    """Discounts the child qualifies for: sibling rank, and grants to any of its households."""
    cache = cache or RuleCache()
    definitions = cache.discounts(session, chain)
    if not definitions:
        return []
    rank = _sibling_rank(session, household_ids, offering, student, cache) if household_ids else 1
    chosen = {
        d.code
        for d in definitions.values()
        if d.eligibility is DiscountEligibility.SIBLING
        and d.sibling_rank_min is not None
        and rank >= d.sibling_rank_min
    }
    if household_ids:
        granted = cache.granted_codes(session, household_ids, student, offering)
        chosen |= {code for code in granted if code in definitions}
    return [definitions[c] for c in sorted(chosen)]


def _discounts_named(session: Session, chain: Sequence[Organization], codes: Sequence[str]) -> list[DiscountDefinition]:
    """The named discount definitions (what-if).

    Raises:
        NotFound: an unknown code; the message lists the codes there are.
    """
    definitions = _discount_definitions(session, chain)
    unknown = sorted(set(codes) - set(definitions))
    if unknown:
        raise NotFound(
            f"no discount {', '.join(unknown)}; discounts here: {', '.join(sorted(definitions)) or 'none'}",
            field="discount_codes",
        )
    return [definitions[c] for c in sorted(set(codes))]


def build_terms(
    session: Session,
    offering: ProgramOffering,
    *,
    billing_start: dt.date,
    plan: PaymentPlan,
    discounts: Sequence[DiscountDefinition],
    shares: dict[uuid.UUID, int],
    cache: RuleCache | None = None,
) -> rules.Terms:
    """The pricing inputs of one enrollment from today's rules."""
    return rules.Terms(
        offering_start=offering.start_on,
        offering_end=offering.end_on,
        billing_start=max(billing_start, offering.start_on),
        tuition_cents=offering.tuition_cents,
        plan=plan_term(plan),
        fees=(cache or RuleCache()).fees(session, offering),
        discounts=tuple(discount_term(d) for d in discounts),
        shares=tuple(sorted((h, s) for h, s in shares.items() if s > 0)),
    )


# -- previews ----------------------------------------------------------------------------------


def _household_names(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    return dict(session.execute(select(Household.id, Household.name).where(Household.id.in_(wanted))).all())


def _preview(
    session: Session,
    terms: rules.Terms,
    offering: ProgramOffering,
    *,
    source: str,
    agreement_id: uuid.UUID | None,
    enrollment_id: uuid.UUID | None,
    student_id: uuid.UUID | None,
) -> TuitionPreview:
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


def _agreement_of(session: Session, enrollment_id: uuid.UUID) -> BillingAgreement | None:
    return session.execute(
        select(BillingAgreement).where(BillingAgreement.enrollment_id == enrollment_id)
    ).scalar_one_or_none()


def enrollment_terms(
    session: Session,
    enrollment: Enrollment,
    *,
    plan_code: str | None,
    discount_codes: Sequence[str] | None,
    billing_start: dt.date | None = None,
    cache: RuleCache | None = None,
) -> tuple[rules.Terms, ProgramOffering]:
    """Today's pricing inputs for an enrollment (its households' shares, its eligible or named discounts)."""
    cache = cache or RuleCache()
    offering = session.get(ProgramOffering, enrollment.offering_id)
    student = session.get(Student, enrollment.student_id)
    assert offering is not None and student is not None
    chain = cache.chain(session, offering.org_id)
    shares = cache.shares(session, student.id)
    payers = [h for h, s in shares.items() if s > 0]
    discounts = (
        _discounts_named(session, chain, discount_codes)
        if discount_codes is not None
        else _eligible_discounts(session, chain, offering, payers, student, cache=cache)
    )
    terms = build_terms(
        session,
        offering,
        billing_start=billing_start or enrollment.start_on,
        plan=plan_named(session, chain, plan_code, cache=cache),
        discounts=discounts,
        shares=shares,
        cache=cache,
    )
    return terms, offering


def preview_tuition(session: Session, scope: Scope, data: PreviewTuitionInput, *, today: dt.date) -> TuitionPreview:
    """Every line and installment of an enrollment's price, or of a what-if (offering, household, plan, discounts).

    Raises:
        NotFound, NotApplicable (ROSTER_ONLY org), InvalidInput.
    """
    if data.enrollment_id is not None:
        enrollment = _enrollment_for(session, scope, data.enrollment_id, Action.READ)
        agreement = _agreement_of(session, enrollment.id)
        what_if = data.plan_code is not None or data.discount_codes is not None or data.start_on is not None
        if agreement is not None and not what_if:
            offering = session.get(ProgramOffering, agreement.offering_id)
            assert offering is not None
            return _preview(
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
        terms, offering = enrollment_terms(
            session, enrollment, plan_code=plan_code, discount_codes=data.discount_codes, billing_start=data.start_on
        )
        return _preview(
            session,
            terms,
            offering,
            source="what_if",
            agreement_id=None,
            enrollment_id=enrollment.id,
            student_id=enrollment.student_id,
        )

    assert data.offering_id is not None
    offering = _offering_for(session, scope, data.offering_id)
    chain = require_full_sis(session, offering.org_id)
    student = _student_for(session, scope, data.student_id) if data.student_id is not None else None
    shares: dict[uuid.UUID, int] = _shares_of(session, student.id) if student is not None else {}
    if data.household_id is not None:
        _household_for(session, scope, data.household_id, Action.READ)
        if data.household_id not in shares:
            shares = {data.household_id: FULL_SHARE_BP}
    payers = [h for h, s in shares.items() if s > 0]
    discounts = (
        _discounts_named(session, chain, data.discount_codes)
        if data.discount_codes is not None
        else _eligible_discounts(session, chain, offering, payers, student)
    )
    terms = build_terms(
        session,
        offering,
        billing_start=data.start_on or max(today, offering.start_on),
        plan=plan_named(session, chain, data.plan_code),
        discounts=discounts,
        shares=shares,
    )
    return _preview(
        session,
        terms,
        offering,
        source="what_if",
        agreement_id=None,
        enrollment_id=None,
        student_id=student.id if student else None,
    )


# -- agreements and installments ---------------------------------------------------------------


def _record_all(session: Session, scope: Scope, rows: Iterable[Base], *, reason: str | None) -> None:
    for row in rows:
        record_changes(session, scope, row, reason=reason)


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


def _cancel_installments(
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
    _record_all(session, scope, rows, reason=reason)
    session.flush()


def agreement_label(session: Session, agreement: BillingAgreement) -> str:
    offering = session.get(ProgramOffering, agreement.offering_id)
    student = session.get(Student, agreement.student_id)
    assert offering is not None and student is not None
    return f"{offering.name}, {student.first_name} {student.last_name}"


def price_agreement(
    session: Session, scope: Scope, enrollment: Enrollment, terms: rules.Terms, plan: PaymentPlan, *, reason: str | None
) -> BillingAgreement:
    """Create or re-price the enrollment's agreement from `terms` and post its schedule.

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
    agreement = _agreement_of(session, enrollment.id)
    if agreement is None:
        agreement = BillingAgreement(
            id=uuid.uuid4(),
            org_id=enrollment.org_id,
            enrollment_id=enrollment.id,
            student_id=enrollment.student_id,
            offering_id=enrollment.offering_id,
            plan_id=plan.id,
            status=AgreementStatus.ACTIVE,
            terms=terms.to_json(),
            total_cents=total,
        )
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
        _cancel_installments(session, scope, old, memo=f"replaced by a new schedule ({plan.name})", reason=reason)
        agreement.plan_id = plan.id
        agreement.terms = terms.to_json()
        agreement.total_cents = total
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
    enrollment = _enrollment_for(session, scope, data.enrollment_id, Action.WRITE)
    if enrollment.status not in SIBLING_STATUSES:
        raise InvalidInput(f"enrollment {enrollment.id} is {enrollment.status.value}; only current ones are billed")
    terms, offering = enrollment_terms(session, enrollment, plan_code=data.plan_code, discount_codes=None)
    chain = require_full_sis(session, offering.org_id)
    plan = plan_named(session, chain, data.plan_code)
    agreement = price_agreement(session, scope, enrollment, terms, plan, reason=data.reason)
    preview = _preview(
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
    household = _household_for(session, scope, data.household_id, Action.WRITE)
    chain = require_full_sis(session, household.org_id)
    definition = _discount_definitions(session, chain).get(data.discount_code)
    if definition is None:
        known = ", ".join(sorted(_discount_definitions(session, chain))) or "none"
        raise NotFound(f"no discount {data.discount_code!r}; discounts here: {known}", field="discount_code")
    if definition.eligibility is not DiscountEligibility.GRANTED:
        raise InvalidInput(
            f"{definition.name} applies automatically by sibling rank; it is not granted", field="discount_code"
        )
    members = set(_household_students(session, household.id))
    if data.student_id is not None and data.student_id not in members:
        raise NotFound(f"student {data.student_id} is not in household {household.id}", field="student_id")
    if data.offering_id is not None:
        _offering_for(session, scope, data.offering_id)
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
    for agreement, enrollment in agreements:
        if _billing_started(session, agreement):
            unchanged.append(agreement.id)
            continue
        current = rules.Terms.from_json(agreement.terms)
        terms, _ = enrollment_terms(
            session, enrollment, plan_code=current.plan.code, discount_codes=None, billing_start=current.billing_start
        )
        plan = session.get(PaymentPlan, agreement.plan_id)
        assert plan is not None
        price_agreement(session, scope, enrollment, terms, plan, reason=data.reason)
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


# -- payments and installment status -----------------------------------------------------------


def _coverage(session: Session, household_id: uuid.UUID) -> tuple[list[Installment], dict[uuid.UUID, int]]:
    """The household's live installments (oldest first) and the cents of each covered by money received.

    Payments tied to an installment cover it first; the rest of the money received (and any excess)
    covers the oldest installments first. A refund takes back from whatever its payment covered.
    """
    installments = list(
        session.execute(
            select(Installment)
            .where(Installment.household_id == household_id, Installment.status != InstallmentStatus.CANCELLED)
            .order_by(Installment.due_on, Installment.seq, Installment.id)
        ).scalars()
    )
    entries = list(
        session.execute(
            select(LedgerEntry).where(LedgerEntry.household_id == household_id, LedgerEntry.kind.in_(MONEY))
        ).scalars()
    )
    target_of_payment = {e.id: e.installment_id for e in entries if e.kind is LedgerKind.PAYMENT}
    linked: dict[uuid.UUID, int] = defaultdict(int)
    pool = 0
    for entry in entries:
        received = -entry.amount_cents
        if entry.kind is LedgerKind.PAYMENT:
            target = entry.installment_id
        else:
            target = target_of_payment.get(entry.refund_of_id) if entry.refund_of_id else None
        if target is not None:
            linked[target] += received
        else:
            pool += received
    covered: dict[uuid.UUID, int] = {}
    for inst in installments:
        own = linked.pop(inst.id, 0)
        covered[inst.id] = max(0, min(own, inst.amount_cents))
        pool += own - covered[inst.id]
    pool += sum(linked.values())  # money tied to cancelled installments
    for inst in installments:
        take = max(0, min(pool, inst.amount_cents - covered[inst.id]))
        covered[inst.id] += take
        pool -= take
    return installments, covered


def sync_installments(session: Session, scope: Scope, household_id: uuid.UUID, *, audit: bool = True) -> None:
    """Mark the household's installments paid (or open again) from the money received (see _coverage).

    Installments being charged right now are left alone.
    """
    installments, covered = _coverage(session, household_id)
    for inst in installments:
        paid = covered[inst.id] >= inst.amount_cents
        if paid and inst.status in (InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED):
            inst.status = InstallmentStatus.PAID
        elif not paid and inst.status is InstallmentStatus.PAID:
            inst.status = InstallmentStatus.SCHEDULED
        else:
            continue
        if audit:
            record_changes(session, scope, inst, reason="payments applied")
    session.flush()


def _balance_on(session: Session, household_id: uuid.UUID, day: dt.date) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.household_id == household_id, LedgerEntry.posted_on <= day
        )
    ).scalar_one()
    return int(total)


def record_payment(session: Session, scope: Scope, data: RecordPaymentInput, *, today: dt.date) -> PaymentRead:
    """Record a check, cash or transfer payment on a household's ledger (oldest installments first).

    Raises:
        NotFound, NotApplicable, PermissionDenied, InvalidInput.
    """
    household = _household_for(session, scope, data.household_id, Action.WRITE)
    require_full_sis(session, household.org_id)
    org_id, student_id = household.org_id, None
    if data.installment_id is not None:
        inst = session.get(Installment, data.installment_id)
        if inst is None or inst.household_id != household.id:
            raise NotFound(
                f"installment {data.installment_id} of household {household.id} not found", field="installment_id"
            )
        if inst.status is InstallmentStatus.CANCELLED:
            raise InstallmentNotChargeable(f"installment {inst.id} was cancelled", field="installment_id")
        agreement = session.get(BillingAgreement, inst.agreement_id)
        assert agreement is not None
        org_id, student_id = inst.org_id, agreement.student_id
    else:
        oldest = session.execute(
            select(Installment.org_id)
            .where(
                Installment.household_id == household.id,
                Installment.status.in_([InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED]),
            )
            .order_by(Installment.due_on, Installment.seq)
            .limit(1)
        ).scalar_one_or_none()
        org_id = oldest or org_id
    _check_financial(scope, org_id, Action.WRITE, f"household {household.id}", "household_id")
    paid_on = data.paid_on or today
    if paid_on > today:
        raise InvalidInput("a payment cannot be recorded before it is received", field="paid_on")
    entry = LedgerEntry(
        id=uuid.uuid4(),
        org_id=org_id,
        household_id=household.id,
        student_id=student_id,
        installment_id=data.installment_id,
        kind=LedgerKind.PAYMENT,
        amount_cents=-data.amount_cents,
        posted_on=paid_on,
        memo=data.memo or f"{data.method.value} payment",
        method=data.method,
        reference=data.reference,
    )
    session.add(entry)
    record_changes(session, scope, entry, reason=data.memo)
    session.flush()
    sync_installments(session, scope, household.id)
    return PaymentRead(
        payment_id=entry.id,
        household_id=household.id,
        amount_cents=data.amount_cents,
        method=data.method,
        posted_on=paid_on,
        reference=data.reference,
        balance_cents=_balance_on(session, household.id, paid_on),
    )


# -- balances ----------------------------------------------------------------------------------


def _overdue_column(as_of: dt.date) -> ColumnElement[int]:
    """Per entry: its amount when it counts toward what is overdue on `as_of` (due before it, or money by it)."""
    return case(
        (
            or_(
                and_(LedgerEntry.kind.in_(OBLIGATIONS), LedgerEntry.posted_on < as_of),
                and_(LedgerEntry.kind.in_(MONEY), LedgerEntry.posted_on <= as_of),
            ),
            LedgerEntry.amount_cents,
        ),
        else_=0,
    )


def _balance_column(as_of: dt.date) -> ColumnElement[int]:
    return case((LedgerEntry.posted_on <= as_of, LedgerEntry.amount_cents), else_=0)


@dataclass(frozen=True)
class _Position:
    balance: int
    overdue: int
    oldest_overdue_on: dt.date | None


def _position(entries: Sequence[LedgerEntry], as_of: dt.date) -> _Position:
    """Balance, overdue amount and the oldest unpaid due date from a household's entries."""
    balance = sum(e.amount_cents for e in entries if e.posted_on <= as_of)
    received = -sum(e.amount_cents for e in entries if e.kind in MONEY and e.posted_on <= as_of)
    owed_by_day: dict[dt.date, int] = defaultdict(int)
    for e in entries:
        if e.kind in OBLIGATIONS and e.posted_on < as_of:
            owed_by_day[e.posted_on] += e.amount_cents
    past = sum(owed_by_day.values())
    overdue = max(0, min(balance, past - received))
    oldest = None
    if overdue:
        # Money received pays the oldest dues first; the first day it does not reach is the oldest unpaid.
        running = 0
        for day in sorted(owed_by_day):
            running += owed_by_day[day]
            if running > received:
                oldest = day
                break
    return _Position(balance, overdue, oldest)


def _household_balance(
    session: Session,
    scope: Scope,
    household: Household,
    as_of: dt.date,
    *,
    student_id: uuid.UUID | None = None,
) -> HouseholdBalance:
    conditions: list[ColumnElement[bool]] = [
        LedgerEntry.household_id == household.id,
        scope.org_filter(LedgerEntry.org_id, DataClass.FINANCIAL),
    ]
    inst_conditions: list[ColumnElement[bool]] = [
        Installment.household_id == household.id,
        scope.org_filter(Installment.org_id, DataClass.FINANCIAL),
    ]
    if student_id is not None:
        conditions.append(LedgerEntry.student_id == student_id)
        inst_conditions.append(
            Installment.agreement_id.in_(select(BillingAgreement.id).where(BillingAgreement.student_id == student_id))
        )
    entries = (
        session.execute(
            select(LedgerEntry)
            .where(*conditions)
            .order_by(LedgerEntry.posted_on, LedgerEntry.recorded_at, LedgerEntry.id)
        )
        .scalars()
        .all()
    )
    rows = session.execute(
        select(Installment, BillingAgreement.student_id)
        .join(BillingAgreement, BillingAgreement.id == Installment.agreement_id)
        .where(*inst_conditions)
        .order_by(Installment.due_on, Installment.seq, Installment.id)
    ).all()
    position = _position(entries, as_of)
    posted = [e for e in entries if e.posted_on <= as_of]

    def total(kind: LedgerKind) -> int:
        return abs(sum(e.amount_cents for e in posted if e.kind is kind))

    upcoming = [i for i, _ in rows if i.due_on > as_of and i.status is not InstallmentStatus.CANCELLED]
    next_on = upcoming[0].due_on if upcoming else None
    return HouseholdBalance(
        household_id=household.id,
        household_name=household.name,
        as_of=as_of,
        charges_cents=total(LedgerKind.CHARGE),
        discounts_cents=total(LedgerKind.CREDIT),
        payments_cents=total(LedgerKind.PAYMENT),
        refunds_cents=total(LedgerKind.REFUND),
        cancellations_cents=-sum(e.amount_cents for e in posted if e.kind is LedgerKind.CANCELLATION),
        balance_cents=position.balance,
        overdue_cents=position.overdue,
        oldest_overdue_on=position.oldest_overdue_on,
        next_due_on=next_on,
        next_due_cents=sum(i.amount_cents for i in upcoming if i.due_on == next_on) if next_on else None,
        scheduled_cents=sum(e.amount_cents for e in entries if e.posted_on > as_of),
        installments=[
            InstallmentRead(
                id=i.id,
                agreement_id=i.agreement_id,
                student_id=sid,
                seq=i.seq,
                due_on=i.due_on,
                amount_cents=i.amount_cents,
                status=i.status,
            )
            for i, sid in rows
        ],
        entries=[
            LedgerEntryRead(
                id=e.id,
                kind=e.kind,
                amount_cents=e.amount_cents,
                posted_on=e.posted_on,
                memo=e.memo,
                student_id=e.student_id,
                installment_id=e.installment_id,
                method=e.method,
                reference=e.reference,
            )
            for e in posted
        ],
    )


def compute_balance(session: Session, scope: Scope, data: BalanceInput, *, today: dt.date) -> BalanceReport:
    """A household's (or one student's) charges, discounts, payments, balance, next due and overdue amount.

    Raises:
        NotFound, NotApplicable.
    """
    as_of = data.as_of or today
    if data.household_id is not None:
        household = _household_for(session, scope, data.household_id, Action.READ)
        parts = [_household_balance(session, scope, household, as_of)]
        student_id = None
    else:
        assert data.student_id is not None
        student = _student_for(session, scope, data.student_id)
        require_full_sis(session, student.org_id)
        households = (
            session.execute(
                select(Household)
                .join(HouseholdStudent, HouseholdStudent.household_id == Household.id)
                .where(HouseholdStudent.student_id == student.id)
                .order_by(Household.name, Household.id)
            )
            .scalars()
            .all()
        )
        parts = [_household_balance(session, scope, h, as_of, student_id=student.id) for h in households]
        student_id = student.id
    return BalanceReport(
        as_of=as_of,
        student_id=student_id,
        balance_cents=sum(p.balance_cents for p in parts),
        overdue_cents=sum(p.overdue_cents for p in parts),
        households=parts,
    )


def list_outstanding_balances(
    session: Session, scope: Scope, data: OutstandingBalancesQuery, *, today: dt.date
) -> OutstandingBalancePage:
    """Households whose balance in the caller's financial scope is over a threshold, largest first.

    Raises:
        NotFound: org_id is outside the caller's financial scope.
        NotApplicable: org_id is a ROSTER_ONLY org.
    """
    as_of = data.as_of or today
    threshold = data.threshold_cents()
    if data.org_id is not None:
        if scope.allows_org(data.org_id, DataClass.DIRECTORY):
            require_full_sis(session, data.org_id)
        _check_financial(scope, data.org_id, Action.READ, f"organization {data.org_id}", "org_id")
    balance = func.sum(_balance_column(as_of))
    past = func.sum(_overdue_column(as_of))
    grouped = (
        select(
            LedgerEntry.household_id.label("household_id"),
            balance.label("balance"),
            past.label("past"),
        )
        .where(
            scope.org_filter(LedgerEntry.org_id, DataClass.FINANCIAL),
            in_subtree(session, LedgerEntry.org_id, data.org_id),
        )
        .group_by(LedgerEntry.household_id)
        .having(balance > threshold)
    )
    if data.overdue_only:
        grouped = grouped.having(past > 0)
    sub = grouped.subquery()
    count, total_balance = session.execute(select(func.count(), func.coalesce(func.sum(sub.c.balance), 0))).one()
    rows = session.execute(
        select(Household, Organization.name, sub.c.balance, sub.c.past)
        .join(sub, sub.c.household_id == Household.id)
        .join(Organization, Organization.id == Household.org_id)
        .order_by(sub.c.balance.desc(), Household.id)
        .limit(data.limit)
        .offset(data.offset)
    ).all()
    # One query for the page's entries: the oldest unpaid due date needs them one by one.
    by_household: dict[uuid.UUID, list[LedgerEntry]] = defaultdict(list)
    if rows:
        for entry in session.execute(
            select(LedgerEntry).where(
                LedgerEntry.household_id.in_([household.id for household, *_ in rows]),
                scope.org_filter(LedgerEntry.org_id, DataClass.FINANCIAL),
                in_subtree(session, LedgerEntry.org_id, data.org_id),
            )
        ).scalars():
            by_household[entry.household_id].append(entry)
    items = []
    for household, campus, _balance, _past in rows:
        position = _position(by_household[household.id], as_of)
        items.append(
            OutstandingBalance(
                household_id=household.id,
                household_name=household.name,
                org_id=household.org_id,
                campus=campus,
                balance_cents=position.balance,
                overdue_cents=position.overdue,
                oldest_overdue_on=position.oldest_overdue_on,
            )
        )
    next_offset = data.offset + len(items)
    return OutstandingBalancePage(
        as_of=as_of,
        over_cents=threshold,
        items=items,
        total=int(count),
        total_balance_cents=int(total_balance),
        limit=data.limit,
        offset=data.offset,
        next_offset=next_offset if next_offset < count else None,
    )


# -- the gateway -------------------------------------------------------------------------------


def installment_amount(session: Session, inst: Installment) -> int:
    """The installment's amount, recomputed by the one pricing function from its agreement's terms."""
    agreement = session.get(BillingAgreement, inst.agreement_id)
    assert agreement is not None
    quote = rules.compute_quote(rules.Terms.from_json(agreement.terms))
    amount = quote.household(inst.household_id).installments[inst.seq - 1].amount_cents
    if amount != inst.amount_cents:
        raise RuntimeError(f"installment {inst.id} stores {inst.amount_cents} but its terms price it at {amount}")
    return amount


def _charge_entry(session: Session, inst: Installment) -> LedgerEntry:
    entry = session.execute(
        select(LedgerEntry).where(LedgerEntry.installment_id == inst.id, LedgerEntry.kind == LedgerKind.CHARGE)
    ).scalar_one()
    return entry


def idempotency_key(charge_entry_id: uuid.UUID, attempt_no: int) -> str:
    """The gateway key of one attempt at an installment: its ledger charge entry and the attempt number."""
    return f"sis-pi-{charge_entry_id}-{attempt_no}"


def _payment_for_attempt(session: Session, attempt: PaymentAttempt) -> LedgerEntry | None:
    return session.execute(select(LedgerEntry).where(LedgerEntry.payment_attempt_id == attempt.id)).scalar_one_or_none()


def _charge_read(session: Session, inst: Installment, attempt: PaymentAttempt, *, replayed: bool) -> ChargeRead:
    payment = _payment_for_attempt(session, attempt)
    return ChargeRead(
        installment_id=inst.id,
        household_id=inst.household_id,
        attempt_no=attempt.attempt_no,
        idempotency_key=attempt.idempotency_key,
        amount_cents=attempt.amount_cents,
        status=attempt.status,
        gateway_ref=attempt.gateway_ref,
        failure_message=attempt.failure_message,
        payment_id=payment.id if payment else None,
        replayed=replayed,
    )


def _latest_attempt(session: Session, inst: Installment) -> PaymentAttempt | None:
    return session.execute(
        select(PaymentAttempt)
        .where(PaymentAttempt.installment_id == inst.id)
        .order_by(PaymentAttempt.attempt_no.desc())
        .limit(1)
    ).scalar_one_or_none()


def _publish(session: Session, event_type: str, org_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """The one place billing hands domain events (payment.succeeded, payment.failed, ...) to the outbox."""
    emit_event(session, event_type=event_type, org_id=org_id, payload=payload)


def _record_gateway_payment(
    session: Session,
    scope: Scope,
    attempt: PaymentAttempt,
    *,
    amount_cents: int,
    posted_on: dt.date,
    reference: str | None,
) -> LedgerEntry:
    """The payment entry of a succeeded attempt, written once whichever of the response or the webhook comes first."""
    existing = _payment_for_attempt(session, attempt)
    if existing is not None:
        return existing
    inst = session.get(Installment, attempt.installment_id)
    assert inst is not None
    agreement = session.get(BillingAgreement, inst.agreement_id)
    assert agreement is not None
    attempt.status = AttemptStatus.SUCCEEDED
    attempt.gateway_ref = attempt.gateway_ref or reference
    attempt.failure_message = None
    record_changes(session, scope, attempt, reason="gateway payment succeeded")
    memo = f"card payment, installment {inst.seq}"
    if amount_cents != attempt.amount_cents:
        memo += f" (gateway reported {amount_cents} cents; {attempt.amount_cents} were requested)"
    entry = LedgerEntry(
        id=uuid.uuid4(),
        org_id=inst.org_id,
        household_id=inst.household_id,
        student_id=agreement.student_id,
        agreement_id=agreement.id,
        installment_id=inst.id,
        kind=LedgerKind.PAYMENT,
        amount_cents=-amount_cents,
        posted_on=posted_on,
        memo=memo,
        method=PaymentMethod.CARD,
        reference=attempt.gateway_ref,
        payment_attempt_id=attempt.id,
    )
    session.add(entry)
    record_changes(session, scope, entry, reason="gateway payment succeeded")
    if inst.status is InstallmentStatus.PROCESSING:
        inst.status = InstallmentStatus.SCHEDULED  # sync_installments decides whether it is now paid
        record_changes(session, scope, inst, reason="gateway payment succeeded")
    session.flush()
    sync_installments(session, scope, inst.household_id)
    _publish(
        session,
        "payment.succeeded",
        inst.org_id,
        {
            "household_id": inst.household_id,
            "installment_id": inst.id,
            "student_id": agreement.student_id,
            "payment_id": entry.id,
            "amount_cents": amount_cents,
            "gateway_ref": attempt.gateway_ref,
        },
    )
    return entry


def _record_gateway_failure(session: Session, scope: Scope, attempt: PaymentAttempt, message: str | None) -> bool:
    """Mark an attempt failed unless it already succeeded (a late failure never undoes a payment)."""
    if attempt.status is not AttemptStatus.PENDING:
        return False
    attempt.status = AttemptStatus.FAILED
    attempt.failure_message = (message or "the payment failed")[:500]
    record_changes(session, scope, attempt, reason="gateway payment failed")
    inst = session.get(Installment, attempt.installment_id)
    assert inst is not None
    if inst.status is InstallmentStatus.PROCESSING:
        inst.status = InstallmentStatus.FAILED
        record_changes(session, scope, inst, reason="gateway payment failed")
    session.flush()
    _publish(
        session,
        "payment.failed",
        inst.org_id,
        {
            "household_id": inst.household_id,
            "installment_id": inst.id,
            "amount_cents": attempt.amount_cents,
            "gateway_ref": attempt.gateway_ref,
            "failure_message": attempt.failure_message,
        },
    )
    return True


def _customer(session: Session, scope: Scope, household: Household, payment_method_ref: str | None) -> BillingCustomer:
    """The household's gateway customer, created once (keyed by household), with its payment method.

    Raises:
        PaymentMethodMissing: no saved payment method and none given.
    """
    customer = session.execute(
        select(BillingCustomer).where(BillingCustomer.household_id == household.id)
    ).scalar_one_or_none()
    if customer is None:
        ref = current_gateway().create_customer(
            CustomerRequest(
                household_id=str(household.id), name=household.name, idempotency_key=f"sis-cus-{household.id}"
            )
        )
        customer = BillingCustomer(
            id=uuid.uuid4(), org_id=household.org_id, household_id=household.id, customer_ref=ref
        )
        session.add(customer)
    if payment_method_ref:
        customer.payment_method_ref = payment_method_ref
    if not customer.payment_method_ref:
        raise PaymentMethodMissing(
            f"household {household.name} has no saved payment method; pass payment_method_ref",
            field="payment_method_ref",
        )
    record_changes(session, scope, customer, reason="gateway customer")
    session.flush()
    return customer


def charge_installment(session: Session, scope: Scope, data: ChargeInstallmentInput, *, today: dt.date) -> ChargeRead:
    """Collect an installment through the gateway: the previewed amount less what it already received; never twice.

    Raises:
        NotFound, PermissionDenied, OnlineChargingDisabled, InstallmentNotChargeable, PaymentMethodMissing,
        GatewayUnavailable (nothing recorded; retrying reuses the same idempotency key).
    """
    inst = session.execute(
        select(Installment).where(Installment.id == data.installment_id).with_for_update()
    ).scalar_one_or_none()
    if inst is None:
        raise NotFound(f"installment {data.installment_id} not found", field="installment_id")
    _check_financial(scope, inst.org_id, Action.WRITE, f"installment {data.installment_id}", "installment_id")
    latest = _latest_attempt(session, inst)
    if latest is not None and latest.status is not AttemptStatus.FAILED:
        # Succeeded or still processing: report it again rather than charge a second time.
        return _charge_read(session, inst, latest, replayed=True)
    if inst.status is InstallmentStatus.CANCELLED:
        raise InstallmentNotChargeable(f"installment {inst.id} was cancelled", field="installment_id")
    if inst.status is InstallmentStatus.PAID:
        raise InstallmentNotChargeable(
            f"installment {inst.seq} due {inst.due_on} is already paid (by check, cash or transfer)",
            field="installment_id",
        )
    scheduled = installment_amount(session, inst)
    if scheduled == 0:
        raise InstallmentNotChargeable(f"installment {inst.seq} is zero after discounts", field="installment_id")
    _, covered = _coverage(session, inst.household_id)
    # What checks or transfers already covered of it is not charged again.
    amount = scheduled - covered.get(inst.id, 0)
    if amount <= 0:
        raise InstallmentNotChargeable(
            f"installment {inst.seq} due {inst.due_on} is already covered by payments received", field="installment_id"
        )
    gateway = current_gateway()
    household = session.get(Household, inst.household_id)
    assert household is not None
    customer = _customer(session, scope, household, data.payment_method_ref)
    attempt_no = inst.attempt_count + 1
    key = idempotency_key(_charge_entry(session, inst).id, attempt_no)
    attempt = PaymentAttempt(
        id=uuid.uuid4(),
        org_id=inst.org_id,
        installment_id=inst.id,
        household_id=inst.household_id,
        attempt_no=attempt_no,
        idempotency_key=key,
        amount_cents=amount,
        status=AttemptStatus.PENDING,
    )
    session.add(attempt)
    inst.attempt_count = attempt_no
    inst.status = InstallmentStatus.PROCESSING
    record_changes(session, scope, attempt, reason="charge installment")
    record_changes(session, scope, inst, reason="charge installment")
    # Written before the call, so a webhook racing this transaction waits for it instead of guessing.
    session.flush()
    agreement = session.get(BillingAgreement, inst.agreement_id)
    assert agreement is not None
    result = gateway.charge(
        ChargeRequest(
            amount_cents=amount,
            currency=CURRENCY,
            customer_ref=customer.customer_ref,
            payment_method_ref=customer.payment_method_ref or "",
            idempotency_key=key,
            description=f"{agreement_label(session, agreement)}: installment {inst.seq}",
            metadata={
                "installment_id": str(inst.id),
                "household_id": str(inst.household_id),
                "attempt_id": str(attempt.id),
                "attempt_no": str(attempt_no),
            },
        )
    )
    attempt.gateway_ref = result.payment_ref
    record_changes(session, scope, attempt, reason="charge installment")
    if result.status is ChargeStatus.SUCCEEDED:
        _record_gateway_payment(
            session, scope, attempt, amount_cents=amount, posted_on=today, reference=result.payment_ref
        )
    elif result.status is ChargeStatus.FAILED:
        _record_gateway_failure(session, scope, attempt, result.failure_message)
    session.flush()
    return _charge_read(session, inst, attempt, replayed=False)


# -- refunds -----------------------------------------------------------------------------------


def _refunded_so_far(session: Session, payment: LedgerEntry) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.refund_of_id == payment.id, LedgerEntry.kind == LedgerKind.REFUND
        )
    ).scalar_one()
    return int(total)


def _refund_entry(
    session: Session,
    scope: Scope,
    payment: LedgerEntry,
    amount: int,
    *,
    posted_on: dt.date,
    method: PaymentMethod | None,
    memo: str,
) -> LedgerEntry:
    entry = LedgerEntry(
        id=uuid.uuid4(),
        org_id=payment.org_id,
        household_id=payment.household_id,
        student_id=payment.student_id,
        agreement_id=payment.agreement_id,
        installment_id=payment.installment_id,
        kind=LedgerKind.REFUND,
        amount_cents=amount,
        posted_on=posted_on,
        memo=memo,
        method=method,
        refund_of_id=payment.id,
    )
    session.add(entry)
    return entry


def refund_payment(session: Session, scope: Scope, data: RefundPaymentInput, *, today: dt.date) -> RefundRead:
    """Return (part of) a payment: through the gateway for card payments, else recorded as paid out by hand.

    Raises:
        NotFound, PermissionDenied, RefundExceedsPayment, OnlineChargingDisabled, GatewayUnavailable.
    """
    payment = session.execute(
        select(LedgerEntry)
        .where(LedgerEntry.id == data.payment_id, LedgerEntry.kind == LedgerKind.PAYMENT)
        .with_for_update()
    ).scalar_one_or_none()
    if payment is None:
        raise NotFound(f"payment {data.payment_id} not found", field="payment_id")
    _check_financial(scope, payment.org_id, Action.WRITE, f"payment {data.payment_id}", "payment_id")
    refunded = _refunded_so_far(session, payment)
    left = -payment.amount_cents - refunded
    amount = data.amount_cents or left
    if amount <= 0 or amount > left:
        raise RefundExceedsPayment(
            f"payment {payment.id} has {left} cents left to refund (of {-payment.amount_cents}); asked for {amount}",
            field="amount_cents",
        )
    through_gateway = payment.payment_attempt_id is not None
    method = payment.method if through_gateway else (data.method or payment.method)
    entry = _refund_entry(
        session, scope, payment, amount, posted_on=today, method=method, memo=f"refund: {data.reason}"
    )
    # Flushed before the gateway call: it takes the write lock a racing charge.refunded webhook then waits for.
    session.flush()
    if through_gateway:
        count = session.execute(
            select(func.count()).where(LedgerEntry.refund_of_id == payment.id, LedgerEntry.kind == LedgerKind.REFUND)
        ).scalar_one()
        result = current_gateway().refund(
            RefundRequest(
                payment_ref=payment.reference or "",
                amount_cents=amount,
                idempotency_key=f"sis-re-{payment.id}-{count}",
                metadata={"payment_id": str(payment.id), "household_id": str(payment.household_id)},
            )
        )
        if not result.succeeded:
            raise RefundRefused(f"the gateway refused the refund: {result.failure_message}", field="payment_id")
        entry.reference = result.refund_ref
    record_changes(session, scope, entry, reason=data.reason)
    session.flush()
    sync_installments(session, scope, payment.household_id)
    _publish(
        session,
        "payment.refunded",
        payment.org_id,
        {"household_id": payment.household_id, "payment_id": payment.id, "refund_id": entry.id, "amount_cents": amount},
    )
    return RefundRead(
        refund_id=entry.id,
        payment_id=payment.id,
        household_id=payment.household_id,
        amount_cents=amount,
        through_gateway=through_gateway,
        gateway_ref=entry.reference,
        balance_cents=_balance_on(session, payment.household_id, today),
    )


# -- withdrawal --------------------------------------------------------------------------------


def _refund_rule(session: Session, offering: ProgramOffering) -> RefundRule | None:
    """The offering's own refund rule, else the one defined nearest its org."""
    chain = _ancestors(session, offering.org_id)
    rows = session.execute(
        select(RefundRule).where(
            or_(
                RefundRule.offering_id == offering.id,
                and_(RefundRule.offering_id.is_(None), RefundRule.org_id.in_([o.id for o in chain])),
            )
        )
    ).scalars()
    depth = {o.id: i for i, o in enumerate(chain)}
    ranked = sorted(rows, key=lambda r: (r.offering_id is None, depth.get(r.org_id, len(chain)), r.code))
    return ranked[0] if ranked else None


def _settlement_read(
    session: Session, agreement: BillingAgreement, last_day: dt.date, rule: RefundRule | None
) -> WithdrawalRead:
    terms = rules.Terms.from_json(agreement.terms)
    tiers = rules.parse_tiers(rule.tiers) if rule else []
    parts = rules.settle_withdrawal(terms, last_day=last_day, tiers=tiers)
    households = []
    for part in parts:
        owed = _balance_on(session, part.household_id, dt.date.max)
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
    agreement = _agreement_of(session, enrollment.id)
    if agreement is None or enrollment.end_on is None:
        return None
    offering = session.get(ProgramOffering, agreement.offering_id)
    assert offering is not None
    rule = _refund_rule(session, offering)
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
        _cancel_installments(
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
    enrollment = _enrollment_for(session, scope, enrollment_id, Action.WRITE)
    if enrollment.status in SIBLING_STATUSES or enrollment.end_on is None:
        raise InvalidInput(
            f"enrollment {enrollment.id} is {enrollment.status.value}; withdraw it first (withdraw_enrollment)",
            field="enrollment_id",
        )
    settled = on_enrollment_ended(session, scope, enrollment)
    if settled is None:
        raise NotFound(f"enrollment {enrollment.id} has no billing agreement", field="enrollment_id")
    return settled


# -- webhooks ----------------------------------------------------------------------------------


class EventNotYetApplicable(Exception):
    """The event refers to a payment this database does not know yet; the gateway should deliver it again."""


def _system_scope(org_id: uuid.UUID) -> Scope:
    return scope_for_orgs(Actor(user_id=None, label=WEBHOOK_ACTOR), [org_id], classes=[DataClass.FINANCIAL])


def _attempt_for_event(session: Session, event: WebhookEvent) -> PaymentAttempt | None:
    """The attempt an event is about: by the gateway's payment id, else by the ids the SIS put in its metadata."""
    if event.payment_ref:
        attempt = session.execute(
            select(PaymentAttempt).where(PaymentAttempt.gateway_ref == event.payment_ref).with_for_update()
        ).scalar_one_or_none()
        if attempt is not None:
            return attempt
    attempt_id = event.metadata.get("attempt_id")
    if attempt_id:
        try:
            found = session.get(PaymentAttempt, uuid.UUID(attempt_id), with_for_update=True)
        except ValueError:
            return None
        if found is not None and event.payment_ref and not found.gateway_ref:
            found.gateway_ref = event.payment_ref
        return found
    return None


def apply_gateway_event(session: Session, event: WebhookEvent, *, today: dt.date) -> str:
    """Apply a verified gateway event exactly once; returns what was done (stored with the event id).

    Raises:
        EventNotYetApplicable: the payment is unknown here yet (answer so that the gateway retries).
    """
    if session.get(GatewayEvent, event.event_id) is not None:
        return "duplicate: already applied"
    outcome = _apply(session, event, today=today)
    try:
        with session.begin_nested():
            session.add(
                GatewayEvent(
                    event_id=event.event_id,
                    event_type=event.event_type,
                    object_ref=event.payment_ref,
                    outcome=outcome[:300],
                )
            )
    except IntegrityError:
        # A concurrent delivery of the same event got there first; its transaction applied it.
        raise EventNotYetApplicable(f"event {event.event_id} is being applied by another delivery") from None
    return outcome


def _apply(session: Session, event: WebhookEvent, *, today: dt.date) -> str:
    if event.event_type not in HANDLED_EVENTS:
        return f"ignored: {event.event_type} is not used by billing"
    attempt = _attempt_for_event(session, event)
    if attempt is None:
        if event.metadata.get("installment_id"):
            raise EventNotYetApplicable(
                f"payment {event.payment_ref} of installment {event.metadata['installment_id']} is not known yet"
            )
        return f"ignored: payment {event.payment_ref} was not made by this SIS"
    scope = _system_scope(attempt.org_id)
    if event.event_type == PAYMENT_SUCCEEDED:
        if attempt.status is AttemptStatus.SUCCEEDED:
            return "already recorded"
        amount = event.amount_cents if event.amount_cents is not None else attempt.amount_cents
        entry = _record_gateway_payment(
            session, scope, attempt, amount_cents=amount, posted_on=today, reference=event.payment_ref
        )
        return f"payment recorded: {entry.id}"
    if event.event_type == PAYMENT_FAILED:
        changed = _record_gateway_failure(session, scope, attempt, event.failure_message)
        return "attempt marked failed" if changed else f"ignored: attempt already {attempt.status.value}"
    assert event.event_type == CHARGE_REFUNDED
    # amount_refunded is cumulative, so applying it is idempotent and independent of delivery order.
    payment = _payment_for_attempt(session, attempt)
    if payment is None:
        # The refund arrived before the success event: a refunded charge had succeeded.
        amount = event.amount_cents if event.amount_cents is not None else attempt.amount_cents
        payment = _record_gateway_payment(
            session, scope, attempt, amount_cents=amount, posted_on=today, reference=event.payment_ref
        )
    locked = session.execute(select(LedgerEntry).where(LedgerEntry.id == payment.id).with_for_update()).scalar_one()
    already = _refunded_so_far(session, locked)
    new = (event.amount_refunded_cents or 0) - already
    if new <= 0:
        return "refund already recorded"
    entry = _refund_entry(
        session, scope, locked, new, posted_on=today, method=PaymentMethod.CARD, memo="card refund (gateway)"
    )
    record_changes(session, scope, entry, reason="gateway refund")
    session.flush()
    sync_installments(session, scope, locked.household_id)
    _publish(
        session,
        "payment.refunded",
        locked.org_id,
        {"household_id": locked.household_id, "payment_id": locked.id, "refund_id": entry.id, "amount_cents": new},
    )
    return f"refund recorded: {new} cents"
