"""Severity order and the no-future-incidents rule."""

from __future__ import annotations

import datetime as dt

from db.models import Severity
from domain.behavior.rules import is_in_future, severities_at_least


def test_severities_are_ordered_low_to_critical():
    assert severities_at_least(Severity.LOW) == (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
    assert severities_at_least(Severity.HIGH) == (Severity.HIGH, Severity.CRITICAL)
    assert severities_at_least(Severity.CRITICAL) == (Severity.CRITICAL,)


def test_every_severity_has_a_rank():
    assert set(severities_at_least(Severity.LOW)) == set(Severity)


def test_only_days_after_today_are_in_the_future():
    today = dt.date(2025, 10, 15)
    assert not is_in_future(today, today)
    assert not is_in_future(today - dt.timedelta(days=1), today)
    assert is_in_future(today + dt.timedelta(days=1), today)
