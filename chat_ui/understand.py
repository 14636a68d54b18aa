"""Reading a staff question: normalised text and the slots in it (campus, grades, vaccines, amount, period).

Everything here is pure and deterministic so that the offline planner can be tested without a
database. Values are extracted from what the person wrote, never guessed: a slot that is not in
the question stays empty, and a campus the caller cannot see is reported, not replaced.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

# -- normalisation -----------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_CONTRACTIONS = (
    (r"\bwhat's\b", "what is"),
    (r"\bwho's\b", "who is"),
    (r"\bhow's\b", "how is"),
    (r"\bwhere's\b", "where is"),
    (r"\bthat's\b", "that is"),
    (r"\bthere's\b", "there is"),
    (r"\bit's\b", "it is"),
    (r"\blet's\b", "let us"),
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "cannot"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'ve\b", " have"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (r"'s\b", ""),
    (r"s'(?=\s|$)", "s"),
)
_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "(?:" + "|".join(sorted([*_UNITS, *_SCALES], key=len, reverse=True)) + ")"
_NUMBER_SPAN = re.compile(
    rf"\b(?:an?\s+(?=(?:hundred|thousand|million)\b))?{_NUMBER_WORD}(?:(?:\s+and\s+|[\s-]+){_NUMBER_WORD})*\b"
)
ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}


def _number_value(words: str) -> int:
    """The value of a run of number words ('two thousand five hundred' -> 2500)."""
    total, current = 0, 0
    for word in re.findall(r"[a-z]+", words):
        if word in _UNITS:
            current += _UNITS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def words_to_numbers(text: str) -> str:
    """'a thousand dollars' -> '1000 dollars', 'last six months' -> 'last 6 months' (lower-case input)."""
    return _NUMBER_SPAN.sub(lambda m: str(_number_value(m.group(0))), text)


def clean(text: str) -> str:
    """Unicode-normalised text with straight quotes and single spaces, case kept (for names)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return re.sub(r"\s+", " ", text).strip()


def normalise(text: str) -> str:
    """Lower-case text with contractions expanded, number words as digits and no stray punctuation."""
    low = clean(text).lower()
    for pattern, replacement in _CONTRACTIONS:
        low = re.sub(pattern, replacement, low)
    low = words_to_numbers(low)
    # Keep what numbers, money, dates and hyphenated words need; everything else separates words.
    low = re.sub(r"[^a-z0-9$%,./\-+&#\s]", " ", low)
    low = re.sub(r"(?<!\d)[,.](?!\d)", " ", low)
    return re.sub(r"\s+", " ", low).strip()


def words(low: str) -> list[str]:
    """The alphanumeric words of normalised text."""
    return re.findall(r"[a-z0-9]+", low)


# -- grades ----------------------------------------------------------------------------------

GRADE_NAMES = {-1: "pre-K", 0: "kindergarten"}
_ORDINAL = r"(?:\d{1,2}(?:st|nd|rd|th)?|" + "|".join(ORDINAL_WORDS) + r"|k)"
_GRADE_LIST = re.compile(rf"\b(?P<list>{_ORDINAL}(?:\s*(?:,|and|or|&|/)\s*{_ORDINAL})*)[\s-]*grade(?:rs?|s)?\b")
_GRADE_AFTER = re.compile(r"\bgrades?(?:\s+level)?\s+(?P<a>\d{1,2}|k)(?:\s*(?:-|to|through|thru)\s*(?P<b>\d{1,2}))?\b")
_GRADE_WORDS = (
    (re.compile(r"\bpre-?k(?:indergarten)?(?:ers?)?\b|\bpre-?school(?:ers?)?\b|\bprekindergarten\b"), -1),
    (re.compile(r"(?<!pre-)(?<!pre )\bkinder(?:garten|gartners?|garteners?|gartens?|s)?\b"), 0),
    (re.compile(r"\bseniors?\b"), 12),
    (re.compile(r"\bjuniors?\b(?!\s+high)"), 11),
    (re.compile(r"\bsophomores?\b"), 10),
    (re.compile(r"\bfreshm[ae]n\b|\bfreshies\b"), 9),
)


