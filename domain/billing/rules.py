"""Pure billing rules: one function prices an enrollment, and both the preview and the charge call it.

`compute_quote(terms)` turns the pricing inputs of one enrollment (tuition, fees, discounts, plan,
household shares, dates) into every line, every installment and every household's share, in
integer cents. The rules, in the order they apply:

1. Proration by months. The offering bills the calendar months it spans (August to May: 10).
   A student whose billing starts after the offering's first day pays for the months whose 15th
   falls on or after the start: joining on or before the 15th pays that month, later does not.
   Prorated = round_half_up(amount x billed months / offering months). Fees prorate only when
   their definition says so (a deposit does not).
2. Discounts apply to tuition only, in stacking order (then by code): a percentage (basis points)
   of the running amount after the earlier discounts, or a fixed amount; each is limited by its
   cap and by the running amount, so tuition never goes below zero. Each discount line is
   rounded half-up to the cent once; the running amount stays in whole cents.
3. Household shares (split custody): every line is split by billing share with
   domain/household/rules.split_amount (remainders to the largest remainders, ties by household id).
4. Installments: each household's spread amount (net tuition and spread fees) is split into the
   plan's installments in whole cents, the remainder on the first; upfront fees are added whole to
   the first installment. Installments therefore always sum exactly to the household's total. A plan's
   fee per installment is a spread fee line of that fee times the number of installments (not
   prorated, not refundable), so every installment carries it.
5. Due dates are month offsets from the offering's start month on the plan's due day. When
   billing starts after the offering's first day, due dates before the start merge into one
   installment due on the start date.

`settle_withdrawal` applies a withdrawal: installments due after the last day are cancelled, the
months started by then are earned, and a refund tier (data) credits a share of what was charged
beyond the earned amount.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from domain.calendar import add_months
from domain.household.rules import FULL_SHARE_BP, split_amount

MID_MONTH_DAY = 15
# The fee line of a plan's fee per installment.
INSTALLMENT_FEE = "installment_fee"


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves away from zero (both >= 0)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up takes a non-negative numerator and a positive denominator")
    return (2 * numerator + denominator) // (2 * denominator)


def split_installments(total_cents: int, count: int) -> list[int]:
    """`total_cents` in `count` whole-cent parts, the remainder on the first; they sum exactly to the total."""
    if count < 1:
        raise ValueError("a plan has at least one installment")
    if total_cents < 0:
        raise ValueError("installments split a non-negative amount")
    base, remainder = divmod(total_cents, count)
    return [base + remainder] + [base] * (count - 1)


def offering_months(start_on: dt.date, end_on: dt.date) -> list[dt.date]:
    """First days of the calendar months an offering spans, inclusive."""
    first = dt.date(start_on.year, start_on.month, 1)
    months = []
    while first <= end_on:
        months.append(first)
        first = add_months(first, 1)
    return months


def billed_months(start_on: dt.date, end_on: dt.date, billing_start: dt.date) -> list[dt.date]:
    """The offering months a student starting on `billing_start` pays for (the mid-month rule)."""
    months = offering_months(start_on, end_on)
    if billing_start <= start_on:
        return months
    return [m for m in months if billing_start <= m.replace(day=MID_MONTH_DAY)]


# -- the pricing inputs ------------------------------------------------------------------------


@dataclass(frozen=True)
class FeeTerm:
    code: str
    name: str
    kind: str
    amount_cents: int
    upfront: bool = False
    prorated: bool = True
    refundable: bool = True
    # The definition version that priced it (fee_definition.id and version); None in terms older than versions.
    source_id: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class DiscountTerm:
    code: str
    name: str
    kind: str
    stacking_order: int
    percent_bp: int | None = None
    amount_cents: int | None = None
    cap_cents: int | None = None
    source_id: str | None = None
    version: int | None = None

    def __post_init__(self) -> None:
        if (self.percent_bp is None) == (self.amount_cents is None):
            raise ValueError(f"discount {self.code}: give exactly one of a percent or a fixed amount")
        if self.percent_bp is not None and not 0 <= self.percent_bp <= FULL_SHARE_BP:
            raise ValueError(f"discount {self.code}: percent must be 0..10000 basis points")
        if (self.amount_cents or 0) < 0 or (self.cap_cents or 0) < 0:
            raise ValueError(f"discount {self.code}: amounts and caps are never negative")


@dataclass(frozen=True)
class PlanTerm:
    code: str
    name: str
    due_month_offsets: tuple[int, ...]
    due_day: int
    # Added to every installment (rule 4), as a non-refundable, non-prorated fee line.
    installment_fee_cents: int = 0
    version: int | None = None

    def __post_init__(self) -> None:
        if not self.due_month_offsets:
            raise ValueError(f"plan {self.code}: at least one due date")
        if list(self.due_month_offsets) != sorted(set(self.due_month_offsets)):
            raise ValueError(f"plan {self.code}: due month offsets must be increasing")
        if not 1 <= self.due_day <= 28:
            raise ValueError(f"plan {self.code}: due day must be 1..28")
        if self.installment_fee_cents < 0:
            raise ValueError(f"plan {self.code}: the fee per installment is never negative")


@dataclass(frozen=True)
class Terms:
    """Everything the price of one enrollment depends on; stored as JSON on its agreement."""

    offering_start: dt.date
    offering_end: dt.date
    billing_start: dt.date
    tuition_cents: int
    plan: PlanTerm
    fees: tuple[FeeTerm, ...] = ()
    discounts: tuple[DiscountTerm, ...] = ()
    # household id -> billing share in basis points; empty for a what-if without a household.
    shares: tuple[tuple[uuid.UUID, int], ...] = ()

    def __post_init__(self) -> None:
        if self.tuition_cents < 0 or any(f.amount_cents < 0 for f in self.fees):
            raise ValueError("tuition and fees are never negative")
        if self.offering_end < self.offering_start:
            raise ValueError("the offering ends before it starts")

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict that `Terms.from_json` reads back exactly."""
        return {
            "offering_start": self.offering_start.isoformat(),
            "offering_end": self.offering_end.isoformat(),
            "billing_start": self.billing_start.isoformat(),
            "tuition_cents": self.tuition_cents,
            "plan": {
                "code": self.plan.code,
                "name": self.plan.name,
                "due_month_offsets": list(self.plan.due_month_offsets),
                "due_day": self.plan.due_day,
                "installment_fee_cents": self.plan.installment_fee_cents,
                "version": self.plan.version,
            },
            "fees": [asdict(f) for f in self.fees],
            "discounts": [asdict(d) for d in self.discounts],
            "shares": [[str(h), bp] for h, bp in self.shares],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Terms:
        """The terms stored by `to_json`."""
        plan = data["plan"]
        return cls(
            offering_start=dt.date.fromisoformat(data["offering_start"]),
            offering_end=dt.date.fromisoformat(data["offering_end"]),
            billing_start=dt.date.fromisoformat(data["billing_start"]),
            tuition_cents=int(data["tuition_cents"]),
            plan=PlanTerm(
                code=plan["code"],
                name=plan["name"],
                due_month_offsets=tuple(int(o) for o in plan["due_month_offsets"]),
                due_day=int(plan["due_day"]),
                installment_fee_cents=int(plan.get("installment_fee_cents", 0)),
                version=plan.get("version"),
            ),
            fees=tuple(FeeTerm(**f) for f in data.get("fees", [])),
            discounts=tuple(DiscountTerm(**d) for d in data.get("discounts", [])),
            shares=tuple((uuid.UUID(h), int(bp)) for h, bp in data.get("shares", [])),
        )


# -- the result --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteLine:
    """One line of a price: tuition, a fee, or a discount (whose amount lowers the total)."""

    kind: str  # "tuition" | "fee" | "discount"
    code: str
    name: str
    amount_cents: int
    # For tuition and fees: the amount before proration; for a discount: the running amount it applied to.
    basis_cents: int
    refundable: bool = True
    upfront: bool = False


@dataclass(frozen=True)
class InstallmentQuote:
    seq: int
    due_on: dt.date
    amount_cents: int
    # amount = charge - credit: what the ledger posts on the due date (gross share, discount share).
    charge_cents: int = 0
    credit_cents: int = 0


@dataclass(frozen=True)
class HouseholdQuote:
    household_id: uuid.UUID
    share_bp: int
    gross_cents: int
    discount_cents: int
    total_cents: int
    refundable_cents: int
    installments: tuple[InstallmentQuote, ...]


@dataclass(frozen=True)
class Quote:
    billed_months: int
    offering_months: int
    lines: tuple[QuoteLine, ...]
    gross_cents: int
    discount_cents: int
    total_cents: int
    installments: tuple[InstallmentQuote, ...]
    households: tuple[HouseholdQuote, ...] = field(default=())

    def household(self, household_id: uuid.UUID) -> HouseholdQuote:
        """This household's part of the quote (KeyError when it has no share)."""
        for part in self.households:
            if part.household_id == household_id:
                return part
        raise KeyError(household_id)


# -- the one pricing function -------------------------------------------------------------------


def due_dates(terms: Terms) -> list[dt.date]:
    """The installment due dates of the plan for this billing start (rule 5)."""
    due = terms.offering_start.replace(day=terms.plan.due_day)  # due_day <= 28: every month has it
    planned = [add_months(due, o) for o in terms.plan.due_month_offsets]
    if terms.billing_start <= terms.offering_start:
        return planned
    later = [d for d in planned if d > terms.billing_start]
    return [terms.billing_start, *later]


def apply_discounts(amount_cents: int, discounts: Sequence[DiscountTerm]) -> list[tuple[DiscountTerm, int, int]]:
    """(discount, running amount before it, amount taken) in stacking order; never below zero."""
    running = amount_cents
    applied = []
    for discount in sorted(discounts, key=lambda d: (d.stacking_order, d.code)):
        if discount.percent_bp is not None:
            taken = round_half_up(running * discount.percent_bp, FULL_SHARE_BP)
        else:
            taken = discount.amount_cents or 0
        if discount.cap_cents is not None:
            taken = min(taken, discount.cap_cents)
        taken = min(taken, running)
        applied.append((discount, running, taken))
        running -= taken
    return applied


def compute_quote(terms: Terms) -> Quote:
    """Every line, installment and household share of one enrollment's price (see the module rules)."""
    all_months = offering_months(terms.offering_start, terms.offering_end)
    billed = billed_months(terms.offering_start, terms.offering_end, terms.billing_start)

    def prorate(amount: int) -> int:
        return round_half_up(amount * len(billed), len(all_months))

    tuition = prorate(terms.tuition_cents)
    lines = [QuoteLine("tuition", "tuition", "Tuition", tuition, terms.tuition_cents)]
    applied = apply_discounts(tuition, terms.discounts)
    lines += [QuoteLine("discount", d.code, d.name, taken, before) for d, before, taken in applied if taken]
    net_tuition = tuition - sum(taken for _, _, taken in applied)
    dates = due_dates(terms)
    fees = [(fee, prorate(fee.amount_cents) if fee.prorated else fee.amount_cents) for fee in terms.fees]
    if terms.plan.installment_fee_cents:
        per = terms.plan.installment_fee_cents
        plan_fee = FeeTerm(
            INSTALLMENT_FEE, f"{terms.plan.name}: fee per installment", "other", per, prorated=False, refundable=False
        )
        fees.append((plan_fee, per * len(dates)))
    lines += [
        QuoteLine("fee", f.code, f.name, amount, f.amount_cents, refundable=f.refundable, upfront=f.upfront)
        for f, amount in fees
    ]
    discount_total = tuition - net_tuition
    gross = tuition + sum(amount for _, amount in fees)
    total = gross - discount_total

    def schedule(spread: int, upfront: int, credits: int) -> tuple[InstallmentQuote, ...]:
        amounts = split_installments(spread, len(dates))
        amounts[0] += upfront
        credit_parts = split_installments(credits, len(dates))
        return tuple(
            InstallmentQuote(seq, due, amount, charge_cents=amount + credit, credit_cents=credit)
            for seq, (due, amount, credit) in enumerate(zip(dates, amounts, credit_parts, strict=True), start=1)
        )

    spread_fees = sum(amount for f, amount in fees if not f.upfront)
    upfront_fees = sum(amount for f, amount in fees if f.upfront)
    student_schedule = schedule(net_tuition + spread_fees, upfront_fees, discount_total)

    households: list[HouseholdQuote] = []
    if terms.shares:
        shares = dict(terms.shares)

        def split(amount: int) -> dict[uuid.UUID, int]:
            return split_amount(amount, shares)

        # Net amounts and discounts are split separately, so no household's part is ever negative.
        tuition_parts = split(net_tuition)
        discount_parts = [split(taken) for _, _, taken in applied]
        fee_parts = [(f, split(amount)) for f, amount in fees]
        for household_id, share in sorted(shares.items(), key=lambda s: s[0]):
            spread_h = tuition_parts[household_id] + sum(p[household_id] for f, p in fee_parts if not f.upfront)
            upfront_h = sum(p[household_id] for f, p in fee_parts if f.upfront)
            discount_h = sum(p[household_id] for p in discount_parts)
            refundable_h = tuition_parts[household_id] + sum(p[household_id] for f, p in fee_parts if f.refundable)
            total_h = spread_h + upfront_h
            households.append(
                HouseholdQuote(
                    household_id=household_id,
                    share_bp=share,
                    gross_cents=total_h + discount_h,
                    discount_cents=discount_h,
                    total_cents=total_h,
                    refundable_cents=refundable_h,
                    installments=schedule(spread_h, upfront_h, discount_h),
                )
            )
    return Quote(
        billed_months=len(billed),
        offering_months=len(all_months),
        lines=tuple(lines),
        gross_cents=gross,
        discount_cents=discount_total,
        total_cents=total,
        installments=student_schedule,
        households=tuple(households),
    )


# -- withdrawal --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundTier:
    """Withdrawals within `within_days` of the billing start, or with a last day on or before `through_on`,
    get `refund_bp`; a tier with neither covers any later day."""

    within_days: int | None
    refund_bp: int
    through_on: dt.date | None = None


def parse_tiers(raw: Sequence[Mapping[str, Any]]) -> list[RefundTier]:
    """Refund tiers from their stored form, checked: all by days or all by date, strictly increasing limits
    (windows never overlap), an open-ended tier only last."""
    tiers = [
        RefundTier(
            t.get("within_days"),
            int(t["refund_bp"]),
            dt.date.fromisoformat(t["through_on"]) if t.get("through_on") else None,
        )
        for t in raw
    ]
    if any(t.within_days is not None and t.through_on is not None for t in tiers):
        raise ValueError("a refund tier is limited by within_days or by through_on, not both")
    days = [t.within_days for t in tiers if t.within_days is not None]
    dates = [t.through_on for t in tiers if t.through_on is not None]
    if days and dates:
        raise ValueError("refund tiers are all by days after the start or all by date")
    limits: list[Any] = days or dates
    if any(b <= a for a, b in itertools.pairwise(limits)):
        raise ValueError("refund tiers must be ordered by increasing limits, without overlapping windows")
    if any(t.within_days is None and t.through_on is None for t in tiers[:-1]):
        raise ValueError("refund tiers must be ordered with an open-ended tier only last")
    if any(d < 0 for d in days):
        raise ValueError("within_days is never negative")
    if any(not 0 <= t.refund_bp <= FULL_SHARE_BP for t in tiers):
        raise ValueError("refund tiers are 0..10000 basis points")
    return tiers


def refund_bp_for(tiers: Sequence[RefundTier], days_since_start: int, last_day: dt.date | None = None) -> int:
    """The refund share of the first tier covering the withdrawal; 0 when none does."""
    for tier in tiers:
        if tier.through_on is not None:
            if last_day is not None and last_day <= tier.through_on:
                return tier.refund_bp
            continue
        if tier.within_days is None or days_since_start <= tier.within_days:
            return tier.refund_bp
    return 0


@dataclass(frozen=True)
class HouseholdSettlement:
    household_id: uuid.UUID
    cancelled_seqs: tuple[int, ...]
    cancelled_cents: int
    kept_cents: int
    earned_cents: int
    unearned_cents: int
    refund_bp: int
    # Credited to the household for unearned, refundable charges it keeps (refunded if already paid).
    credit_cents: int


def settle_withdrawal(terms: Terms, *, last_day: dt.date, tiers: Sequence[RefundTier]) -> list[HouseholdSettlement]:
    """Per household: installments cancelled, the amount earned by `last_day`, and the refund credit.

    Installments due after the last day are cancelled. Months of the billed period that have begun by
    the last day are earned, in full; non-refundable lines are always earned. What the household keeps
    being charged beyond the earned amount is unearned, and the refund tier for the days since the
    billing start credits that share of it (half-up to the cent). A withdrawal never adds a charge.
    """
    quote = compute_quote(terms)
    months = billed_months(terms.offering_start, terms.offering_end, terms.billing_start)
    started = sum(1 for m in months if m <= last_day and last_day >= terms.billing_start)
    refund_bp = refund_bp_for(tiers, (last_day - terms.billing_start).days, last_day)
    result = []
    for part in quote.households:
        cancelled = [i for i in part.installments if i.due_on > last_day]
        kept = part.total_cents - sum(i.amount_cents for i in cancelled)
        earned_refundable = round_half_up(part.refundable_cents * started, len(months)) if months else 0
        earned = part.total_cents - part.refundable_cents + earned_refundable
        unearned = max(0, kept - earned)
        result.append(
            HouseholdSettlement(
                household_id=part.household_id,
                cancelled_seqs=tuple(i.seq for i in cancelled),
                cancelled_cents=part.total_cents - kept,
                kept_cents=kept,
                earned_cents=earned,
                unearned_cents=unearned,
                refund_bp=refund_bp,
                credit_cents=round_half_up(unearned * refund_bp, FULL_SHARE_BP),
            )
        )
    return result
