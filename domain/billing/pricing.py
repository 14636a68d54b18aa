"""Pricing inputs from rules as data: plans, fees and discounts defined nearest the org, shares and siblings.

`enrollment_terms` reads the rule versions in force on a date (the agreement date: the day a
plan is set) for an enrollment into `rules.Terms`, the frozen input of the one pricing function
(`rules.compute_quote`); the terms name each version that priced them (domain/billing/versions.py). Every rule read goes through a `PricingData`
loader: live calls use one that asks the database each question once; the demo seed builds a
`PrefetchedPricingData` once and prices every enrollment with it through `seed_terms`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import (
    BillingAgreement,
    DiscountDefinition,
    DiscountEligibility,
    DiscountGrant,
    Enrollment,
    EnrollmentStatus,
    FeeDefinition,
    FeeTiming,
    HouseholdStudent,
    Organization,
    PaymentPlan,
    ProgramOffering,
    Student,
)
from domain.billing import rules
from domain.billing.access import require_full_sis
from domain.billing.versions import discounts_in_force, fees_in_force, plans_in_force
from domain.calendar import add_months
from domain.errors import InvalidInput, NotFound

DEFAULT_PLAN_CODE = "annual"
# Enrollments that make a child count as a sibling for the sibling discount (and that are billed).
SIBLING_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)
# (birth date, student number, student id) of a child: siblings rank by it, oldest first.
SiblingKey = tuple[dt.date, int, uuid.UUID]


def discount_definitions(session: Session, chain: Sequence[Organization], on: dt.date) -> dict[str, DiscountDefinition]:
    """The discount definitions in force at chain[0] on `on`, by code."""
    return discounts_in_force(session, chain, on)


def fee_term(fee: FeeDefinition) -> rules.FeeTerm:
    """A fee definition version as a pricing input (naming the version that priced it)."""
    return rules.FeeTerm(
        code=fee.code,
        name=fee.name,
        kind=fee.kind.value,
        amount_cents=fee.amount_cents,
        upfront=fee.timing is FeeTiming.UPFRONT,
        prorated=fee.prorated,
        refundable=fee.refundable,
        source_id=str(fee.id),
        version=fee.version,
    )


def _fee_terms(
    session: Session, offering: ProgramOffering, chain: Sequence[Organization], on: dt.date
) -> tuple[rules.FeeTerm, ...]:
    return tuple(fee_term(f) for f in fees_in_force(session, offering, chain, on))


def shares_of(session: Session, student_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """The student's billing shares by household (households with a zero share pay nothing)."""
    rows = session.execute(
        select(HouseholdStudent.household_id, HouseholdStudent.billing_share_bp).where(
            HouseholdStudent.student_id == student_id
        )
    ).all()
    return {row.household_id: row.billing_share_bp for row in rows}


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


def _siblings(session: Session, household_id: uuid.UUID, offering: ProgramOffering) -> list[SiblingKey]:
    """The household's children enrolled in the offering's session, oldest first."""
    rows = session.execute(
        _sibling_query().where(
            HouseholdStudent.household_id == household_id, ProgramOffering.session_label == offering.session_label
        )
    )
    return sorted((row.birth_on, row.student_number, row.id) for row in rows)


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
    return {row.code for row in rows}


