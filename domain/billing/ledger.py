"""Household ledgers: payments recorded by hand, installment status from money received, balances.

The ledger is append-only, in integer cents (see db/models/billing.py for signs). For a
household on a day D:
- balance: the sum of entries posted on or before D (installments post on their due dates);
- overdue: the part of the balance due before D and not covered by money received by D;
- scheduled: installments due after D (not yet in the balance).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import (
    BillingAgreement,
    Household,
    HouseholdStudent,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    LedgerKind,
    Organization,
)
from domain.audit.changes import record_changes
from domain.billing.access import check_financial, household_for, require_full_sis
from domain.billing.errors import InstallmentNotChargeable
from domain.billing.schemas import (
    BalanceInput,
    BalanceReport,
    HouseholdBalance,
    InstallmentRead,
    LedgerEntryRead,
    OutstandingBalance,
    OutstandingBalancePage,
    OutstandingBalancesQuery,
    PaymentRead,
    RecordPaymentInput,
)
from domain.errors import DuplicateRecord, InvalidInput, NotFound
from domain.visibility import org_condition, visible_student
from policies.scope import Action, DataClass, Scope

# Kinds on the "what is owed" side; payments and refunds are money that moved.
OBLIGATIONS = (LedgerKind.CHARGE, LedgerKind.CREDIT, LedgerKind.CANCELLATION)
MONEY = (LedgerKind.PAYMENT, LedgerKind.REFUND)


def coverage(session: Session, household_id: uuid.UUID) -> tuple[list[Installment], dict[uuid.UUID, int]]:
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
    """Mark the household's installments paid (or open again) from the money received (see coverage).

    Installments being charged right now are left alone.
    """
    installments, covered = coverage(session, household_id)
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


def balance_on(session: Session, household_id: uuid.UUID, day: dt.date) -> int:
    """The household's balance on `day`: every entry posted by then."""
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.household_id == household_id, LedgerEntry.posted_on <= day
        )
    ).scalar_one()
    return int(total)


def _refuse_a_second_recording(session: Session, household_id: uuid.UUID, data: RecordPaymentInput) -> None:
    """The same check (method and reference) already on this household's ledger is recorded twice by mistake."""
    assert data.reference is not None
    earlier = session.execute(
        select(LedgerEntry.posted_on, LedgerEntry.amount_cents)
        .where(
            LedgerEntry.household_id == household_id,
            LedgerEntry.kind == LedgerKind.PAYMENT,
            LedgerEntry.method == data.method,
            func.lower(LedgerEntry.reference) == data.reference.strip().lower(),
        )
        .limit(1)
    ).first()
    if earlier is not None:
        raise DuplicateRecord(
            f"a {data.method.value} payment with reference {data.reference!r} of ${-earlier.amount_cents / 100:,.2f} "
            f"was already recorded on {earlier.posted_on}; pass confirm_duplicate=true if this is another payment",
            field="reference",
        )


def record_payment(session: Session, scope: Scope, data: RecordPaymentInput, *, today: dt.date) -> PaymentRead:
    """Record a check, cash or transfer payment on a household's ledger (oldest installments first).

    Raises:
        NotFound, NotApplicable, PermissionDenied, InvalidInput.
    """
    household = household_for(session, scope, data.household_id, Action.WRITE)
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
    check_financial(scope, org_id, Action.WRITE, f"household {household.id}", "household_id")
    paid_on = data.paid_on or today
    if paid_on > today:
        raise InvalidInput("a payment cannot be recorded before it is received", field="paid_on")
    if data.reference and not data.confirm_duplicate:
        _refuse_a_second_recording(session, household.id, data)
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
        balance_cents=balance_on(session, household.id, paid_on),
    )


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

    upcoming = [
        r.Installment
        for r in rows
        if r.Installment.due_on > as_of and r.Installment.status is not InstallmentStatus.CANCELLED
    ]
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
                id=r.Installment.id,
                agreement_id=r.Installment.agreement_id,
                student_id=r.student_id,
                seq=r.Installment.seq,
                due_on=r.Installment.due_on,
                amount_cents=r.Installment.amount_cents,
                status=r.Installment.status,
            )
            for r in rows
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
        household = household_for(session, scope, data.household_id, Action.READ)
        parts = [_household_balance(session, scope, household, as_of)]
        student_id = None
    else:
        assert data.student_id is not None
        student = visible_student(session, scope, data.student_id, DataClass.FINANCIAL)
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

    org_id answers for the part of its subtree in the caller's financial scope (domain/visibility.py).

    Raises:
        NotFound: org_id is unknown, or none of its subtree is in the caller's financial scope.
        NotApplicable: org_id is a ROSTER_ONLY org.
    """
    as_of = data.as_of or today
    threshold = data.threshold_cents()
    if data.org_id is not None and scope.allows_org(data.org_id, DataClass.DIRECTORY):
        require_full_sis(session, data.org_id)
    scope, in_org = org_condition(session, scope, LedgerEntry.org_id, data.org_id, DataClass.FINANCIAL)
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
            in_org,
        )
        .group_by(LedgerEntry.household_id)
        .having(balance > threshold)
    )
    if data.overdue_only:
        grouped = grouped.having(past > 0)
    sub = grouped.subquery()
    totals = session.execute(
        select(func.count().label("households"), func.coalesce(func.sum(sub.c.balance), 0).label("balance"))
    ).one()
    count = int(totals.households)
    rows = session.execute(
        select(Household, Organization.name.label("campus"))
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
                LedgerEntry.household_id.in_([row.Household.id for row in rows]),
                scope.org_filter(LedgerEntry.org_id, DataClass.FINANCIAL),
                in_org,
            )
        ).scalars():
            by_household[entry.household_id].append(entry)
    items = []
    for row in rows:
        household = row.Household
        position = _position(by_household[household.id], as_of)
        items.append(
            OutstandingBalance(
                household_id=household.id,
                household_name=household.name,
                org_id=household.org_id,
                campus=row.campus,
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
        total=count,
        total_balance_cents=int(totals.balance),
        limit=data.limit,
        offset=data.offset,
        next_offset=next_offset if next_offset < count else None,
    )
