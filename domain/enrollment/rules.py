"""Pure enrollment rules: stints in one offering never overlap; seats are counted per day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FAR_FUTURE = dt.date.max


@dataclass(frozen=True)
class Stint:
    start_on: dt.date
    end_on: dt.date | None

    @property
    def last_day(self) -> dt.date:
        return self.end_on or FAR_FUTURE


def overlaps(a: Stint, b: Stint) -> bool:
    """True when two stints share at least one day (an open end runs forever)."""
    return a.start_on <= b.last_day and b.start_on <= a.last_day


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of every month from start's month to end's month, inclusive."""
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