class PricingData:
    """The rule rows pricing reads, each question asked of the database when it comes (every live call)."""

    def chain(self, session: Session, org_id: uuid.UUID) -> list[Organization]:
        """The org's ancestry, nearest first (require_full_sis)."""
        return require_full_sis(session, org_id)

    def plans(self, session: Session, chain: Sequence[Organization], on: dt.date) -> dict[str, PaymentPlan]:
        """The plans in force at chain[0] on `on`, by code."""
        return plans_in_force(session, chain, on)

    def discounts(self, session: Session, chain: Sequence[Organization], on: dt.date) -> dict[str, DiscountDefinition]:
        """The discount definitions in force at chain[0] on `on`, by code."""
        return discounts_in_force(session, chain, on)

    def fees(
        self, session: Session, offering: ProgramOffering, chain: Sequence[Organization], on: dt.date
    ) -> tuple[rules.FeeTerm, ...]:
        """The offering's fees in force on `on` as pricing inputs."""
        return _fee_terms(session, offering, chain, on)

    def shares(self, session: Session, student_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """The student's billing shares by household."""
        return shares_of(session, student_id)

    def siblings(self, session: Session, household_id: uuid.UUID, offering: ProgramOffering) -> list[SiblingKey]:
        """The household's children enrolled in the offering's session, oldest first."""
        return _siblings(session, household_id, offering)

    def granted_codes(
        self, session: Session, household_ids: Sequence[uuid.UUID], student: Student | None, offering: ProgramOffering
    ) -> set[str]:
        """Codes of discounts granted to any of the households, for this student (or all) and offering (or all)."""
        return _granted_codes(session, household_ids, student, offering)


class PrefetchedPricingData(PricingData):
    """PricingData for pricing many enrollments in one transaction (the demo seed), built once for the batch.

    Chains, plans, discounts and fees are remembered; shares, siblings and grants are read for every
    household at the first use instead of one household at a time. Worth it only in bulk.
    """

    def __init__(self) -> None:
        self._chains: dict[uuid.UUID, list[Organization]] = {}
        self._plans: dict[tuple[uuid.UUID, dt.date], dict[str, PaymentPlan]] = {}
        self._discounts: dict[tuple[uuid.UUID, dt.date], dict[str, DiscountDefinition]] = {}
        self._fees: dict[tuple[uuid.UUID, dt.date], tuple[rules.FeeTerm, ...]] = {}
        self._shares: dict[uuid.UUID, dict[uuid.UUID, int]] | None = None
        self._siblings: dict[tuple[uuid.UUID, str], list[SiblingKey]] | None = None
        self._grants: list[tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None, str]] | None = None

    def chain(self, session: Session, org_id: uuid.UUID) -> list[Organization]:
        if org_id not in self._chains:
            self._chains[org_id] = require_full_sis(session, org_id)
        return self._chains[org_id]

    def plans(self, session: Session, chain: Sequence[Organization], on: dt.date) -> dict[str, PaymentPlan]:
        key = (chain[0].id, on)
        if key not in self._plans:
            self._plans[key] = plans_in_force(session, chain, on)
        return self._plans[key]

    def discounts(self, session: Session, chain: Sequence[Organization], on: dt.date) -> dict[str, DiscountDefinition]:
        key = (chain[0].id, on)
        if key not in self._discounts:
            self._discounts[key] = discounts_in_force(session, chain, on)
        return self._discounts[key]

    def fees(
        self, session: Session, offering: ProgramOffering, chain: Sequence[Organization], on: dt.date
    ) -> tuple[rules.FeeTerm, ...]:
        key = (offering.id, on)
        if key not in self._fees:
            self._fees[key] = _fee_terms(session, offering, chain, on)
        return self._fees[key]

    def shares(self, session: Session, student_id: uuid.UUID) -> dict[uuid.UUID, int]:
        if self._shares is None:
            self._shares = defaultdict(dict)
            for row in session.execute(
                select(HouseholdStudent.student_id, HouseholdStudent.household_id, HouseholdStudent.billing_share_bp)
            ):
                self._shares[row.student_id][row.household_id] = row.billing_share_bp
        return dict(self._shares.get(student_id, {}))

    def siblings(self, session: Session, household_id: uuid.UUID, offering: ProgramOffering) -> list[SiblingKey]:
        if self._siblings is None:
            found: dict[tuple[uuid.UUID, str], set[SiblingKey]] = defaultdict(set)
            for row in session.execute(_sibling_query()):
                found[(row.household_id, row.session_label)].add((row.birth_on, row.student_number, row.id))
            self._siblings = {key: sorted(kids) for key, kids in found.items()}
        return list(self._siblings.get((household_id, offering.session_label), []))

    def granted_codes(
        self, session: Session, household_ids: Sequence[uuid.UUID], student: Student | None, offering: ProgramOffering
    ) -> set[str]:
        if self._grants is None:
            self._grants = [
                (row.household_id, row.student_id, row.offering_id, row.code) for row in session.execute(_grant_query())
            ]
        wanted = set(household_ids)
        return {
            code
            for hid, sid, oid, code in self._grants
            if hid in wanted
            and (sid is None or (student is not None and sid == student.id))
            and (oid is None or oid == offering.id)
        }


