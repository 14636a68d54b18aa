"""The one pricing function: discounts in stacking order, installments exact to the cent, shares, proration."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.billing.rules import (
    DiscountTerm,
    FeeTerm,
    PlanTerm,
    RefundTier,
    Terms,
    apply_discounts,
    billed_months,
    compute_quote,
    due_dates,
    parse_tiers,
    round_half_up,
    settle_withdrawal,
    split_installments,
)
from domain.household.rules import FULL_SHARE_BP

START, END = dt.date(2026, 8, 12), dt.date(2027, 5, 28)
ANNUAL = PlanTerm("annual", "Annual", (0,), 1)
SEMESTER = PlanTerm("semester", "Semester", (0, 5), 1)
MONTHLY = PlanTerm("monthly", "Monthly", tuple(range(10)), 1)
DEPOSIT = FeeTerm("deposit", "Deposit", "deposit", 50_000, upfront=True, prorated=False, refundable=False)
LUNCH = FeeTerm("lunch", "Lunch program", "lunch", 95_000)
SIBLING = DiscountTerm("sibling", "Sibling", "sibling", 10, percent_bp=1_000)
FOUNDING = DiscountTerm("founding_family", "Founding family", "founding_family", 20, percent_bp=500)
HOUSE_A, HOUSE_B = uuid.UUID(int=1), uuid.UUID(int=2)


def terms(**kw: object) -> Terms:
    base: dict[str, object] = {
        "offering_start": START,
        "offering_end": END,
        "billing_start": START,
        "tuition_cents": 4_000_000,
        "plan": MONTHLY,
        "fees": (),
        "discounts": (),
        "shares": ((HOUSE_A, FULL_SHARE_BP),),
    }
    return Terms(**(base | kw))  # type: ignore[arg-type]


# -- strategies ---------------------------------------------------------------------------------

discounts_st = st.lists(
    st.one_of(
        st.builds(
            lambda code, order, bp, cap: DiscountTerm(code, code, "other", order, percent_bp=bp, cap_cents=cap),
            st.text("abcdefgh", min_size=1, max_size=6),
            st.integers(0, 50),
            st.integers(0, FULL_SHARE_BP),
            st.none() | st.integers(0, 2_000_000),
        ),
        st.builds(
            lambda code, order, amount, cap: DiscountTerm(
                code, code, "other", order, amount_cents=amount, cap_cents=cap
            ),
            st.text("abcdefgh", min_size=1, max_size=6),
            st.integers(0, 50),
            st.integers(0, 3_000_000),
            st.none() | st.integers(0, 2_000_000),
        ),
    ),
    max_size=5,
)


@st.composite
def shares_st(draw: st.DrawFn) -> tuple[tuple[uuid.UUID, int], ...]:
    cuts = sorted(draw(st.lists(st.integers(0, FULL_SHARE_BP), max_size=2)))
    parts = [b - a for a, b in itertools.pairwise([0, *cuts, FULL_SHARE_BP])]
    ids = draw(st.lists(st.uuids(), min_size=len(parts), max_size=len(parts), unique=True))
    return tuple(sorted((i, p) for i, p in zip(ids, parts, strict=True) if p > 0))


@st.composite
def terms_st(draw: st.DrawFn) -> Terms:
    start = draw(st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)))
    end = start + dt.timedelta(days=draw(st.integers(0, 400)))
    billing = start + dt.timedelta(days=draw(st.integers(0, 420)))
    offsets = sorted(draw(st.sets(st.integers(0, 11), min_size=1, max_size=10)))
    fees = draw(
        st.lists(
            st.builds(
                FeeTerm,
                st.text("xyz", min_size=1, max_size=4),
                st.just("fee"),
                st.just("other"),
                st.integers(0, 500_000),
                upfront=st.booleans(),
                prorated=st.booleans(),
                refundable=st.booleans(),
            ),
            max_size=3,
        )
    )
    return Terms(
        offering_start=start,
        offering_end=end,
        billing_start=billing,
        tuition_cents=draw(st.integers(0, 6_000_000)),
        plan=PlanTerm("p", "Plan", tuple(offsets), draw(st.integers(1, 28))),
        fees=tuple(fees),
        discounts=tuple(draw(discounts_st)),
        shares=draw(shares_st()),
    )


# -- properties ---------------------------------------------------------------------------------


@given(st.integers(0, 10**10), st.integers(1, 24))
def test_installments_always_sum_to_the_total_with_the_remainder_first(total, count):
    parts = split_installments(total, count)

    assert sum(parts) == total
    assert len(parts) == count
    assert all(p == parts[-1] for p in parts[1:])
    assert 0 <= parts[0] - parts[-1] < count


@given(terms_st())
@settings(max_examples=300)
def test_every_schedule_sums_exactly_to_its_total(t):
    quote = compute_quote(t)

    assert sum(i.amount_cents for i in quote.installments) == quote.total_cents
    assert quote.total_cents == quote.gross_cents - quote.discount_cents
    for part in quote.households:
        assert sum(i.amount_cents for i in part.installments) == part.total_cents
        assert sum(i.charge_cents - i.credit_cents for i in part.installments) == part.total_cents
        assert sum(i.credit_cents for i in part.installments) == part.discount_cents
        assert all(i.amount_cents >= 0 and i.credit_cents >= 0 for i in part.installments)


@given(terms_st())
@settings(max_examples=300)
def test_household_shares_always_sum_to_the_students_total(t):
    quote = compute_quote(t)

    assert sum(h.total_cents for h in quote.households) == quote.total_cents
    assert sum(h.discount_cents for h in quote.households) == quote.discount_cents
    assert sum(h.gross_cents for h in quote.households) == quote.gross_cents
    for part in quote.households:
        exact = Fraction(quote.total_cents * part.share_bp, FULL_SHARE_BP)
        assert abs(part.total_cents - exact) <= len(t.fees) + len(t.discounts) + 2


@given(st.integers(0, 10_000_000), discounts_st)
def test_discounts_never_produce_a_negative_amount(amount, discounts):
    applied = apply_discounts(amount, discounts)

    running = amount
    for _, before, taken in applied:
        assert before == running
        assert 0 <= taken <= before
        running -= taken
    assert running >= 0


@given(st.integers(0, 10_000_000), discounts_st)
def test_discounts_apply_in_stacking_order_each_on_the_running_amount(amount, discounts):
    applied = apply_discounts(amount, discounts)

    orders = [(d.stacking_order, d.code) for d, _, _ in applied]
    assert orders == sorted(orders)
    running = amount
    for discount, before, taken in applied:
        if discount.percent_bp is not None:
            expected = round_half_up(before * discount.percent_bp, FULL_SHARE_BP)
        else:
            expected = discount.amount_cents or 0
        if discount.cap_cents is not None:
            expected = min(expected, discount.cap_cents)
        assert taken == min(expected, running)
        running -= taken


def test_stacking_order_changes_the_result_when_a_fixed_and_a_percent_discount_swap():
    percent_first = apply_discounts(1_000_000, [DiscountTerm("p", "p", "other", 1, percent_bp=1_000),
                                                DiscountTerm("f", "f", "other", 2, amount_cents=100_000)])  # fmt: skip
    fixed_first = apply_discounts(1_000_000, [DiscountTerm("p", "p", "other", 2, percent_bp=1_000),
                                              DiscountTerm("f", "f", "other", 1, amount_cents=100_000)])  # fmt: skip

    assert [taken for _, _, taken in percent_first] == [100_000, 100_000]
    assert [taken for _, _, taken in fixed_first] == [100_000, 90_000]


@given(terms_st())
def test_terms_survive_their_stored_json_exactly(t):
    assert Terms.from_json(t.to_json()) == t
    assert compute_quote(Terms.from_json(t.to_json())) == compute_quote(t)


# -- rules spelled out --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 10, 1), (4, 10, 0), (15, 10, 2), (25, 10, 3), (0, 7, 0), (1_234_567 * 1_000, 10_000, 123_457)],
)
def test_rounding_is_half_up_to_the_cent(numerator, denominator, expected):
    assert round_half_up(numerator, denominator) == expected


def test_a_percent_discount_on_an_odd_amount_rounds_half_up_once_per_line():
    quote = compute_quote(terms(tuition_cents=1_005, discounts=(DiscountTerm("h", "h", "other", 1, percent_bp=5_000),)))

    assert [(line.code, line.amount_cents) for line in quote.lines] == [("tuition", 1_005), ("h", 503)]
    assert quote.total_cents == 502


def test_a_cap_limits_a_percent_discount():
    subsidy = DiscountTerm("s", "Subsidy", "subsidy", 1, percent_bp=5_000, cap_cents=1_500_000)

    assert compute_quote(terms(discounts=(subsidy,))).discount_cents == 1_500_000


def test_a_fixed_discount_larger_than_the_tuition_stops_at_zero():
    quote = compute_quote(
        terms(tuition_cents=30_000, discounts=(DiscountTerm("f", "f", "other", 1, amount_cents=50_000),))
    )

    assert quote.total_cents == 0
    assert all(i.amount_cents == 0 for i in quote.installments)


def test_ten_monthly_payments_of_4000_dollars_are_never_one_40000_dollar_charge():
    quote = compute_quote(terms(tuition_cents=4_000_000, plan=MONTHLY))

    assert [i.amount_cents for i in quote.installments] == [400_000] * 10
    assert [i.due_on for i in quote.installments][:2] == [dt.date(2026, 8, 1), dt.date(2026, 9, 1)]


def test_semester_and_annual_plans_use_their_own_due_months():
    assert due_dates(terms(plan=SEMESTER)) == [dt.date(2026, 8, 1), dt.date(2027, 1, 1)]
    assert due_dates(terms(plan=ANNUAL)) == [dt.date(2026, 8, 1)]


def test_joining_on_the_15th_pays_that_month_and_on_the_16th_does_not():
    assert len(billed_months(START, END, dt.date(2027, 1, 15))) == 5
    assert len(billed_months(START, END, dt.date(2027, 1, 16))) == 4
    assert len(billed_months(START, END, START)) == 10


def test_a_late_start_merges_the_missed_due_dates_into_one_due_on_the_start():
    late = terms(billing_start=dt.date(2027, 1, 20), plan=MONTHLY)

    assert due_dates(late) == [dt.date(2027, 1, 20), *[dt.date(2027, m, 1) for m in (2, 3, 4, 5)]]
    assert compute_quote(late).billed_months == 4


def test_refund_tiers_must_be_ordered_with_the_open_tier_last():
    with pytest.raises(ValueError, match="ordered"):
        parse_tiers([{"within_days": None, "refund_bp": 5000}, {"within_days": 30, "refund_bp": 10000}])
    assert parse_tiers([{"within_days": 30, "refund_bp": 10000}, {"within_days": None, "refund_bp": 0}]) == [
        RefundTier(30, 10_000),
        RefundTier(None, 0),
    ]


def test_a_withdrawal_never_adds_a_charge():
    for last_day in (START - dt.timedelta(days=3), dt.date(2026, 10, 20), dt.date(2027, 3, 3), END):
        for plan in (ANNUAL, SEMESTER, MONTHLY):
            settled = settle_withdrawal(
                terms(plan=plan, fees=(DEPOSIT, LUNCH)), last_day=last_day, tiers=[RefundTier(None, 5_000)]
            )
            for part in settled:
                assert (
                    part.kept_cents + part.cancelled_cents
                    == compute_quote(terms(plan=plan, fees=(DEPOSIT, LUNCH))).total_cents
                )
                assert 0 <= part.credit_cents <= part.unearned_cents <= part.kept_cents


# -- worked examples (docs/billing.md tables) ------------------------------------------------------------


def test_worked_example_sibling_and_founding_family_on_the_monthly_plan():
    quote = compute_quote(terms(fees=(DEPOSIT, LUNCH), discounts=(FOUNDING, SIBLING)))

    assert [(line.kind, line.code, line.basis_cents, line.amount_cents) for line in quote.lines] == [
        ("tuition", "tuition", 4_000_000, 4_000_000),
        ("discount", "sibling", 4_000_000, 400_000),
        ("discount", "founding_family", 3_600_000, 180_000),
        ("fee", "deposit", 50_000, 50_000),
        ("fee", "lunch", 95_000, 95_000),
    ]
    assert (quote.gross_cents, quote.discount_cents, quote.total_cents) == (4_145_000, 580_000, 3_565_000)
    assert [i.amount_cents for i in quote.installments] == [401_500] + [351_500] * 9


def test_worked_example_split_custody_fifty_fifty_on_the_semester_plan():
    quote = compute_quote(
        terms(
            tuition_cents=3_500_000,
            plan=SEMESTER,
            fees=(DEPOSIT, LUNCH),
            discounts=(FOUNDING,),
            shares=((HOUSE_A, 5_000), (HOUSE_B, 5_000)),
        )
    )

    assert (quote.gross_cents, quote.discount_cents, quote.total_cents) == (3_645_000, 175_000, 3_470_000)
    a, b = quote.households
    assert (a.total_cents, b.total_cents) == (1_735_000, 1_735_000)
    assert [i.amount_cents for i in a.installments] == [880_000, 855_000]
    assert [i.amount_cents for i in b.installments] == [880_000, 855_000]


def test_worked_example_an_odd_cent_goes_to_the_first_household_by_id():
    quote = compute_quote(terms(tuition_cents=1_000_001, plan=ANNUAL, shares=((HOUSE_A, 5_000), (HOUSE_B, 5_000))))

    assert [(h.household_id, h.total_cents) for h in quote.households] == [(HOUSE_A, 500_001), (HOUSE_B, 500_000)]


def test_worked_example_mid_year_enrollment_is_prorated_by_months():
    quote = compute_quote(terms(billing_start=dt.date(2027, 1, 20), fees=(DEPOSIT, LUNCH)))

    assert (quote.billed_months, quote.offering_months) == (4, 10)
    assert [(line.code, line.amount_cents) for line in quote.lines] == [
        ("tuition", 1_600_000),
        ("deposit", 50_000),
        ("lunch", 38_000),
    ]
    assert quote.total_cents == 1_688_000
    assert [(i.due_on, i.amount_cents) for i in quote.installments] == [
        (dt.date(2027, 1, 20), 377_600),
        (dt.date(2027, 2, 1), 327_600),
        (dt.date(2027, 3, 1), 327_600),
        (dt.date(2027, 4, 1), 327_600),
        (dt.date(2027, 5, 1), 327_600),
    ]


def test_worked_example_withdrawal_of_an_annual_payer_refunds_half_of_the_unearned_tuition():
    t = terms(plan=ANNUAL, fees=(DEPOSIT, LUNCH))
    tiers = [RefundTier(30, 10_000), RefundTier(90, 7_500), RefundTier(None, 5_000)]

    (part,) = settle_withdrawal(t, last_day=dt.date(2027, 1, 15), tiers=tiers)

    assert compute_quote(t).total_cents == 4_145_000
    assert part.cancelled_seqs == ()
    assert (part.earned_cents, part.unearned_cents, part.refund_bp, part.credit_cents) == (
        2_507_000,
        1_638_000,
        5_000,
        819_000,
    )
