"""Attendance rate and the chronic-absence rule (missing 10% or more, over enough days)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from domain.attendance.rules import attendance_rate, is_chronically_absent, threshold_ratio


def test_rate_is_the_share_of_membership_days_not_absent():
    assert attendance_rate(20, 3) == 0.85
    assert attendance_rate(0, 0) is None


def test_missing_exactly_10_percent_is_chronic_and_less_is_not():
    assert is_chronically_absent(10, 1)
    assert is_chronically_absent(180, 18)
    assert not is_chronically_absent(180, 17)


def test_too_few_membership_days_are_never_chronic():
    assert not is_chronically_absent(9, 9)
    assert is_chronically_absent(9, 9, min_membership_days=9)
    assert not is_chronically_absent(0, 0, min_membership_days=0)


def test_threshold_becomes_an_exact_fraction():
    assert threshold_ratio(Decimal("0.90")) == (9, 10)
    assert threshold_ratio(Decimal("0.8750")) == (7, 8)


@given(
    st.integers(1, 400),
    st.data(),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1"), places=4),
)
def test_chronic_rule_is_rate_at_or_below_threshold_computed_exactly(membership, data, threshold):
    absent = data.draw(st.integers(0, membership))
    exact_rate = Fraction(membership - absent, membership)

    assert is_chronically_absent(membership, absent, threshold=threshold, min_membership_days=1) == (
        exact_rate <= Fraction(threshold)
    )
