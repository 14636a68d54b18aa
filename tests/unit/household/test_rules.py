"""Billing-share rules: 100% in basis points, and splits that are exact to the cent."""

from __future__ import annotations

import itertools
import uuid
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import BillingSharesInvalid
from domain.household.rules import FULL_SHARE_BP, split_amount, validate_shares


@st.composite
def valid_shares(draw: st.DrawFn) -> dict[uuid.UUID, int]:
    """1..4 households whose shares (zeros allowed) sum to exactly 10000."""
    cuts = sorted(draw(st.lists(st.integers(0, FULL_SHARE_BP), max_size=3)))
    bounds = [0, *cuts, FULL_SHARE_BP]
    parts = [b - a for a, b in itertools.pairwise(bounds)]
    ids = draw(st.lists(st.uuids(), min_size=len(parts), max_size=len(parts), unique=True))
    return dict(zip(ids, parts, strict=True))


any_shares = st.dictionaries(st.uuids(), st.integers(0, FULL_SHARE_BP), max_size=4)


@given(valid_shares(), st.integers(-(10**9), 10**9))
def test_split_always_sums_to_the_total_and_each_part_is_within_a_cent(shares, total):
    parts = split_amount(total, shares)

    assert sum(parts.values()) == total
    assert parts.keys() == shares.keys()
    for household_id, share in shares.items():
        exact = Fraction(total * share, FULL_SHARE_BP)
        assert abs(parts[household_id] - exact) < 1


@given(valid_shares(), st.integers(0, 10**7))
def test_split_is_deterministic_and_mirrors_for_refunds(shares, total):
    reordered = dict(reversed(list(shares.items())))

    assert split_amount(total, reordered) == split_amount(total, shares)
    assert split_amount(-total, shares) == {k: -v for k, v in split_amount(total, shares).items()}


@given(any_shares)
def test_validate_shares_accepts_exactly_the_maps_summing_to_10000(shares):
    if sum(shares.values()) == FULL_SHARE_BP:
        validate_shares(shares)
    else:
        with pytest.raises(BillingSharesInvalid, match=f"found {sum(shares.values())} "):
            validate_shares(shares)


@given(valid_shares(), st.uuids(), st.integers().filter(lambda v: not 0 <= v <= FULL_SHARE_BP))
def test_validate_shares_rejects_any_share_outside_0_to_10000(shares, extra_id, bad):
    victim = next(iter(shares))
    # Keep the sum at 10000 so that only the range rule can reject it.
    bad_shares = {**shares, victim: bad, extra_id: shares[victim] - bad}

    with pytest.raises(BillingSharesInvalid, match="must be an integer from 0 to 10000"):
        validate_shares(bad_shares)


def test_leftover_cent_goes_to_the_largest_remainder_then_the_lowest_household_id():
    low, high = uuid.UUID(int=1), uuid.UUID(int=2)

    assert split_amount(101, {low: 5000, high: 5000}) == {low: 51, high: 50}
    assert split_amount(100, {low: 3333, high: 6667}) == {low: 33, high: 67}
    assert split_amount(1, {low: 3333, high: 6667}) == {low: 0, high: 1}


def test_zero_share_household_is_billed_nothing():
    payer, other = uuid.UUID(int=1), uuid.UUID(int=2)

    assert split_amount(12_345, {payer: 10000, other: 0}) == {payer: 12_345, other: 0}


def test_split_refuses_invalid_shares():
    with pytest.raises(BillingSharesInvalid):
        split_amount(100, {uuid.UUID(int=1): 5000})


def test_a_bool_is_not_a_share():
    with pytest.raises(BillingSharesInvalid):
        validate_shares({uuid.UUID(int=1): True, uuid.UUID(int=2): 9999})