def _grade_token(token: str) -> int | None:
    """A grade from one token ('5th', 'fifth', 'k'), or None."""
    token = token.strip()
    if token == "k":
        return 0
    if token in ORDINAL_WORDS:
        return ORDINAL_WORDS[token]
    digits = re.match(r"\d{1,2}", token)
    if digits is None:
        return None
    value = int(digits.group(0))
    return value if 1 <= value <= 12 else None


def find_grades(low: str) -> list[int]:
    """Grades named in the question, in order: '5th graders' -> [5], 'seniors' -> [12], 'kindergarteners' -> [0]."""
    found: list[tuple[int, int]] = []
    for match in _GRADE_LIST.finditer(low):
        for token in re.split(r"\s*(?:,|and|or|&|/)\s*", match.group("list")):
            grade = _grade_token(token)
            if grade is not None:
                found.append((match.start(), grade))
    for match in _GRADE_AFTER.finditer(low):
        first = _grade_token(match.group("a"))
        last = _grade_token(match.group("b")) if match.group("b") else None
        if first is not None:
            span = range(first, (last if last is not None and last >= first else first) + 1)
            found += [(match.start(), g) for g in span]
    for pattern, grade in _GRADE_WORDS:
        found += [(m.start(), grade) for m in pattern.finditer(low)]
    ordered: list[int] = []
    for _, grade in sorted(found):
        if grade not in ordered:
            ordered.append(grade)
    return ordered


def grade_label(grade: int) -> str:
    """'5th grade', 'kindergarten', 'pre-K'."""
    if grade in GRADE_NAMES:
        return GRADE_NAMES[grade]
    suffix = "th" if 10 <= grade % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(grade % 10, "th")
    return f"{grade}{suffix} grade"


# -- vaccines --------------------------------------------------------------------------------

# Spoken names and abbreviations -> the CDSi vaccine group the health tools accept.
VACCINE_ALIASES: tuple[tuple[str, str], ...] = (
    (r"\bmmr\b|\bmeasles\b|\bmumps\b|\brubella\b", "MMR"),
    (r"\bvaricella\b|\bchicken[\s-]?pox\b|\bvzv\b|\bvar\b", "Varicella"),
    (
        r"\bt-?dap\b|\bdtap\b|\bdtp\b|\btd\b|\btetanus\b|\bdiphth?eria\b|\bpertussis\b|\bwhooping cough\b",
        "DTaP/Tdap/Td",
    ),
    (r"\bmening\w*\b|\bmen-?acwy\b|\bmcv4\b|\bmenactra\b|\bmenveo\b|\bmenquadfi\b", "Meningococcal"),
    (r"\bhep(?:atitis)?[\s-]?b\b|\bhbv\b", "HepB"),
    (r"\bhep(?:atitis)?[\s-]?a\b|\bhav\b", "HepA"),
    (r"\bpolio\w*\b|\bipv\b|\bopv\b", "Polio"),
    (r"\bhib\b|\bhaemophilus\b", "Hib"),
    (r"\bpneumococcal\b|\bpcv\d*\b", "Pneumococcal"),
    (r"\bflu\b|\binfluenza\b", "Influenza"),
    (r"\bhpv\b|\bpapilloma\w*\b", "HPV"),
)
VACCINE_PATTERN = re.compile("|".join(f"(?:{p})" for p, _ in VACCINE_ALIASES))


def find_vaccines(low: str) -> list[str]:
    """CDSi vaccine groups named in the question, in order ('chickenpox' -> 'Varicella', 'hep B' -> 'HepB')."""
    found: list[tuple[int, str]] = []
    for pattern, group in VACCINE_ALIASES:
        found += [(m.start(), group) for m in re.finditer(pattern, low)]
    ordered: list[str] = []
    for _, group in sorted(found):
        if group not in ordered:
            ordered.append(group)
    return ordered


# -- money -----------------------------------------------------------------------------------

