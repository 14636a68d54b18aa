"""Names in a question: the caller's campuses (typos allowed), places that are not theirs, and students.

A campus the caller cannot see is reported, not replaced; a capitalised word counts as a
student only when it is not a question word, a campus or a vaccine.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from chat_ui.offline.periods import MONTHS
from chat_ui.offline.slots import VACCINE_PATTERN
from chat_ui.offline.text import ORDINAL_WORDS, words

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


# -- students ---------------------------------------------------------------------------------

_STUDENT_NUMBER = re.compile(r"(?:\bstudent\s*(?:number|no|num|id|#)?\s*#?\s*|#\s*)(?P<n>\d{3,9})\b")
_NAME = r"[A-Za-z][A-Za-z'.-]*(?:\s+[A-Za-z][A-Za-z'.-]*){0,3}"
_NAME_TRIGGERS = (
    re.compile(
        r"\b(?:profile|record|records|file|details|info|information|history|immuni[sz]ations?|vaccines?|"
        r"vaccinations?|shots|attendance|absences|incidents|behaviou?r)\s+(?:of|for|on|about)\s+(?:the\s+)?(?:student\s+)?"
        rf"(?P<name>{_NAME})",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:tell me about|look ?up|pull up|search for|find|who is|show me|show|open|about)\s+(?:the\s+)?"
        rf"(?:student\s+)?(?P<name>{_NAME})",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?P<name>[A-Z][A-Za-z'.-]+(?:\s+[A-Z][A-Za-z'.-]+){0,2})'s?\s+(?:profile|record|file|details|info|"
        r"immuni|vaccin|shots|attendance|behaviou?r|incidents|absences|enrollment)",
    ),
)
_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z'.-]+(?:\s+[A-Z][a-z'.-]+){0,2}\b")

# Words a question is made of that never name a campus or a student.
# fmt: off
_QUESTION_WORDS = {
    "a", "about", "above", "absence", "absences", "absent", "absenteeism", "access", "across", "after", "against",
    "age", "all", "also", "am", "among", "an", "and", "any", "anyone", "are", "as", "ask", "assigned", "at",
    "attendance", "august", "avg", "average", "balance", "balances", "be", "been", "behavior", "behaviour",
    "behind", "below", "between", "breakdown", "but", "by", "camp", "campus", "campuses", "can", "case", "category",
    "change", "changed", "chart", "children", "chronic", "chronically", "class", "classes", "could", "count",
    "counts", "current", "currently", "data", "day", "days", "did", "do", "does", "doing", "done", "down", "dose",
    "doses", "due", "during", "each", "earlier", "enrolled", "enrollment", "enrollments", "every", "families",
    "family", "few", "find", "first", "for", "freshman", "freshmen", "from", "get", "give", "go", "grade",
    "graders", "grades", "graph", "group", "had", "has", "have", "high", "history", "household", "households",
    "how", "i", "if", "immunization", "immunizations", "immunisation", "immunisations", "in", "incident",
    "incidents", "incomplete", "info", "information", "is", "it", "just", "k", "kid", "kids", "kindergarten",
    "kindergarteners", "last", "late", "least", "less", "list", "listing", "lists", "look", "low", "many", "me",
    "medium", "middle", "missing", "month", "monthly", "months", "more", "most", "much", "my", "need", "needs",
    "network", "new", "no", "not", "now", "number", "numbers", "of", "on", "one", "only", "or", "other", "our",
    "out", "outstanding", "over", "owe", "owes", "owing", "past", "per", "percent", "pk", "please", "pre", "prek",
    "previous", "profile", "program", "programs", "public", "recent", "record", "records", "report", "roster",
    "rosters", "school", "schools", "see", "semester", "senior", "seniors", "severity", "show", "shots", "since",
    "so", "some", "sophomores", "student", "students", "such", "summary", "tell", "than", "that", "the", "their",
    "them", "there", "these", "they", "this", "those", "through", "to", "today", "top", "total", "trend", "trends",
    "up", "use", "vaccine", "vaccines", "vaccination", "vaccinations", "was", "we", "week", "weekly", "weeks",
    "were", "what", "when", "where", "which", "who", "whole", "why", "will", "with", "within", "without", "year",
    "yearly", "years", "yesterday", "you", "your", "elementary", "primary", "secondary", "summer", "online",
    "junior", "juniors", "dollars", "dollar", "usd", "rate", "rates", "percentage", "compare", "comparison",
    "versus", "vs", "lately", "right", "term", "quarter", "grader", "pupils", "pupil", "learners", "learner",
    "display", "pull", "open", "search", "thanks", "thank", "hello", "hi", "hey", "would", "should", "might", "may",
    "must", "shall", "file", "details", "whom", "whose", "say", "said", "us", "ours", "let", "lets", "rank",
    "ranked", "sort", "sorted", "order", "ordered", "worst", "best", "highest", "lowest", "biggest", "largest",
    "smallest", "overdue", "unpaid", "paid", "pay", "payment", "payments", "owed", "debt", "arrears", "delinquent",
    "tuition", "fees", "fee", "amount", "amounts", "totals", "exceed", "exceeding", "exceeds", "mmr", "tdap",
    "dtap", "td", "hep", "hepatitis", "polio", "varicella", "chickenpox", "meningococcal", "measles", "mumps",
    "rubella", "flu", "hib", "discipline", "disciplinary", "referral", "referrals", "serious", "severe", "critical",
    "minor", "major", "moderate", "fights", "fighting", "bullying", "tardiness", "tardy", "vandalism", "weapons",
    "defiance", "disruption", "cheating"
}
# fmt: on
VOCABULARY = {
    *MONTHS,
    *ORDINAL_WORDS,
    *(d.lower() for d in calendar.day_name),
    *(d.lower() for d in calendar.day_abbr),
    *_QUESTION_WORDS,
}


def _trim_name(raw: str, campus_spans: list[str]) -> str | None:
    """The leading words of `raw` that can be part of a person's name."""
    kept: list[str] = []
    taken = {w for span in campus_spans for w in span.split()}
    for word in raw.split():
        bare = word.strip("'.-").lower().removesuffix("'s")
        if not bare or bare in VOCABULARY or bare in taken or VACCINE_PATTERN.fullmatch(bare):
            break
        kept.append(word.strip(".").removesuffix("'s").removesuffix("'"))
    name = " ".join(kept).strip()
    return name if len(name) >= 2 else None


