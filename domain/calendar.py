"""School dates: the school year runs August 1 to July 31; whole-month steps clamp to the month's length.

The one home for these rules. OneRoster's school years use this boundary too (named by the year
they end in); its terms, and the demo seed's calendar with its holidays, are separate on purpose:
they describe a timetable, not "this year".
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

SCHOOL_YEAR_START_MONTH = 8
_SCHOOL_YEAR_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


def school_year_start(today: dt.date) -> dt.date:
    """August 1 of the school year containing `today` (the default start of "this year")."""
    year = today.year if today.month >= SCHOOL_YEAR_START_MONTH else today.year - 1
    return dt.date(year, SCHOOL_YEAR_START_MONTH, 1)


def school_year_label_start(label: str) -> int | None:
    """The year a school year label starts in ('2026-27' -> 2026); None unless it names two consecutive years.

    Callers word their own refusal: the label is an org's calendar, a rollover's year or a chart's.
    """
    found = _SCHOOL_YEAR_LABEL.match(label)
    if found is None or (int(found[1]) + 1) % 100 != int(found[2]):
        return None
    return int(found[1])


def school_year(first_year: int) -> tuple[dt.date, dt.date]:
    """The first and last day of the school year that starts in `first_year` (2025 -> Aug 1 2025 .. Jul 31 2026)."""
    start = dt.date(first_year, SCHOOL_YEAR_START_MONTH, 1)
    return start, add_months(start, 12) - dt.timedelta(days=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole months, clamped to the month's length (Jan 31 + 1 -> Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])
