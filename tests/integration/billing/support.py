"""A small billing world (network, campus, roster-only school, rules as data) and a recording fake gateway."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.demo.billing_seed import add_fees, add_rules
from db.models import (
    BillingAgreement,
    DiscountDefinition,
    DiscountGrant,
    Enrollment,
    Household,
    Organization,
    OrgKind,
    OrgLevel,
    ProgramOffering,
    Student,
)
from domain.billing.errors import GatewayUnavailable
from domain.billing.gateway import (
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    CustomerRequest,
    RefundRequest,
    RefundResult,
)
from policies.scope import Action, Actor, DataClass, Scope, scope_for_orgs
from tests.factories import create_enrollment, create_household, create_offering, create_org, create_student

START, END = dt.date(2026, 8, 12), dt.date(2027, 5, 28)
TODAY = dt.date(2026, 11, 20)
TUITION = 4_000_000


@dataclass
class World:
    network: Organization
    campus: Organization
    other_campus: Organization
    roster_campus: Organization
    offering: ProgramOffering
    other_offering: ProgramOffering
    roster_offering: ProgramOffering

    def scope(self, *, actions: tuple[Action, ...] = (Action.READ, Action.WRITE)) -> Scope:
        """Finance at the network: every FULL_SIS org (never the roster-only one, as authorize.py decides)."""
        full = [self.network, self.campus, self.other_campus]
        return scope_for_orgs(Actor(user_id=None, label="finance test"), [o.id for o in full], actions=actions)

    def campus_scope(self) -> Scope:
        """Finance limited to the other campus."""
        return scope_for_orgs(Actor(user_id=None, label="other campus"), [self.other_campus.id])


def build_world(session: Session) -> World:
    """A network with two FULL_SIS campuses and a roster-only school, plans, discounts, refund rule and fees."""
    network = create_org(session, level=OrgLevel.NETWORK)
    campus = create_org(session, parent=network)
    other = create_org(session, parent=network)
    roster = create_org(session, parent=network, kind=OrgKind.ROSTER_ONLY)
    # Defined before any day the tests price on (version 1 of every rule).
    created = dt.datetime(2026, 1, 5, 16, tzinfo=dt.UTC)
    add_rules(session, network, created)
    offering = create_offering(
        session, campus, start_on=START, end_on=END, tuition_cents=TUITION, session_label="2026-27"
    )
    other_offering = create_offering(session, other, start_on=START, end_on=END, tuition_cents=3_500_000)
    roster_offering = create_offering(session, roster, start_on=START, end_on=END, tuition_cents=0)
    add_fees(session, [offering, other_offering], created)
    session.flush()
    return World(network, campus, other, roster, offering, other_offering, roster_offering)


_birthdays = itertools.count()


def student_in(
    session: Session,
    world: World,
    offering: ProgramOffering | None = None,
    *,
    birth_on: dt.date | None = None,
    start_on: dt.date | None = None,
) -> tuple[Student, Enrollment]:
    """A student enrolled in the offering (default: the campus's), older students first by default."""
    offering = offering or world.offering
    org = session.get(Organization, offering.org_id)
    assert org is not None
    birth = birth_on or dt.date(2015, 1, 1) + dt.timedelta(days=next(_birthdays))
    student = create_student(session, org, birth_on=birth)
    enrollment = create_enrollment(session, student, offering, start_on=start_on or offering.start_on)
    return student, enrollment


def family(session: Session, world: World, *students: Student, share: int = 10_000) -> Household:
    """A household at the campus holding the students with one share each."""
    return create_household(session, world.campus, {s: share for s in students})


def grant(session: Session, household: Household, code: str) -> DiscountGrant:
    """Grant a discount directly (as seeded data would)."""
    discount_id = session.execute(select(DiscountDefinition.id).where(DiscountDefinition.code == code)).scalar_one()
    row = DiscountGrant(
        id=uuid.uuid4(),
        org_id=household.org_id,
        discount_id=discount_id,
        household_id=household.id,
        granted_on=TODAY,
    )
    session.add(row)
    session.flush()
    return row


def agreement_of(session: Session, enrollment: Enrollment) -> BillingAgreement:
    return session.execute(select(BillingAgreement).where(BillingAgreement.enrollment_id == enrollment.id)).scalar_one()


@dataclass
class FakeGateway:
    """Records every request; scripted outcomes per call. Stands in for Stripe where Stripe is not the subject."""

    name: str = "fake"
    charges: list[ChargeRequest] = field(default_factory=list)
    refunds: list[RefundRequest] = field(default_factory=list)
    customers: list[CustomerRequest] = field(default_factory=list)
    outcomes: list[ChargeStatus | Exception] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def create_customer(self, request: CustomerRequest) -> str:
        self.customers.append(request)
        return f"cus_fake_{next(self._ids)}"

    def charge(self, request: ChargeRequest) -> ChargeResult:
        self.charges.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else ChargeStatus.SUCCEEDED
        if isinstance(outcome, Exception):
            raise outcome
        ref = f"pi_fake_{next(self._ids)}"
        if outcome is ChargeStatus.FAILED:
            return ChargeResult(outcome, ref, "Your card was declined.")
        return ChargeResult(outcome, ref)

    def refund(self, request: RefundRequest) -> RefundResult:
        self.refunds.append(request)
        return RefundResult(True, f"re_fake_{next(self._ids)}")


def unavailable() -> GatewayUnavailable:
    return GatewayUnavailable("connection reset; retry")


def financial_scope(*orgs: Organization, actions: tuple[Action, ...] = (Action.READ, Action.WRITE)) -> Scope:
    """A scope with the financial and directory classes at the given orgs."""
    return scope_for_orgs(
        Actor(user_id=None, label="test"),
        [o.id for o in orgs],
        classes=[DataClass.FINANCIAL, DataClass.DIRECTORY],
        actions=actions,
    )
