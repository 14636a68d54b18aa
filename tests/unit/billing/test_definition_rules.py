"""Rules the billing definitions added: a plan's fee per installment, refund tiers by date, versions in terms."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain.billing.rules import (
    INSTALLMENT_FEE,
    FeeTerm,
    PlanTerm,
    RefundTier,
    Terms,
    compute_quote,
    parse_tiers,
    refund_bp_for,
    settle_withdrawal,
)

START, END = dt.date(2026, 8, 12), dt.date(2027, 5, 28)
HOUSE_A, HOUSE_B = uuid.UUID(int=1), uuid.UUID(int=2)
MONTHLY_FEE = PlanTerm("monthly", "Monthly", tuple(range(10)), 1, installment_fee_cents=500, version=3)


def terms(**kw: object) -> Terms:
    base: dict[str, object] = {
        "offering_start": START,
        "offering_end": END,
        "billing_start": START,
        "tuition_cents": 1_000_000,
        "plan": MONTHLY_FEE,
        "shares": ((HOUSE_A, 10_000),),
    }
    return Terms(**(base | kw))  # type: ignore[arg-type]


def test_a_plan_fee_per_installment_is_on_every_installment():
    quote = compute_quote(terms())

    assert [i.amount_cents for i in quote.installments] == [100_500] * 10
    fee = next(line for line in quote.lines if line.code == INSTALLMENT_FEE)
    assert fee.amount_cents == 5_000 and not fee.refundable
    assert quote.total_cents == 1_005_000


def test_a_mid_year_start_pays_the_plan_fee_once_per_installment_it_has():
    quote = compute_quote(terms(billing_start=dt.date(2027, 1, 20)))

    assert len(quote.installments) == 5
    assert next(line for line in quote.lines if line.code == INSTALLMENT_FEE).amount_cents == 2_500


def test_split_custody_splits_the_plan_fee_by_share():
    quote = compute_quote(terms(shares=((HOUSE_A, 5_000), (HOUSE_B, 5_000))))

    assert [p.total_cents for p in quote.households] == [502_500, 502_500]


def test_terms_keep_the_versions_that_priced_them_through_json():
    fee = FeeTerm("registration", "Registration", "registration", 25_000, upfront=True, source_id="f-1", version=2)
    stored = terms(fees=(fee,))

    again = Terms.from_json(stored.to_json())

    assert again == stored and again.plan.version == 3 and again.fees[0].source_id == "f-1"


def test_terms_stored_before_versions_read_back_without_them():
    old = terms(plan=PlanTerm("annual", "Annual", (0,), 1)).to_json()
    del old["plan"]["installment_fee_cents"], old["plan"]["version"]

    assert Terms.from_json(old).plan == PlanTerm("annual", "Annual", (0,), 1)


def test_refund_tiers_by_date_refund_by_the_last_day():
    tiers = parse_tiers(
        [{"through_on": "2026-09-30", "refund_bp": 10_000}, {"through_on": "2026-12-31", "refund_bp": 2_500}]
    )

    assert refund_bp_for(tiers, 200, dt.date(2026, 9, 30)) == 10_000
    assert refund_bp_for(tiers, 200, dt.date(2026, 10, 1)) == 2_500
    assert refund_bp_for(tiers, 200, dt.date(2027, 1, 1)) == 0
    settled = settle_withdrawal(terms(), last_day=dt.date(2026, 11, 15), tiers=tiers)
    assert settled[0].refund_bp == 2_500


@pytest.mark.parametrize(
    "raw",
    [
        [{"within_days": 30, "refund_bp": 100}, {"within_days": 30, "refund_bp": 50}],
        [{"within_days": 90, "refund_bp": 100}, {"within_days": 30, "refund_bp": 50}],
        [{"through_on": "2026-12-01", "refund_bp": 100}, {"through_on": "2026-10-01", "refund_bp": 50}],
        [{"within_days": 30, "refund_bp": 100}, {"through_on": "2026-10-01", "refund_bp": 50}],
        [{"within_days": 30, "through_on": "2026-10-01", "refund_bp": 100}],
        [{"within_days": -1, "refund_bp": 100}],
    ],
)
def test_overlapping_mixed_or_unordered_refund_windows_are_refused(raw):
    with pytest.raises(ValueError, match=r"refund tier|within_days"):
        parse_tiers(raw)


def test_day_tiers_still_read_as_before():
    assert parse_tiers([{"within_days": 30, "refund_bp": 10_000}, {"within_days": None, "refund_bp": 0}]) == [
        RefundTier(30, 10_000),
        RefundTier(None, 0),
    ]
