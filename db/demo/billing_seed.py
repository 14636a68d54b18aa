"""Billing demo data: rules as data, grants, priced enrollments, and families who pay on time, late or never.

Runs after the demo seed (db/demo/seed.py) on the same database. Amounts are never computed here:
the `pricing` object (mcp_server/demo.py) prices each enrollment with the same function as
preview_tuition and charge_installment. This module only decides who is billed on which plan,
who holds which discount, and how each household pays. FULL_SIS orgs only.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from db.base import Base
from db.models import (
    BillingAgreement,
    DiscountDefinition,
    DiscountEligibility,
    DiscountGrant,
    DiscountKind,
    Enrollment,
    EnrollmentStatus,
    FeeDefinition,
    FeeKind,
    FeeTiming,
    Household,
    HouseholdStudent,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    LedgerKind,
    Organization,
    OrgKind,
    PaymentMethod,
    PaymentPlan,
    Program,
    ProgramKind,
    ProgramOffering,
    RefundRule,
    Student,
)

DEPOSIT_CENTS = 50_000
LUNCH_CENTS = 95_000

# (code, name, due month offsets from the offering's start month)
PLANS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("annual", "Annual (one payment)", (0,)),
    ("semester", "Semester (two payments)", (0, 5)),
    ("monthly", "Monthly (ten payments)", tuple(range(10))),
)
PLAN_WEIGHTS = {"annual": 20, "semester": 25, "monthly": 55}
DUE_DAY = 1


@dataclass(frozen=True)
class DiscountSpec:
    code: str
    name: str
    kind: DiscountKind
    stacking_order: int
    percent_bp: int | None = None
    amount_cents: int | None = None
    cap_cents: int | None = None
    eligibility: DiscountEligibility = DiscountEligibility.GRANTED
    sibling_rank_min: int | None = None


DISCOUNTS: tuple[DiscountSpec, ...] = (
    DiscountSpec(
        "sibling",
        "Sibling discount (second child on)",
        DiscountKind.SIBLING,
        10,
        percent_bp=1_000,
        eligibility=DiscountEligibility.SIBLING,
        sibling_rank_min=2,
    ),
    DiscountSpec("founding_family", "Founding family", DiscountKind.FOUNDING_FAMILY, 20, percent_bp=500),
    DiscountSpec("parent_advocate_1", "Parent advocate, tier 1", DiscountKind.PARENT_ADVOCATE, 30, amount_cents=50_000),
    DiscountSpec(
        "parent_advocate_2", "Parent advocate, tier 2", DiscountKind.PARENT_ADVOCATE, 31, amount_cents=100_000
    ),
    DiscountSpec(
        "subsidy_quarter", "Tuition assistance 25%", DiscountKind.SUBSIDY, 40, percent_bp=2_500, cap_cents=800_000
    ),
    DiscountSpec(
        "subsidy_half", "Tuition assistance 50%", DiscountKind.SUBSIDY, 41, percent_bp=5_000, cap_cents=1_500_000
    ),
)
# Share of FULL_SIS households holding each granted discount.
GRANT_RATES = {
    "founding_family": 0.10,
    "parent_advocate_1": 0.04,
    "parent_advocate_2": 0.02,
    "subsidy_quarter": 0.05,
    "subsidy_half": 0.03,
}
REFUND_TIERS: list[dict[str, Any]] = [
    {"within_days": 30, "refund_bp": 10_000},
    {"within_days": 90, "refund_bp": 7_500},
    {"within_days": None, "refund_bp": 5_000},
]
# How households pay: (behaviour, weight). "late" misses its last installment due, "behind" its last three.
PAYERS = (("on_time", 80), ("late", 11), ("behind", 5), ("partial", 4))
METHODS = ((PaymentMethod.TRANSFER, 55), (PaymentMethod.CHECK, 38), (PaymentMethod.CASH, 7))


class BillingPricing(Protocol):
    """Prices and settles enrollments with the domain's one pricing function (mcp_server/demo.py)."""

    def price(self, session: Session, enrollment_id: uuid.UUID, plan_code: str) -> list[Base]:
        """The priced agreement's rows (agreement, installments, ledger entries), in insert order."""
        ...

    def settle_withdrawal(self, session: Session, enrollment_id: uuid.UUID) -> None:
        """Cancel the ended enrollment's later installments and credit its refund tier."""
        ...


@dataclass(frozen=True)
class BillingSeedSummary:
    plans: int
    discounts: int
    fees: int
    grants: int
    agreements: int
    installments: int
    payments: int
    households_behind: int


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _billable_orgs(session: Session) -> dict[uuid.UUID, Organization]:
    """FULL_SIS orgs with no ROSTER_ONLY ancestor."""
    orgs = list(session.execute(select(Organization)).scalars())
    roster = [o.path for o in orgs if o.kind is OrgKind.ROSTER_ONLY]
    return {o.id: o for o in orgs if not any(o.path.startswith(p) for p in roster)}