def _plan_named(plans: dict[str, PaymentPlan], chain: Sequence[Organization], code: str | None) -> PaymentPlan:
    if not plans:
        raise NotFound(f"no payment plans are defined for {chain[0].name}", field="plan_code")
    if code is None:
        return plans.get(DEFAULT_PLAN_CODE) or min(plans.values(), key=lambda p: (p.installment_count, p.code))
    if code not in plans:
        raise NotFound(f"no payment plan {code!r}; plans here: {', '.join(sorted(plans))}", field="plan_code")
    return plans[code]


def plan_named(session: Session, chain: Sequence[Organization], code: str | None, on: dt.date) -> PaymentPlan:
    """The plan with this code in force at the org on `on` (default: annual, else the one with fewest installments).

    Raises:
        NotFound: no such plan; the message lists the plans there are.
    """
    return _plan_named(plans_in_force(session, chain, on), chain, code)


def plan_term(plan: PaymentPlan) -> rules.PlanTerm:
    """A plan definition as a pricing input.

    Raises:
        InvalidInput: the plan's due months do not match its installment count.
    """
    offsets = tuple(int(o) for o in plan.due_month_offsets)
    if len(offsets) != plan.installment_count:
        raise InvalidInput(
            f"plan {plan.code}: {plan.installment_count} installments but {len(offsets)} due months", field="plan_code"
        )
    return rules.PlanTerm(
        plan.code,
        plan.name,
        offsets,
        plan.due_day,
        installment_fee_cents=plan.installment_fee_cents or 0,
        version=plan.version,
    )


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
        source_id=str(definition.id),
        version=definition.version,
    )


def _sibling_rank(
    session: Session,
    household_ids: Iterable[uuid.UUID],
    offering: ProgramOffering,
    student: Student | None,
    data: PricingData,
) -> int:
    """The child's best (highest) rank among enrolled siblings in any of its households; 1 = eldest or only child.

    A what-if child with no record yet counts as the household's next (youngest) child.
    """
    best = 1
    for household_id in household_ids:
        kids = data.siblings(session, household_id, offering)
        if student is None:
            best = max(best, len(kids) + 1)
            continue
        key = (student.birth_on, student.student_number, student.id)
        if key not in kids:
            kids = sorted([*kids, key])
        best = max(best, kids.index(key) + 1)
    return best


def _eligible(
    session: Session,
    chain: Sequence[Organization],
    offering: ProgramOffering,
    household_ids: Sequence[uuid.UUID],
    student: Student | None,
    data: PricingData,
    on: dt.date,
) -> list[DiscountDefinition]:
    definitions = data.discounts(session, chain, on)
    if not definitions:
        return []
    rank = _sibling_rank(session, household_ids, offering, student, data) if household_ids else 1
    chosen = {
        d.code
        for d in definitions.values()
        if d.eligibility is DiscountEligibility.SIBLING
        and d.sibling_rank_min is not None
        and rank >= d.sibling_rank_min
    }
    if household_ids:
        granted = data.granted_codes(session, household_ids, student, offering)
        chosen |= {code for code in granted if code in definitions}
    return [definitions[c] for c in sorted(chosen)]


def eligible_discounts(
    session: Session,
    chain: Sequence[Organization],
    offering: ProgramOffering,
    household_ids: Sequence[uuid.UUID],
    student: Student | None,
    on: dt.date,
) -> list[DiscountDefinition]:
    """Discounts the child qualifies for on `on`: sibling rank, and grants to any of its households."""
    return _eligible(session, chain, offering, household_ids, student, PricingData(), on)


def discounts_named(
    session: Session, chain: Sequence[Organization], codes: Sequence[str], on: dt.date
) -> list[DiscountDefinition]:
    """The named discount definitions in force on `on` (what-if).

    Raises:
        NotFound: an unknown code; the message lists the codes there are.
    """
    definitions = discount_definitions(session, chain, on)
    unknown = sorted(set(codes) - set(definitions))
    if unknown:
        raise NotFound(
            f"no discount {', '.join(unknown)}; discounts here: {', '.join(sorted(definitions)) or 'none'}",
            field="discount_codes",
        )
    return [definitions[c] for c in sorted(set(codes))]