_AMOUNT = re.compile(
    r"(?P<cmp>more than|greater than|bigger than|larger than|higher than|in excess of|upwards of|north of|"
    r"no less than|at least|over|above|exceeding|exceeds?|beyond|>=|>)?\s*"
    r"(?P<dollar>\$)?\s*(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)\s*"
    r"(?P<unit>k\b|thousand\b|grand\b|m\b|mil\b|million\b)?\s*(?P<cur>dollars?\b|usd\b|bucks\b)?"
    r"(?P<tail>\s*(?:or more|or above|or higher|and up|and above|plus|\+))?"
)
_NOT_MONEY_AFTER = re.compile(r"\s*(?:%|percent|days?|weeks?|months?|years?|st\b|nd\b|rd\b|th\b|grade|students?)")
_SCALE = {"k": 1000, "thousand": 1000, "grand": 1000, "m": 1_000_000, "mil": 1_000_000, "million": 1_000_000}


@dataclass(frozen=True)
class Amount:
    """A money threshold in cents; inclusive for "or more" and "at least"."""

    cents: int
    inclusive: bool

    @property
    def words(self) -> str:
        """'over $1,000' or '$1,000 or more'."""
        dollars = f"${self.cents / 100:,.2f}".removesuffix(".00")
        return f"{dollars} or more" if self.inclusive else f"over {dollars}"


def find_amount(low: str) -> Amount | None:
    """A money threshold: '$1,000', '1k', 'a thousand dollars', 'over 1000', '$2.5k or more'."""
    for match in _AMOUNT.finditer(low):
        if not match.group("num"):
            continue
        money_marked = bool(match.group("dollar") or match.group("unit") or match.group("cur"))
        if not money_marked and not (match.group("cmp") or match.group("tail")):
            continue
        if _NOT_MONEY_AFTER.match(low, match.end("num")) and not money_marked:
            continue
        value = float(match.group("num").replace(",", "")) * _SCALE.get(match.group("unit") or "", 1)
        inclusive = bool(match.group("tail")) or (match.group("cmp") or "") in {"at least", "no less than", ">="}
        return Amount(cents=round(value * 100), inclusive=inclusive)
    return None


# -- dates and periods ---------------------------------------------------------------------------

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