def find_student(text: str, low: str, campus_spans: list[str]) -> tuple[str | None, int | None, bool]:
    """A student named in the question: (name, number, named_by_a_trigger_phrase)."""
    number = _STUDENT_NUMBER.search(low)
    if number:
        return None, int(number["n"]), True
    for pattern in _NAME_TRIGGERS:
        for match in pattern.finditer(text):
            name = _trim_name(match["name"], campus_spans)
            if name:
                return name, None, True
    if not text.isupper():
        for match in _CAPITALISED_RUN.finditer(text):
            # "at Springfield" names a place, not a student.
            if re.search(r"\b(?:at|in|from)\s+(?:the\s+)?$", text[: match.start()], re.IGNORECASE):
                continue
            name = _trim_name(match.group(0), campus_spans)
            if name and len(name.split()) >= 1 and match.group(0).split()[0].lower() not in VOCABULARY:
                return name, None, False
    return None, None, False


def stray_proper_noun(text: str, campus_spans: list[str], ignore: list[str]) -> str | None:
    """A capitalised word that is not a campus of the caller's, a student or a question word ("Austin's
    kindergarteners" asked by someone who cannot see Austin): reported rather than silently dropped."""
    if text.isupper():
        return None
    skipped = {w.lower() for w in ignore} | {w for span in campus_spans for w in span.split()}
    for match in _CAPITALISED_RUN.finditer(text):
        for word in match.group(0).split():
            bare = word.strip("'.-").lower().removesuffix("'s").removesuffix("'")
            if bare and bare not in VOCABULARY and bare not in skipped and not VACCINE_PATTERN.fullmatch(bare):
                return word.strip("'.-").removesuffix("'s").removesuffix("'")
    return None
