"""Pure behavior rules: the order of severities and the earliest allowed incident date."""

from __future__ import annotations

import datetime as dt

from db.models import Severity

# Lowest first; "at least high" means high and critical.
SEVERITY_ORDER: tuple[Severity, ...] = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


def severities_at_least(minimum: Severity) -> tuple[Severity, ...]:
    """The severities ranked at or above `minimum`."""
    return SEVERITY_ORDER[SEVERITY_ORDER.index(minimum) :]


def is_in_future(occurred_on: dt.date, today: dt.date) -> bool:
    """True when an incident date lies after `today` (incidents are recorded after they happen)."""
    return occurred_on > today
