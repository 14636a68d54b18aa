"""Pure attendance rules: the rate of a student's membership days and the chronic-absence test."""

from __future__ import annotations

from decimal import Decimal

# Missing 10% or more of membership days, the definition used in federal (ESSA) reporting.
CHRONIC_ABSENCE_THRESHOLD = Decimal("0.90")
# A student measured over fewer days is not judged: one absence in a first week is not a pattern.
MIN_MEMBERSHIP_DAYS = 10


def attendance_rate(membership_days: int, absent_days: int) -> float | None:
    """Share of membership days not absent (tardy counts as present); None with no membership."""
    if membership_days <= 0:
        return None
    return (membership_days - absent_days) / membership_days


def threshold_ratio(threshold: Decimal) -> tuple[int, int]:
    """The threshold as an exact fraction (numerator, denominator), so SQL compares integers."""
    numerator, denominator = threshold.as_integer_ratio()
    return numerator, denominator


def is_chronically_absent(
    membership_days: int,
    absent_days: int,
    *,
    threshold: Decimal = CHRONIC_ABSENCE_THRESHOLD,
    min_membership_days: int = MIN_MEMBERSHIP_DAYS,
) -> bool:
    """True when the rate is at or below `threshold` over at least `min_membership_days` days."""
    if membership_days < max(min_membership_days, 1):
        return False
    numerator, denominator = threshold_ratio(threshold)
    # rate <= n/d  <=>  (membership - absent) * d <= n * membership, exact in integers.
    return (membership_days - absent_days) * denominator <= numerator * membership_days