def add_rules(session: Session, network: Organization, created: dt.datetime) -> tuple[int, int]:
    """Plans, discount definitions and the refund rule, defined once at the network root (version 1, in force
    from the day they were created)."""
    session.execute(
        insert(PaymentPlan),
        [
            {
                "id": uuid.uuid4(),
                "org_id": network.id,
                "code": code,
                "name": name,
                "installment_count": len(offsets),
                "due_month_offsets": list(offsets),
                "due_day": DUE_DAY,
                "installment_fee_cents": 0,
                "version": 1,
                "effective_from": created.date(),
                "is_active": True,
                "created_at": created,
                "updated_at": created,
            }
            for code, name, offsets in PLANS
        ],
    )
    session.execute(
        insert(DiscountDefinition),
        [
            {
                "id": uuid.uuid4(),
                "org_id": network.id,
                "code": d.code,
                "name": d.name,
                "kind": d.kind,
                "percent_bp": d.percent_bp,
                "amount_cents": d.amount_cents,
                "cap_cents": d.cap_cents,
                "stacking_order": d.stacking_order,
                "eligibility": d.eligibility,
                "sibling_rank_min": d.sibling_rank_min,
                "version": 1,
                "effective_from": created.date(),
                "is_active": True,
                "created_at": created,
                "updated_at": created,
            }
            for d in DISCOUNTS
        ],
    )
    session.execute(
        insert(RefundRule),
        [
            {
                "id": uuid.uuid4(),
                "org_id": network.id,
                "offering_id": None,
                "applies_to_id": network.id,
                "version": 1,
                "effective_from": created.date(),
                "is_active": True,
                "code": "standard_withdrawal",
                "name": "Standard withdrawal refund (100% within 30 days, 75% within 90, then 50% of unearned tuition)",
                "tiers": REFUND_TIERS,
                "created_at": created,
                "updated_at": created,
            }
        ],
    )
    return len(PLANS), len(DISCOUNTS)


def add_fees(session: Session, offerings: list[ProgramOffering], created: dt.datetime) -> int:
    """A deposit and the lunch program for each offering."""
    rows = []
    for offering in offerings:
        rows += [
            {
                "id": uuid.uuid4(),
                "org_id": offering.org_id,
                "offering_id": offering.id,
                "program_id": None,
                "applies_to_id": offering.id,
                "version": 1,
                "effective_from": created.date(),
                "code": "deposit",
                "name": "Enrollment deposit (non-refundable)",
                "kind": FeeKind.DEPOSIT,
                "amount_cents": DEPOSIT_CENTS,
                "timing": FeeTiming.UPFRONT,
                "prorated": False,
                "refundable": False,
                "is_active": True,
                "created_at": created,
                "updated_at": created,
            },
            {
                "id": uuid.uuid4(),
                "org_id": offering.org_id,
                "offering_id": offering.id,
                "program_id": None,
                "applies_to_id": offering.id,
                "version": 1,
                "effective_from": created.date(),
                "code": "lunch",
                "name": "Lunch program",
                "kind": FeeKind.LUNCH,
                "amount_cents": LUNCH_CENTS,
                "timing": FeeTiming.SPREAD,
                "prorated": True,
                "refundable": True,
                "is_active": True,
                "created_at": created,
                "updated_at": created,
            },
        ]
    if rows:
        session.execute(insert(FeeDefinition), rows)
    return len(rows)


def _grants(session: Session, rng: random.Random, households: list[Household], today: dt.date) -> int:
    codes = dict(session.execute(select(DiscountDefinition.code, DiscountDefinition.id)).all())
    rows = []
    for household in households:
        draw = rng.random()
        low = 0.0
        for code, rate in GRANT_RATES.items():
            if low <= draw < low + rate:
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "org_id": household.org_id,
                        "discount_id": codes[code],
                        "household_id": household.id,
                        "student_id": None,
                        "offering_id": None,
                        "reason": "demo: granted at admission",
                        "granted_on": today - dt.timedelta(days=rng.randint(120, 400)),
                        "revoked_on": None,
                    }
                )
                break
            low += rate
    if rows:
        session.execute(insert(DiscountGrant), rows)
    return len(rows)


