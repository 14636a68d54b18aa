"""The slots of a question that are plain values: grades, vaccines, money amounts, severities, categories.

Values are extracted from what the person wrote, never guessed: a slot that is not in the
question stays empty. Campuses and students are in `names`, dates and periods in `periods`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chat_ui.offline.text import ORDINAL_WORDS

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

# Spoken names and abbreviations -> the CDSi vaccine group the immunization tools accept.
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


# -- severity and category ------------------------------------------------------------------

SEVERITIES = (
    (re.compile(r"\bcritical\b|\bmost serious\b|\bemergenc"), "critical"),
    (re.compile(r"\bhigh(?:[\s-]?severity|[\s-]level)?\b|\bserious\b|\bsevere\b|\bmajor\b"), "high"),
    (re.compile(r"\bmedium\b|\bmoderate\b"), "medium"),
    (re.compile(r"\blow(?:[\s-]?severity)?\b|\bminor\b"), "low"),
)
CATEGORIES = (
    (re.compile(r"\bfight(?:s|ing)?\b|\bphysical altercations?\b|\bpunch"), "fighting"),
    (re.compile(r"\bbull(?:y|ying|ied|ies)\b|\bharass"), "bullying"),
    (re.compile(r"\btard(?:y|ies|iness)\b|\blate arrivals?\b"), "tardiness"),
    (re.compile(r"\bcheat(?:ing)?\b|\bplagiari[sz]|\bacademic dishonesty\b"), "academic dishonesty"),
    (re.compile(r"\bvandal|\bgraffiti\b|\bproperty damage\b"), "vandalism"),
    (re.compile(r"\bweapons?\b|\bknife|\bknives\b"), "weapons"),
    (re.compile(r"\bdefian(?:ce|t)\b|\binsubordinat"), "defiance"),
    (re.compile(r"\bdisrupt(?:ion|ive|ions)?\b"), "disruption"),
    (re.compile(r"\btechnology misuse\b|\bdevice misuse\b|\bphone misuse\b|\bmisus(?:e|ing) (?:of )?(?:tech|device|phone|laptop)"), "technology misuse"),
)  # fmt: skip


def find_severity(low: str) -> str | None:
    """The behavior severity a question names ('serious' -> 'high'), or None."""
    return next((value for pattern, value in SEVERITIES if pattern.search(low)), None)


def find_category(low: str) -> str | None:
    """The behavior category a question names ('fights' -> 'fighting'), or None."""
    return next((value for pattern, value in CATEGORIES if pattern.search(low)), None)
