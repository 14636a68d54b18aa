"""The demo's school calendar: Aug→May years with Easter-dated Good Friday, breaks and holidays.

Every demo and scale date derives from an anchor day (`DEMO_TODAY` for the tests) through these
functions, so the same anchor always yields the same school days. It is the demo's own rule (the
second Monday of August), not `domain/calendar.py`'s: `db` may not import the domain.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

DEMO_TODAY = dt.date(2026, 11, 20)


@dataclass(frozen=True)
class SchoolYear:
    """One Aug→May school year: starts on the 2nd Monday of August, ends on the last Friday of May."""

    label: str
    start_on: dt.date
    end_on: dt.date

    @property
    def first_year(self) -> int:
        """The calendar year the school year starts in."""
        return self.start_on.year


def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th given weekday (Monday=0) of a month."""
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def last_weekday(year: int, month: int, weekday: int) -> dt.date:
    """The last given weekday (Monday=0) of a month."""
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def easter_sunday(year: int) -> dt.date:
    """Western Easter (the anonymous Gregorian computus), for the Good Friday holiday."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


def school_year_starting(year: int) -> SchoolYear:
    """The school year whose first day falls in August of `year`."""
    return SchoolYear(
        label=f"{year}-{(year + 1) % 100:02d}",
        start_on=nth_weekday(year, 8, 0, 2),
        end_on=last_weekday(year + 1, 5, 4),
    )


def school_year_containing(day: dt.date) -> SchoolYear:
    """The current school year on `day`; in summer it is the year that just ended."""
    this_august = school_year_starting(day.year)
    return this_august if day >= this_august.start_on else school_year_starting(day.year - 1)


def holidays(year: SchoolYear) -> frozenset[dt.date]:
    """Weekdays without instruction: federal holidays, Thanksgiving week, winter and spring breaks."""
    y = year.first_year
    days = {
        nth_weekday(y, 9, 0, 1),  # Labor Day
        nth_weekday(y, 10, 0, 2),  # staff development day
        nth_weekday(y + 1, 1, 0, 3),  # Martin Luther King Jr. Day
        nth_weekday(y + 1, 2, 0, 3),  # Presidents' Day
        easter_sunday(y + 1) - dt.timedelta(days=2),  # Good Friday
        last_weekday(y + 1, 5, 0),  # Memorial Day
    }
    thanksgiving = nth_weekday(y, 11, 3, 4)
    days.update(thanksgiving + dt.timedelta(days=offset) for offset in range(-3, 2))
    winter = dt.date(y, 12, 21)
    days.update(winter + dt.timedelta(days=offset) for offset in range(14))
    spring = nth_weekday(y + 1, 3, 0, 2)
    days.update(spring + dt.timedelta(days=offset) for offset in range(5))
    return frozenset(days)


def instructional_days(year: SchoolYear, until: dt.date | None = None) -> list[dt.date]:
    """Weekdays of `year` that are not holidays, from its start through `until` (or its end)."""
    off = holidays(year)
    last = min(year.end_on, until) if until else year.end_on
    out: list[dt.date] = []
    day = year.start_on
    while day <= last:
        if day.weekday() < 5 and day not in off:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def birth_range(year: SchoolYear, grade: int) -> tuple[dt.date, dt.date]:
    """Birth dates of a typical student in `grade` during `year` (Texas: age 5 by Sept 1 for K)."""
    y = year.first_year
    return dt.date(y - 6 - grade, 9, 2), dt.date(y - 5 - grade, 9, 1)


def at(day: dt.date, hour: int = 15, minute: int = 0) -> dt.datetime:
    """A UTC timestamp on `day`, so row timestamps derive from dates, never the wall clock."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def random_day(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    """A day in [lo, hi]; lo when the range is empty."""
    span = (hi - lo).days
    return lo if span <= 0 else lo + dt.timedelta(days=rng.randint(0, span))


def next_weekday(day: dt.date, weekday: int) -> dt.date:
    """The first `weekday` (Monday=0) on or after `day`."""
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)