def billing_period(offering: ProgramOffering, billing_start: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day tuition is priced over: the offering's dates, or for a continuous
    offering (no fixed end, rolling enrollment) the twelve months from the student's billing start."""
    if offering.end_on is not None:
        return offering.start_on, offering.end_on
    start = max(billing_start, offering.start_on)
    return start, add_months(start, 12) - dt.timedelta(days=1)


def _terms(
    offering: ProgramOffering,
    *,
    billing_start: dt.date,
    plan: PaymentPlan,
    discounts: Sequence[DiscountDefinition],
    shares: dict[uuid.UUID, int],
    fees: tuple[rules.FeeTerm, ...],
) -> rules.Terms:
    start, end = billing_period(offering, billing_start)
    return rules.Terms(
        offering_start=start,
        offering_end=end,
        billing_start=max(billing_start, offering.start_on),
        tuition_cents=offering.tuition_cents,
        plan=plan_term(plan),
        fees=fees,
        discounts=tuple(discount_term(d) for d in discounts),
        shares=tuple(sorted((h, s) for h, s in shares.items() if s > 0)),
    )


def build_terms(
    session: Session,
    offering: ProgramOffering,
    chain: Sequence[Organization],
    *,
    on: dt.date,
    billing_start: dt.date,
    plan: PaymentPlan,
    discounts: Sequence[DiscountDefinition],
    shares: dict[uuid.UUID, int],
) -> rules.Terms:
    """The pricing inputs of one enrollment from the rules in force on `on`."""
    fees = _fee_terms(session, offering, chain, on)
    return _terms(offering, billing_start=billing_start, plan=plan, discounts=discounts, shares=shares, fees=fees)


def agreement_of(session: Session, enrollment_id: uuid.UUID) -> BillingAgreement | None:
    """The enrollment's billing agreement (its frozen terms), if it is billed."""
    return session.execute(
        select(BillingAgreement).where(BillingAgreement.enrollment_id == enrollment_id)
    ).scalar_one_or_none()


def _enrollment_terms(
    session: Session,
    enrollment: Enrollment,
    *,
    plan_code: str | None,
    discount_codes: Sequence[str] | None,
    billing_start: dt.date | None,
    on: dt.date,
    data: PricingData,
) -> tuple[rules.Terms, ProgramOffering, PaymentPlan]:
    offering = session.get(ProgramOffering, enrollment.offering_id)
    student = session.get(Student, enrollment.student_id)
    assert offering is not None and student is not None
    chain = data.chain(session, offering.org_id)
    shares = data.shares(session, student.id)
    payers = [h for h, s in shares.items() if s > 0]
    discounts = (
        discounts_named(session, chain, discount_codes, on)
        if discount_codes is not None
        else _eligible(session, chain, offering, payers, student, data, on)
    )
    plan = _plan_named(data.plans(session, chain, on), chain, plan_code)
    terms = _terms(
        offering,
        billing_start=billing_start or enrollment.start_on,
        plan=plan,
        discounts=discounts,
        shares=shares,
        fees=data.fees(session, offering, chain, on),
    )
    return terms, offering, plan


def enrollment_terms(
    session: Session,
    enrollment: Enrollment,
    *,
    plan_code: str | None,
    discount_codes: Sequence[str] | None,
    on: dt.date,
    billing_start: dt.date | None = None,
) -> tuple[rules.Terms, ProgramOffering, PaymentPlan]:
    """The pricing inputs of an enrollment from the rule versions in force on `on`, its households' shares and
    its eligible or named discounts; with the offering and the plan."""
    return _enrollment_terms(
        session,
        enrollment,
        plan_code=plan_code,
        discount_codes=discount_codes,
        billing_start=billing_start,
        on=on,
        data=PricingData(),
    )


def seed_terms(
    session: Session, enrollment: Enrollment, *, plan_code: str, on: dt.date, data: PricingData
) -> tuple[rules.Terms, PaymentPlan]:
    """Seed only: enrollment_terms (eligible discounts) on `on` and its plan, read through the batch's `data`."""
    terms, _, plan = _enrollment_terms(
        session,
        enrollment,
        plan_code=plan_code,
        discount_codes=None,
        billing_start=None,
        on=on,
        data=data,
    )
    return terms, plan