def _payments(session: Session, rng: random.Random, today: dt.date) -> tuple[int, int]:
    """Money received per household by behaviour; returns (payments, households behind)."""
    rows = session.execute(
        select(Installment, BillingAgreement.student_id)
        .join(BillingAgreement, BillingAgreement.id == Installment.agreement_id)
        .where(Installment.due_on <= today, Installment.status != InstallmentStatus.CANCELLED)
        .order_by(Installment.household_id, Installment.due_on, Installment.seq, Installment.id)
    ).all()
    by_household: dict[uuid.UUID, list[tuple[Installment, uuid.UUID]]] = defaultdict(list)
    for inst, student_id in rows:
        by_household[inst.household_id].append((inst, student_id))
    entries: list[dict[str, Any]] = []
    behind = 0
    check_number = 1000
    for household_id in sorted(by_household):
        due = by_household[household_id]
        behaviour = _pick(rng, PAYERS)
        method = _pick(rng, METHODS)
        due_dates = sorted({inst.due_on for inst, _ in due})
        unpaid_from = {
            "on_time": None,
            "late": due_dates[-1],
            "behind": due_dates[max(0, len(due_dates) - 3)],
            "partial": due_dates[-1],
        }[behaviour]
        if unpaid_from is not None:
            behind += 1
        for inst, student_id in due:
            amount = inst.amount_cents
            if unpaid_from is not None and inst.due_on >= unpaid_from:
                if behaviour != "partial":
                    continue
                amount = amount * rng.choice((25, 40, 50)) // 100
            if amount <= 0:
                continue
            check_number += 1
            entries.append(
                {
                    "id": uuid.uuid4(),
                    "org_id": inst.org_id,
                    "household_id": household_id,
                    "student_id": student_id,
                    "agreement_id": inst.agreement_id,
                    "installment_id": inst.id,
                    "kind": LedgerKind.PAYMENT,
                    "amount_cents": -amount,
                    "posted_on": min(today, inst.due_on + dt.timedelta(days=rng.randint(0, 9))),
                    "memo": f"{method.value} payment",
                    "method": method,
                    "reference": f"CHK {check_number}" if method is PaymentMethod.CHECK else None,
                }
            )
            if amount == inst.amount_cents:
                inst.status = InstallmentStatus.PAID
    if entries:
        session.execute(insert(LedgerEntry), entries)
    session.flush()
    return len(entries), behind


def seed_billing(
    session: Session, *, rng: random.Random, today: dt.date, pricing: BillingPricing
) -> BillingSeedSummary:
    """Add billing rules, grants, priced current-year enrollments and payments to a seeded demo database."""
    billable = _billable_orgs(session)
    network = session.execute(select(Organization).where(Organization.parent_id.is_(None))).scalar_one()
    created = dt.datetime.combine(today - dt.timedelta(days=500), dt.time(16), tzinfo=dt.UTC)
    plans, discounts = add_rules(session, network, created)
    regular = list(
        session.execute(
            select(ProgramOffering)
            .join(Program, Program.id == ProgramOffering.program_id)
            .where(
                Program.kind == ProgramKind.REGULAR_YEAR,
                or_(ProgramOffering.end_on.is_(None), ProgramOffering.end_on >= today),
            )
            .order_by(ProgramOffering.start_on, ProgramOffering.id)
        ).scalars()
    )
    regular = [o for o in regular if o.org_id in billable]
    fees = add_fees(session, regular, created)
    households = [
        h for h in session.execute(select(Household).order_by(Household.id)).scalars() if h.org_id in billable
    ]
    grants = _grants(session, rng, households, today)
    session.flush()

    current = [o.id for o in regular if o.start_on <= today]
    enrollments = session.execute(
        select(Enrollment.id, Enrollment.status, Enrollment.student_id)
        .join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.offering_id.in_(current))
        .order_by(Student.student_number, Enrollment.start_on, Enrollment.id)
    ).all()
    first_household = dict(
        session.execute(
            select(HouseholdStudent.student_id, HouseholdStudent.household_id)
            .where(HouseholdStudent.billing_share_bp > 0)
            .order_by(HouseholdStudent.student_id, HouseholdStudent.household_id.desc())
        ).all()
    )
    # Loaded once and kept referenced, so that pricing finds them in the (weak) identity map.
    loaded = [
        *session.execute(select(Student)).scalars(),
        *session.execute(select(Enrollment).where(Enrollment.offering_id.in_(current))).scalars(),
        *session.execute(select(ProgramOffering)).scalars(),
    ]
    # A family keeps one plan for all its children.
    plan_of: dict[uuid.UUID, str] = {}
    ended: list[uuid.UUID] = []
    rows: dict[type[Base], list[dict[str, Any]]] = defaultdict(list)
    for enrollment_id, status, student_id in enrollments:
        household_id = first_household.get(student_id)
        if household_id is None:
            continue
        if household_id not in plan_of:
            plan_of[household_id] = _pick(rng, tuple(PLAN_WEIGHTS.items()))
        for row in pricing.price(session, enrollment_id, plan_of[household_id]):
            columns = sa_inspect(type(row)).column_attrs
            rows[type(row)].append({c.key: getattr(row, c.key) for c in columns})
        if status in (EnrollmentStatus.WITHDRAWN, EnrollmentStatus.TRANSFERRED):
            ended.append(enrollment_id)
    for model in (BillingAgreement, Installment, LedgerEntry):
        if rows[model]:
            session.connection().execute(insert(Base.metadata.tables[model.__tablename__]), rows[model])
    session.flush()
    for enrollment_id in ended:
        pricing.settle_withdrawal(session, enrollment_id)
    del loaded
    payments, behind = _payments(session, rng, today)
    agreements = session.execute(select(BillingAgreement.id)).all()
    installments = session.execute(select(Installment.id)).all()
    return BillingSeedSummary(
        plans=plans,
        discounts=discounts,
        fees=fees,
        grants=grants,
        agreements=len(agreements),
        installments=len(installments),
        payments=payments,
        households_behind=behind,
    )