def school_year_start(today: dt.date) -> dt.date:
    """August 1 of the school year containing `today`."""
    return dt.date(today.year if today.month >= 8 else today.year - 1, 8, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole months, clamped to the month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


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


def _relative(amount: int, unit: str, today: dt.date) -> dt.date:
    """`amount` units before today."""
    if unit in _UNIT_DAYS:
        return today - dt.timedelta(days=amount * _UNIT_DAYS[unit])
    months = amount * (12 if unit == "year" else 3 if unit == "quarter" else 6 if unit == "semester" else 1)
    return add_months(today, -months)


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


# -- campuses --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Campus:
    """A campus the caller may see (from whoami)."""

    org_id: str
    name: str
    path: str

    @property
    def slug(self) -> str:
        """The last segment of the campus's path ('san-antonio')."""
        return [p for p in self.path.split("/") if p][-1]


_GENERIC_ORG_WORDS = {"alpha", "school", "schools", "preparatory", "prep", "academy", "campus", "the", "of", "and"}
# Words that read like campus names but are ordinary question words.
_NOT_PLACES = {
    "least", "most", "all", "any", "risk", "home", "school", "our", "my", "this", "each", "every", "the", "a", "an",
    "some", "which", "what", "that", "these", "those", "once", "campus", "campuses", "grade", "and", "or", "your",
    "their", "his", "her", "its", "large", "network", "present", "moment", "times", "time", "first", "last", "end",
    "start", "beginning", "minimum", "maximum", "same", "one", "two", "us", "me", "it", "them", "him", "lunch",
    "recess", "today", "yesterday", "night", "noon", "too", "much", "very", "still", "yet", "already", "ever",
    "never", "again", "really",
}  # fmt: skip


def campus_aliases(campus: Campus) -> set[str]:
    """Ways a person names a campus: its name, its slug, and its name without generic words."""
    name = campus.name.lower()
    aliases = {name, campus.slug.replace("-", " ")}
    core = " ".join(w for w in re.findall(r"[a-z0-9]+", name) if w not in _GENERIC_ORG_WORDS)
    if len(core) >= 3:
        aliases.add(core)
    return aliases


def _similar(a: str, b: str) -> float:
    """Similarity of two strings, 0..1."""
    return SequenceMatcher(None, a, b).ratio()


@dataclass
class CampusMatch:
    """Campuses found in a question and the words that named them."""

    campuses: list[Campus] = field(default_factory=list)
    spans: list[str] = field(default_factory=list)


def find_campuses(low: str, campuses: Sequence[Campus], *, ignore: Iterable[str] = ()) -> CampusMatch:
    """Campuses named in the question, exactly or with a small typo ('Austn'), from the caller's own list."""
    tokens = words(low)
    skip = {w for phrase in ignore for w in words(phrase)}
    taken = [False] * len(tokens)
    result = CampusMatch()
    by_alias = [(alias, c) for c in campuses for alias in campus_aliases(c)]
    for size in (3, 2, 1):
        for i in range(len(tokens) - size + 1):
            if any(taken[i : i + size]) or any(t in skip for t in tokens[i : i + size]):
                continue
            phrase = " ".join(tokens[i : i + size])
            best: tuple[float, Campus | None] = (0.0, None)
            for alias, campus in by_alias:
                if len(alias.split()) != size:
                    continue
                score = 1.0 if phrase == alias else 0.0
                # A typo must keep the first letter and a similar length: 'austn' is Austin, 'house' is not Houston.
                if not score and len(phrase) >= 4 and phrase[0] == alias[0] and phrase not in _NOT_PLACES:
                    score = _similar(phrase, alias)
                if score > best[0]:
                    best = (score, campus)
            if best[1] is not None and best[0] >= 0.85:
                taken[i : i + size] = [True] * size
                if best[1] not in result.campuses:
                    result.campuses.append(best[1])
                result.spans.append(phrase)
    return result


ALL_CAMPUSES = re.compile(
    r"\b(?:all|every|each|across|whole)\s+(?:of\s+)?(?:the\s+|our\s+)?(?:campuses|schools|network|campus|school)\b|"
    r"\bnetwork[\s-]?wide\b|\beverywhere\b|\bacross the network\b|\bin the network\b"
)


def mentions_all_campuses(low: str) -> bool:
    """True for 'across all campuses', 'network-wide' and the like."""
    return bool(ALL_CAMPUSES.search(low))


_PLACE_AFTER = re.compile(r"\b(?:at|in|from|for)\s+(?:the\s+)?(?P<name>[A-Z][A-Za-z'.-]+(?:\s+[A-Z][A-Za-z'.-]+){0,2})")
_PLACE_BEFORE_CAMPUS = re.compile(
    r"\b(?P<name>[A-Za-z][A-Za-z'.-]+)\s+[Cc]ampus\b|\b(?P<school>[A-Z][A-Za-z'.-]+(?:\s+[A-Z][A-Za-z'.-]+)?)\s+School\b"
)
_LOWER_AT = re.compile(r"\bat\s+(?:the\s+)?(?P<name>[a-z][a-z'-]+(?:\s+[a-z][a-z'-]+)?)")


def unknown_place(
    text: str, low: str, known: CampusMatch, vocabulary: set[str], *, ignore: Iterable[str] = ()
) -> str | None:
    """A place the question names that is not one of the caller's campuses ('at Miami' for an Austin registrar)."""
    ignored = {w for phrase in ignore for w in words(phrase.lower())}
    matched = {w for span in known.spans for w in span.split()}
    candidates: list[str] = []
    source = text if not text.isupper() else text.lower()
    candidates += [m["name"] for m in _PLACE_AFTER.finditer(source)]
    candidates += [m["name"] or m["school"] for m in _PLACE_BEFORE_CAMPUS.finditer(source)]
    candidates += [m["name"] for m in _LOWER_AT.finditer(low)]
    for name in candidates:
        kept = [w for w in words(name.lower()) if w not in vocabulary and w not in _NOT_PLACES]
        kept = [w for w in kept if w not in matched and w not in ignored and not w.isdigit()]
        if not kept:
            continue
        # Keep the leading run of unknown words ('Miami' from 'Miami campus').
        return " ".join(w.capitalize() for w in kept[:3])
    return None
