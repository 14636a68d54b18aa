"""The period a question asks about ('last 30 days', 'since August', 'the 2025-26 school year').

Relative to the runner's today; the school year's bounds come from `domain.calendar`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from domain.calendar import add_months, month_end, school_year_start

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")(?![a-z])"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?![\d])"
_DATE = (
    r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?|"
    rf"{_MONTH}\s+{_DAY}(?:,?\s*\d{{4}})?|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s*\d{{4}})?|{_MONTH}(?:\s+\d{{4}})?)"
)
_UNIT_DAYS = {"day": 1, "week": 7}


@dataclass(frozen=True)
class Period:
    """A span of days (inclusive) and how to say it."""

    start: dt.date
    end: dt.date
    words: str


def _latest_month(month: int, today: dt.date) -> int:
    """The year of the most recent `month` that has begun by `today`."""
    return today.year if month <= today.month else today.year - 1


def _fmt(day: dt.date) -> str:
    """'Nov 20, 2026'."""
    return f"{calendar.month_abbr[day.month]} {day.day}, {day.year}"


def parse_date(text: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """A date phrase as (first day, last day): a day gives one day, a month gives the whole month."""
    text = text.strip().replace(",", "")
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    try:
        if iso:
            day = dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
            return day, day
        slash = re.fullmatch(r"(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?", text)
        if slash:
            month, dom = int(slash[1]), int(slash[2])
            year = int(slash[3]) if slash[3] else _latest_month(month, today)
            year = year + 2000 if year < 100 else year
            day = dt.date(year, month, dom)
            if not slash[3] and day > today:
                day = day.replace(year=day.year - 1)
            return day, day
        parts = text.split()
        month_word = next((p for p in parts if p in MONTHS), None)
        if month_word is None:
            return None
        month = MONTHS[month_word]
        year_part = next((p for p in parts if re.fullmatch(r"\d{4}", p)), None)
        day_part = next((p for p in parts if re.fullmatch(_DAY, p)), None)
        year = int(year_part) if year_part else _latest_month(month, today)
        if day_part is None:
            first = dt.date(year, month, 1)
            return first, month_end(first)
        day = dt.date(year, month, int(re.match(r"\d+", day_part).group(0)))  # type: ignore[union-attr]
        if not year_part and day > today:
            day = day.replace(year=day.year - 1)
        return day, day
    except ValueError:
        return None


# No school record is older than this: a period reaching further back ("the last 99999999 months") starts here.
EARLIEST = dt.date(1900, 1, 1)


def _relative(amount: int, unit: str, today: dt.date) -> dt.date:
    """`amount` units before today, never before EARLIEST (however large the amount)."""
    months = amount * (12 if unit == "year" else 3 if unit == "quarter" else 6 if unit == "semester" else 1)
    days_at_most = amount * _UNIT_DAYS[unit] if unit in _UNIT_DAYS else months * 31
    if days_at_most >= (today - EARLIEST).days:
        return EARLIEST
    if unit in _UNIT_DAYS:
        return today - dt.timedelta(days=days_at_most)
    return max(EARLIEST, add_months(today, -months))


def find_period(low: str, today: dt.date) -> Period | None:
    """The period a question asks about, relative to `today`, or None when it names none."""
    m = re.search(
        rf"\b(?:between|from)\s+(?P<a>{_DATE})\s+(?:and|to|through|thru|until|till|-)\s+(?P<b>{_DATE}|now|today|date)",
        low,
    )
    if m:
        a = parse_date(m["a"], today)
        b = (today, today) if m["b"] in {"now", "today", "date"} else parse_date(m["b"], today)
        if a and b and a[0] <= b[1]:
            end = min(b[1], today)
            return Period(a[0], end, f"{_fmt(a[0])} to {_fmt(end)}")
    if re.search(
        r"\bsince (?:the )?(?:start|beginning) of (?:the |this )?(?:school )?year\b|\bsince school (?:started|began)\b",
        low,
    ):
        start = school_year_start(today)
        return Period(start, today, f"since {_fmt(start)}")
    m = re.search(rf"\b(?:since|after)\s+(?:last\s+)?(?P<a>{_DATE})", low)
    if m:
        a = parse_date(m["a"], today)
        if a and a[0] <= today:
            return Period(a[0], today, f"since {_fmt(a[0])}")
    m = re.search(
        r"\b(?:in|over|during|for|within)?\s*(?:the\s+)?(?:last|past|previous|prior)\s+(?P<n>\d+|a|an|couple(?: of)?)\s+"
        r"(?P<unit>day|week|month|year|quarter|semester)s?\b",
        low,
    )
    if m:
        count = 2 if m["n"].startswith("couple") else 1 if m["n"] in {"a", "an"} else int(m["n"])
        start = _relative(count, m["unit"], today)
        plural = "s" if count != 1 else ""
        return Period(start, today, f"the last {count} {m['unit']}{plural} ({_fmt(start)} to {_fmt(today)})")
    if re.search(r"\b(?:half a year|6 months)\b", low):
        start = add_months(today, -6)
        return Period(start, today, f"the last 6 months ({_fmt(start)} to {_fmt(today)})")
    if re.search(r"\blast school year\b|\bprevious school year\b|\bprior school year\b", low):
        start = dt.date(school_year_start(today).year - 1, 8, 1)
        end = dt.date(start.year + 1, 7, 31)
        return Period(start, end, f"last school year ({_fmt(start)} to {_fmt(end)})")
    m = re.search(r"\b(?:the\s+)?(?:last|past|previous|prior)\s+(?P<unit>day|week|month|year|quarter|semester)\b", low)
    if m:
        unit = m["unit"]
        if unit == "week" and re.search(r"\blast week\b", low):
            start = today - dt.timedelta(days=today.weekday() + 7)
            end = start + dt.timedelta(days=6)
            return Period(start, end, f"last week ({_fmt(start)} to {_fmt(end)})")
        if unit == "month" and re.search(r"\blast month\b", low) and not re.search(r"\b(?:the )?past month\b", low):
            first = add_months(today.replace(day=1), -1)
            return Period(first, month_end(first), f"last month ({calendar.month_name[first.month]} {first.year})")
        start = _relative(1, unit, today)
        return Period(start, today, f"the past {unit} ({_fmt(start)} to {_fmt(today)})")
    m = re.search(r"\b(?:school year\s+)?(?P<y>20\d\d)\s*-\s*(?:20)?(?P<z>\d\d)\b(?:\s+school year)?", low)
    if m and int(m["z"]) == (int(m["y"]) + 1) % 100:
        start = dt.date(int(m["y"]), 8, 1)
        end = min(dt.date(int(m["y"]) + 1, 7, 31), today)
        return Period(start, end, f"the {m['y']}-{m['z']} school year")
    if re.search(r"\bthis week\b", low):
        start = today - dt.timedelta(days=today.weekday())
        return Period(start, today, f"this week ({_fmt(start)} to {_fmt(today)})")
    if re.search(r"\bthis month\b|\bmonth to date\b", low):
        start = today.replace(day=1)
        return Period(start, today, f"this month ({_fmt(start)} to {_fmt(today)})")
    if re.search(r"\bthis (?:school )?year\b|\byear to date\b|\bytd\b|\bso far\b|\bthis term\b|\bthis semester\b", low):
        start = school_year_start(today)
        if re.search(r"\bthis (?:term|semester)\b", low) and today.month < 8:
            start = dt.date(today.year, 1, 1)
        return Period(start, today, f"this school year ({_fmt(start)} to {_fmt(today)})")
    if re.search(r"\btoday\b", low):
        return Period(today, today, f"today ({_fmt(today)})")
    if re.search(r"\byesterday\b", low):
        day = today - dt.timedelta(days=1)
        return Period(day, day, f"yesterday ({_fmt(day)})")
    m = re.search(rf"\b(?:in|during|for|of|on)\s+(?P<a>{_DATE})", low) or re.search(
        rf"\b(?P<a>(?!may\b|march\b){_MONTH}(?:\s+\d{{4}})?)\b", low
    )
    if m:
        a = parse_date(m["a"], today)
        if a and a[0] <= today:
            end = min(a[1], today)
            label = f"{_fmt(a[0])}" if a[0] == a[1] else f"{calendar.month_name[a[0].month]} {a[0].year}"
            return Period(a[0], end, label)
    m = re.search(r"\b(?:in|during)\s+(?P<y>20\d\d)\b", low)
    if m and int(m["y"]) <= today.year:
        start = dt.date(int(m["y"]), 1, 1)
        return Period(start, min(dt.date(start.year, 12, 31), today), m["y"])
    return None
