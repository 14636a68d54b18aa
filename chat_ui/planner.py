"""The offline assistant: a deterministic planner that answers the common staff questions with no LLM.

It reads a question into an intent (which tool) and slots (campus, grades, vaccines, amount,
period, severity, category, a student), then calls the same catalog tools through the runner as
the signed-in person. When it is not sure, it says what it understood and offers the closest
questions it can answer instead of answering something else.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from itertools import product
from typing import Any

from chat_ui import events
from chat_ui.caller import Caller, CallOutcome, Memory, call_tool
from chat_ui.events import ChatEvent
from chat_ui.present import money
from chat_ui.understand import (
    MONTHS,
    ORDINAL_WORDS,
    VACCINE_PATTERN,
    Amount,
    Campus,
    Period,
    add_months,
    clean,
    find_amount,
    find_campuses,
    find_grades,
    find_period,
    find_vaccines,
    grade_label,
    mentions_all_campuses,
    normalise,
    school_year_start,
    unknown_place,
    words,
)
from tools.catalog import ToolSpec, load_catalog
from tools.runner import Deps, refusal_message

MAX_CALLS = 6
LIST_LIMIT = 500
BALANCE_TOOL = "list_outstanding_balances"

# -- reading the question ------------------------------------------------------------------------

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
_BY_PROGRAM = re.compile(r"\b(?:by|per|each|split by|broken down by|for each) program")
_PROGRAM_WORDS = re.compile(
    r"\b(?:camp|program|programme|robotics|summer|lab|offering|regular year|after[\s-]school)\b"
)
_WRITE_VERBS = re.compile(
    r"^(?:please\s+)?(?:enroll|enrol|withdraw|transfer|re-?enroll|record|mark|delete|remove|update|change|edit|"
    r"add|set|create|register|drop|expel|suspend|approve|admit|advance|pay|refund|charge)\b"
)
_FOLLOW_UP = re.compile(
    r"^(?:what|how) about\b|^(?:and|also|same|now|then|only|just|but|ok|okay)\b|\binstead\b|^(?:for|at|in)\b"
)
_HELP = re.compile(
    r"^(?:help|\?|what can you do|what (?:can|do) you (?:answer|know)|what (?:can|should) i ask|how does this work|"
    r"what questions)\b"
)
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


@dataclass(frozen=True)
class Question:
    """A question as the planner read it: the words, the intent scores, and the slots found."""

    text: str
    low: str
    scores: dict[str, float]
    grades: tuple[int, ...] = ()
    vaccines: tuple[str, ...] = ()
    campuses: tuple[Campus, ...] = ()
    all_campuses: bool = False
    unknown_place: str | None = None
    amount: Amount | None = None
    period: Period | None = None
    severity: str | None = None
    category: str | None = None
    student: str | None = None
    student_number: int | None = None
    by_program: bool = False
    program_words: bool = False
    withdrawn: bool = False
    intent: str | None = None

    @property
    def has_slots(self) -> bool:
        """True when the question named anything to filter by."""
        return bool(
            self.grades
            or self.vaccines
            or self.campuses
            or self.amount
            or self.period
            or self.severity
            or self.category
            or self.all_campuses
        )


@dataclass(frozen=True)
class Intent:
    """A question form the planner answers: its tool, how it is recognised, and an example."""

    name: str
    tool: str
    subject: str
    patterns: tuple[tuple[str, float], ...]
    example: str


INTENTS: tuple[Intent, ...] = (
    Intent(
        "missing_immunizations",
        "find_missing_immunizations",
        "incomplete immunization records",
        (
            (r"immuni[sz]", 3),
            (r"vaccin", 3),
            (r"\bshots?\b|\bjabs?\b|\binoculat", 2.5),
            (r"\b(?:incomplete|missing|lacking|overdue|behind|not up to date|out of compliance|non-?compliant|"
             r"need|needs|due)\b", 1),
            (r"\bcomplian", 1),
        ),
        "Show me all 5th graders with incomplete immunization records at Austin",
    ),
    Intent(
        "outstanding_balances",
        BALANCE_TOOL,
        "outstanding balances",
        (
            (r"\bbalances?\b", 3),
            (r"\bowe[sd]?\b|\bowing\b", 3),
            (r"\b(?:unpaid|overdue|past due|delinquen\w*|arrears|debts?)\b", 2),
            (r"\boutstanding\b", 1),
            (r"\btuition\b|\bfees?\b|\bbills?\b|\binvoices?\b", 1),
            (r"\bfamil(?:y|ies)\b|\bhouseholds?\b|\bparents\b", 0.5),
            (r"\bpaid\b|\bpay\b|\bpayments?\b|\bcollect", 1),
        ),
        "Which families have outstanding balances over $1,000?",
    ),
    Intent(
        "enrollment_trend",
        "enrollment_trend",
        "the enrollment trend",
        (
            (r"\btrends?\b|\btrending\b", 3),
            (r"\bby month\b|\bmonthly\b|\bmonth[\s-]by[\s-]month\b|\bper month\b|\beach month\b|\bover time\b", 2),
            (r"\benrol", 1),
            (r"\b(?:grow|grew|growth|growing|declin\w*|chang\w*|increas\w*|decreas\w*|shrink\w*|going (?:up|down)|"
             r"trajectory|over the (?:past|last))\b", 1.5),
            (r"\bchart\b|\bgraph\b|\bplot\b|\bhistory of enrol", 1.5),
        ),
        "What's our enrollment trend by month for the past year?",
    ),
    Intent(
        "chronic_absence",
        "find_chronic_absence",
        "chronic absence",
        (
            (r"\bchronic\w*", 3),
            (r"\babsentee\w*", 3),
            (r"\babsen(?:t|ces?)\b", 2),
            (r"\bmiss(?:ed|es|ing)? (?:a lot|too much|lots|many|school|class|classes|days|too many)\b", 2),
            (r"\btruan\w*|\bskipping\b", 2),
            (r"\battendance (?:problems?|issues?|concerns?|risk)\b|\bpoor attendance\b|\blow attendance\b", 3),
            (r"\b10 ?%|\b10 percent\b", 1),
        ),
        "Which students are chronically absent this year?",
    ),
    Intent(
        "attendance_summary",
        "attendance_summary",
        "attendance",
        (
            (r"\battendance\b", 2),
            (r"\battendance (?:rate|rates|summary|report|numbers|stats|statistics|percentage|overview)\b|"
             r"\brate of attendance\b|\bhow often\b.*\bpresent\b", 1.5),
            (r"\bpresent\b", 0.5),
        ),
        "What is the attendance rate at Austin this year?",
    ),
    Intent(
        "behavior_incidents",
        "list_behavior_incidents",
        "behavior incidents",
        (
            (r"\bbehaviou?r\w*", 3),
            (r"\bincidents?\b", 2),
            (r"\bdisciplin\w*", 3),
            (r"\b(?:referrals?|write-?ups?|suspensions?|detentions?|infractions?|misconduct)\b", 2),
        ),
        "List high-severity behavior incidents in the last 30 days",
    ),
    Intent(
        "roster",
        "query_roster",
        "the roster",
        (
            (r"\brosters?\b", 3),
            (r"\benrolled\b", 2),
            (r"\bclass lists?\b|\bstudent lists?\b|\blist of (?:the |all )?(?:students|kids)\b", 2),
            (r"\bwho (?:is|are) (?:in|the|enrolled|at)\b", 2),
            (r"\bhow many (?:students|kids|children|pupils|learners|\w+ graders|seniors|juniors|sophomores|freshmen|"
             r"kindergarteners)\b", 2),
            (r"\b(?:list|show|give|display|get|see|find)(?: me)?(?: all| every)?(?: of)?(?: the| our)?\s+(?:\S+\s+)?"
             r"(?:students|kids|graders|seniors|juniors|sophomores|freshmen|kindergarteners|children|pupils)\b", 2),
            (r"\bwho (?:is|are)\b", 0.5),
            (r"\bwho (?:is|are)\b.*\b(?:\w+ graders|seniors|juniors|sophomores|freshmen|kindergart\w+|students|kids)\b",
             1.5),
            (r"\bwithdr[ae]w\w*\b|\bwho left\b", 2),
            (r"\bstudents\b", 0.5),
        ),
        "Who is enrolled in 3rd grade at Miami?",
    ),
    Intent(
        "student_profile",
        "get_student",
        "a student's profile",
        (
            (r"\bprofile\b", 3),
            (r"\btell me about\b|\blook ?up\b|\bpull up\b|\bdetails (?:on|about|for)\b|\binfo(?:rmation)? (?:on|about|for)\b", 1.5),
            (r"\bwho is\b|\bwhat grade is\b|\bwhich campus is\b", 1),
        ),
        "Show the profile of a student by name",
    ),
    Intent(
        "whoami",
        "whoami",
        "your access",
        ((r"\bwho am i\b|\bmy (?:role|roles|access|permissions|scope)\b|\bwhat (?:can|may) i (?:see|access|do)\b|"
          r"\bwhat am i allowed\b", 4),),
        "What can I see?",
    ),
)  # fmt: skip
INTENTS_BY_NAME = {intent.name: intent for intent in INTENTS}
_PER_STUDENT = {"missing_immunizations", "behavior_incidents", "attendance_summary", "chronic_absence"}


def _score(low: str) -> dict[str, float]:
    """Keyword score per intent for normalised text."""
    scores: dict[str, float] = {}
    for intent in INTENTS:
        total = sum(weight for pattern, weight in intent.patterns if re.search(pattern, low))
        if total:
            scores[intent.name] = total
    return scores


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


def _stray_proper_noun(text: str, campus_spans: list[str], ignore: list[str]) -> str | None:
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


def read_question(text: str, caller: Caller, today: dt.date) -> Question:
    """Everything the planner can tell from one question, without calling any tool."""
    original = clean(text)
    low = normalise(original)
    scores = _score(low)
    vaccines = find_vaccines(low)
    campuses = find_campuses(low, caller.campuses, ignore=vaccines)
    name, number, triggered = find_student(original, low, campuses.spans)
    # A capitalised word only counts as a student when the question is about one student.
    if name and not triggered and len(name.split()) < 2 and "student_profile" not in scores:
        name = None
    if name or number:
        scores["student_profile"] = scores.get("student_profile", 0) + (2 if triggered or number else 1.5)
    grades = find_grades(low)
    period = find_period(low, today)
    if grades:
        scores["roster"] = scores.get("roster", 0) + 0.5
    severity = next((value for pattern, value in SEVERITIES if pattern.search(low)), None)
    category = next((value for pattern, value in CATEGORIES if pattern.search(low)), None)
    if category and "behavior_incidents" in scores:
        scores["behavior_incidents"] += 1
    elif category in {"fighting", "bullying", "vandalism", "weapons", "defiance", "academic dishonesty"}:
        scores["behavior_incidents"] = scores.get("behavior_incidents", 0) + 2.5
    # "Enrollment since August" asks how enrollment moved over a period: the trend.
    if period and period.start != period.end and re.search(r"\benrol", low) and not grades:
        scores["enrollment_trend"] = scores.get("enrollment_trend", 0) + 1.5
    amount = find_amount(low)
    if amount and "outstanding_balances" in scores:
        scores["outstanding_balances"] += 1
    # Vaccines named without the word "immunization" still make it an immunization question.
    if vaccines:
        scores["missing_immunizations"] = scores.get("missing_immunizations", 0) + 2
    ignore = [*vaccines, *(name.split() if name else [])]
    place = unknown_place(original, low, campuses, VOCABULARY, ignore=ignore) or _stray_proper_noun(
        original, campuses.spans, ignore
    )
    return Question(
        text=original,
        low=low,
        scores=scores,
        grades=tuple(grades),
        vaccines=tuple(vaccines),
        campuses=tuple(campuses.campuses),
        all_campuses=mentions_all_campuses(low),
        unknown_place=place,
        amount=amount,
        period=period,
        severity=severity,
        category=category,
        student=name,
        student_number=number,
        by_program=bool(_BY_PROGRAM.search(low)),
        program_words=bool(_PROGRAM_WORDS.search(low)),
        withdrawn=bool(re.search(r"\bwithdr[ae]w\w*\b|\bwho left\b", low)),
    )


def choose_intent(question: Question) -> tuple[str | None, list[str]]:
    """The intent to answer, or None with the close candidates when the question is ambiguous."""
    ranked = sorted(question.scores.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked or ranked[0][1] < 2:
        return None, [name for name, _ in ranked]
    top, score = ranked[0]
    if len(ranked) > 1 and ranked[1][1] >= 2 and score - ranked[1][1] < 1:
        # A named student plus a topic ("Maria Lopez's attendance") is a per-student topic question.
        if top == "student_profile" and ranked[1][0] in _PER_STUDENT:
            return ranked[1][0], []
        if ranked[1][0] == "student_profile" and top in _PER_STUDENT:
            return top, []
        # "Who is enrolled" wording is generic; a specific topic wins over it.
        if top == "roster" and ranked[1][1] >= score - 0.5:
            return ranked[1][0], []
        if ranked[1][0] == "roster":
            return top, []
        return None, [name for name, _ in ranked[:3]]
    return top, []


def _inherit(previous: Question, current: Question) -> Question:
    """A follow-up with its own topic ('and their immunizations?'): keep the earlier campus, grades and period."""
    changes: dict[str, Any] = {}
    for slot in ("grades", "vaccines", "campuses"):
        if not getattr(current, slot) and getattr(previous, slot) and not current.all_campuses:
            changes[slot] = getattr(previous, slot)
    for slot in ("period", "severity", "category", "amount"):
        if getattr(current, slot) is None and getattr(previous, slot) is not None:
            changes[slot] = getattr(previous, slot)
    return replace(current, **changes)


def _merge(previous: Question, current: Question) -> Question:
    """A follow-up ('what about Miami?'): the previous question with what the new one changes."""
    changes: dict[str, Any] = {"text": current.text, "low": current.low}
    for slot in ("grades", "vaccines", "campuses"):
        if getattr(current, slot):
            changes[slot] = getattr(current, slot)
    if current.all_campuses:
        changes["campuses"], changes["all_campuses"] = (), True
    for slot in ("amount", "period", "severity", "category", "unknown_place"):
        if getattr(current, slot) is not None:
            changes[slot] = getattr(current, slot)
    if current.unknown_place is None:
        changes["unknown_place"] = None
    return replace(previous, **changes)


# -- wording -----------------------------------------------------------------------------------


def grade_plural(grade: int) -> str:
    """'5th graders', 'kindergarteners', 'pre-K students'."""
    if grade == 0:
        return "kindergarteners"
    if grade == -1:
        return "pre-K students"
    return grade_label(grade).replace(" grade", " graders")


def _n(count: int, singular: str, plural: str | None = None) -> str:
    """'1 student', '3 students'."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def _when(period: Period | None, default: str = "") -> str:
    """A period as a phrase that reads after a noun: 'in the last 30 days (...)', 'since Aug 1, 2026'."""
    if period is None:
        return default
    text = period.words
    if text.startswith(("since", "this ", "last ", "today", "yesterday")):
        return text
    if " to " in text and "(" not in text:
        return f"from {text}"
    return f"in {text}"


def _where(question: Question, campus: Campus | None, caller: Caller) -> str:
    """Where an answer applies, in words: a campus, the assigned students, or every visible campus."""
    if campus is not None:
        return f"at {campus.name}"
    if caller.guide_limited:
        return "among your assigned students"
    names = [c.name for c in caller.campuses]
    if len(names) == 1:
        return f"at {names[0]}"
    return "across all campuses you can see"


def understood_items(question: Question, intent: str | None) -> list[str]:
    """The slots in words, for the 'understood' line and clarifications."""
    items: list[str] = []
    if intent:
        items.append(INTENTS_BY_NAME[intent].subject)
    items += [grade_label(g) for g in question.grades]
    items += [f"campus {c.name}" for c in question.campuses]
    if question.all_campuses:
        items.append("all campuses")
    if question.unknown_place:
        items.append(f"campus '{question.unknown_place}' (not one of yours)")
    items += [f"vaccine {v}" for v in question.vaccines]
    if question.amount and intent in {None, "outstanding_balances"}:
        items.append(question.amount.words)
    if question.period:
        items.append(question.period.words)
    if question.severity:
        items.append(f"{question.severity} severity or worse")
    if question.category:
        items.append(f"category {question.category}")
    if question.student:
        items.append(f"student '{question.student}'")
    if question.student_number:
        items.append(f"student #{question.student_number}")
    return items


def _example(intent: Intent, question: Question, caller: Caller) -> str:
    """An example question for one intent, filled with what the person already said."""
    campus = question.campuses[0].name if question.campuses else caller.default_campus
    at = f" at {campus}" if campus else ""
    grade = question.grades[0] if question.grades else None
    period = _when(question.period).split(" (")[0] if question.period else None
    if intent.name == "missing_immunizations":
        who = grade_plural(grade) if grade is not None else "5th graders"
        return f"Show me all {who} with incomplete immunization records{at}"
    if intent.name == "roster":
        return f"Who is enrolled in {grade_label(grade if grade is not None else 3)}{at}?"
    if intent.name == "enrollment_trend":
        return f"What's our enrollment trend by month {period or 'for the past year'}?"
    if intent.name == "outstanding_balances":
        return (
            f"Which families have outstanding balances {question.amount.words if question.amount else 'over $1,000'}?"
        )
    if intent.name == "chronic_absence":
        return f"Which students are chronically absent{at} {period or 'this year'}?"
    if intent.name == "attendance_summary":
        return f"What is the attendance rate{at} {period or 'this year'}?"
    if intent.name == "behavior_incidents":
        return f"List high-severity behavior incidents {period or 'in the last 30 days'}"
    if intent.name == "student_profile" and question.student:
        return f"Show the profile of {question.student}"
    return intent.example


def suggestions(caller: Caller, question: Question | None = None, prefer: list[str] | None = None) -> list[str]:
    """Up to three questions the caller can ask, closest to what they wrote first."""
    catalog = load_catalog()
    usable = [
        i
        for i in INTENTS
        if i.tool in catalog
        and i.tool in caller.tool_names
        and (i.name != "student_profile" or (question and question.student))
    ]
    if question is None:
        return [_example(i, Question(text="", low="", scores={}), caller) for i in usable[:3]]
    order = prefer or []

    def closeness(intent: Intent) -> tuple[int, float, float]:
        rank = order.index(intent.name) if intent.name in order else len(order)
        ratio = SequenceMatcher(None, question.low, intent.example.lower()).ratio()
        return rank, -question.scores.get(intent.name, 0), -ratio

    return [_example(i, question, caller) for i in sorted(usable, key=closeness)[:3]]


# -- answering ---------------------------------------------------------------------------------


@dataclass
class _Answer:
    """The events of one answer plus the sentences that summarise it."""

    caller: Caller
    deps: Deps
    today: dt.date
    sentences: list[str] = field(default_factory=list)

    def call(self, name: str, arguments: dict[str, Any]) -> Generator[ChatEvent, None, CallOutcome]:
        """Run a tool as the caller, turning refusals and failures into sentences."""
        outcome = yield from call_tool(self.deps, self.caller, name, arguments)
        if outcome.error is not None:
            if outcome.error.code == "permission_denied":
                yield events.refusal(outcome.error.message, outcome.error.audit_seq)
                self.sentences.append(f"I can't show that: {outcome.error.message}.")
            elif outcome.error.code == "not_found":
                self.sentences.append(f"Nothing you can see matched ({outcome.error.message}).")
            else:
                self.sentences.append(f"The {name} tool could not answer: {outcome.error.message}.")
        return outcome


def _org_targets(question: Question) -> list[Campus | None]:
    """The campuses to ask about, one call each (None: everything the caller sees)."""
    return list(question.campuses) if question.campuses and not question.all_campuses else [None]


def _combinations(question: Question, *, grades: bool = True, vaccines: bool = False) -> list[tuple[Any, ...]]:
    """Every (campus, grade, vaccine) the question asks about."""
    grade_list: list[int | None] = list(question.grades) if grades and question.grades else [None]
    vaccine_list: list[str | None] = list(question.vaccines) if vaccines and question.vaccines else [None]
    return list(product(_org_targets(question), grade_list, vaccine_list))


def _with_org(args: dict[str, Any], campus: Campus | None) -> dict[str, Any]:
    """The arguments plus org_id when a campus was named."""
    return args | ({"org_id": campus.org_id} if campus else {})


class Planner:
    """Answers one question at a time for one caller, remembering the last question for follow-ups."""

    def __init__(self, deps: Deps, caller: Caller, memory: Memory) -> None:
        self.deps = deps
        self.caller = caller
        self.memory = memory

    def answer(self, text: str) -> Iterator[ChatEvent]:
        """The events of the answer to `text`."""
        today = self.deps.clock()
        question = read_question(text, self.caller, today)
        if not question.low:
            yield events.clarify("Ask a question about your students.", [], suggestions(self.caller))
            return
        if _HELP.search(question.low):
            yield events.text("The offline assistant answers these kinds of questions:\n" + help_text(self.caller))
            yield events.clarify("Try one of these:", [], suggestions(self.caller))
            return
        intent, candidates = choose_intent(question)
        previous = self.memory.last_question
        if isinstance(previous, Question) and previous.intent:
            follow_up = bool(_FOLLOW_UP.search(question.low))
            if intent is None and question.has_slots and (follow_up or not candidates):
                question, intent = _merge(previous, question), previous.intent
            elif intent is not None and follow_up:
                question = _inherit(previous, question)
        if intent is None and _WRITE_VERBS.search(question.low):
            yield events.notice(
                "The offline assistant answers questions; it does not change records. Use the enrollment "
                "tools over MCP or the REST API to make changes.",
                "warning",
            )
            return
        if intent is None:
            yield from self._not_understood(question, candidates)
            return
        question = replace(question, intent=intent)
        self.memory.last_question = question
        yield events.understood(understood_items(question, intent))
        yield from self._answer(question, INTENTS_BY_NAME[intent], today)

    def _not_understood(self, question: Question, candidates: list[str]) -> Iterator[ChatEvent]:
        """Say what was understood and offer the closest questions instead of answering."""
        items = understood_items(question, None)
        if len(candidates) >= 2:
            subjects = " or ".join(INTENTS_BY_NAME[c].subject for c in candidates[:2])
            message = f"I'm not sure whether you are asking about {subjects}."
        elif items:
            message = "I understood part of your question, but not what you want to know about it."
        else:
            message = "I didn't understand that question, so I won't guess an answer."
        yield events.clarify(
            message + " Here are questions I can answer:", items, suggestions(self.caller, question, candidates)
        )

    def _answer(self, question: Question, intent: Intent, today: dt.date) -> Iterator[ChatEvent]:
        """Refuse, clarify or run the intent, then summarise."""
        catalog = load_catalog()
        spec = catalog.get(intent.tool)
        if spec is None:
            yield events.notice(f"This server has no tool for {intent.subject} yet, so I can't answer that.", "warning")
            return
        answer = _Answer(self.caller, self.deps, today)
        if intent.tool not in self.caller.tool_names:
            # Asked anyway through the runner, so the refused attempt is on the audit record too.
            outcome = yield from answer.call(intent.tool, _minimal_args(spec, today))
            if outcome.error is None or outcome.error.code != "permission_denied":
                assert spec.data_class is not None
                yield events.refusal(refusal_message(spec.data_class, spec.action))
                answer.sentences = [f"I can't show that: {refusal_message(spec.data_class, spec.action)}."]
            yield events.text(" ".join(answer.sentences))
            return
        if question.unknown_place:
            names = ", ".join(c.name for c in self.caller.campuses) or "none"
            yield events.clarify(
                f"I couldn't find a campus called '{question.unknown_place}' among the campuses you can see "
                f"({names}), so I haven't answered.",
                understood_items(question, intent.name),
                suggestions(self.caller, replace(question, unknown_place=None), [intent.name]),
            )
            return
        for message in _unused(question, intent.name):
            yield events.notice(message)
        handler = getattr(self, f"_{intent.name}")
        if intent.name in _PER_STUDENT and (question.student or question.student_number):
            handler = self._per_student
        yield from handler(question, answer)
        if answer.sentences:
            yield events.text(" ".join(answer.sentences))

    # -- per intent ----------------------------------------------------------------------------

    def _too_many(self, combos: list[tuple[Any, ...]]) -> Iterator[ChatEvent]:
        """Warn when a question would need more calls than one answer makes."""
        if len(combos) > MAX_CALLS:
            yield events.notice(
                f"That is {len(combos)} separate lists; showing the first {MAX_CALLS}. Ask for fewer grades or "
                "campuses at a time for the rest.",
                "warning",
            )

    def _missing_immunizations(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """Incomplete immunization records by campus, grade and vaccine group."""
        combos = _combinations(q, vaccines=True)
        yield from self._too_many(combos)
        for campus, grade, vaccine in combos[:MAX_CALLS]:
            args: dict[str, Any] = {"limit": LIST_LIMIT}
            if grade is not None:
                args["grade"] = grade
            if vaccine:
                args["vaccine_group"] = vaccine
            outcome = yield from a.call("find_missing_immunizations", _with_org(args, campus))
            if outcome.result is None:
                continue
            out = outcome.output
            who = grade_plural(grade) if grade is not None else "students"
            what = f"incomplete {vaccine} records" if vaccine else "incomplete immunization records"
            summary = out.get("summary", {})
            a.sentences.append(
                f"{_cap(who)} {_where(q, campus, self.caller)} with {what} as of {out['as_of']}: {out['total']} of "
                f"{summary.get('students_evaluated', 0)} evaluated (missing doses: {summary.get('missing', 0)}, "
                f"provisional: {summary.get('provisional', 0)}, exempt: {summary.get('exempt', 0)})."
            )
            for warning in out.get("warnings", []):
                yield events.notice(warning, "warning")

    def _roster(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """The roster by campus, grade and program (or withdrawals)."""
        program = None
        if q.program_words:
            program = yield from self._program(q, a)
            if program is False:
                return
        combos = _combinations(q)
        yield from self._too_many(combos)
        as_of = q.period.end if q.period and q.period.start == q.period.end else None
        for campus, grade, _ in combos[:MAX_CALLS]:
            args: dict[str, Any] = {"limit": LIST_LIMIT}
            if grade is not None:
                args["grade"] = grade
            if as_of is not None:
                args["as_of"] = as_of.isoformat()
            if q.withdrawn:
                args["status"] = "withdrawn"
            if isinstance(program, dict):
                args["program_id"] = program["id"]
            outcome = yield from a.call("query_roster", _with_org(args, campus))
            if outcome.result is None:
                continue
            out = outcome.output
            who = grade_label(grade) if grade is not None else "any grade"
            in_program = f", {program['name']}," if isinstance(program, dict) else ""
            verb = "Withdrawn by" if q.withdrawn else "Enrolled on"
            a.sentences.append(
                f"{verb} {out['as_of']} in {who}{in_program} {_where(q, campus, self.caller)}: "
                f"{_n(out['total'], 'student')}."
            )

    def _program(self, q: Question, a: _Answer) -> Generator[ChatEvent, None, dict[str, Any] | bool | None]:
        """The program a roster question names, found among the offerings the caller can see."""
        outcome = yield from a.call("list_offerings", {"limit": LIST_LIMIT})
        if outcome.result is None:
            return False
        programs = {i["program_id"]: i["program"] for i in outcome.output["items"]}
        asked = set(words(q.low)) - VOCABULARY - {"camp", "program", "programme", "lab"}
        asked |= set(words(q.low)) & {"summer", "robotics", "online", "regular", "camp", "lab"}
        best: tuple[float, str | None] = (0.0, None)
        for program_id, name in programs.items():
            name_words = set(words(name.lower())) - {"the", "of", "after", "school", "alpha"}
            overlap = len(asked & name_words) / max(1, len(name_words))
            if overlap > best[0]:
                best = (overlap, program_id)
        if best[1] is None or best[0] < 0.3:
            if re.search(r"\bcamp\b|\bprogram\b|\bprogramme\b", q.low):
                names = ", ".join(sorted(set(programs.values())))
                a.sentences.append(f"I couldn't tell which program you mean; the programs you can see are: {names}.")
                return False
            return None
        return {"id": best[1], "name": programs[best[1]]}

    def _enrollment_trend(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """Enrolled students per month over the period asked (default: the past year)."""
        start = q.period.start if q.period else add_months(a.today, -12)
        end = q.period.end if q.period else a.today
        if (end.year - start.year) * 12 + end.month - start.month > 60:
            start = add_months(end, -60)
            yield events.notice("A trend covers at most 60 months; showing the last 60.", "warning")
        for campus in _org_targets(q)[:MAX_CALLS]:
            args: dict[str, Any] = {"start_month": start.replace(day=1).isoformat(), "end_month": end.isoformat()}
            if q.by_program:
                args["by_program"] = True
            outcome = yield from a.call("enrollment_trend", _with_org(args, campus))
            if outcome.result is None:
                continue
            points = outcome.output["points"]
            totals: dict[str, int] = {}
            for point in points:
                totals[point["month"]] = totals.get(point["month"], 0) + point["active_students"]
            if not totals:
                a.sentences.append(f"No enrollment data {_where(q, campus, self.caller)} for that period.")
                continue
            months = sorted(totals)
            first, last = totals[months[0]], totals[months[-1]]
            peak = max(months, key=lambda m: totals[m])
            change = last - first
            pct = f" ({change / first * 100:+.1f}%)" if first else ""
            a.sentences.append(
                f"Enrollment {_where(q, campus, self.caller)} went from {first} in {_month(months[0])} to {last} in "
                f"{_month(months[-1])}: {change:+d}{pct}. The peak was {totals[peak]} in {_month(peak)}."
            )

    def _chronic_absence(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """Students who missed 10% or more of their school days in the period."""
        combos = _combinations(q)
        yield from self._too_many(combos)
        for campus, grade, _ in combos[:MAX_CALLS]:
            args: dict[str, Any] = {"limit": LIST_LIMIT} | _period_args(q.period, a.today)
            if grade is not None:
                args["grade"] = grade
            outcome = yield from a.call("find_chronic_absence", _with_org(args, campus))
            if outcome.result is None:
                continue
            out = outcome.output
            who = grade_plural(grade) if grade is not None else "students"
            a.sentences.append(
                f"{_cap(who)} {_where(q, campus, self.caller)} who missed 10% or more of their school days from "
                f"{out['start_on']} to {out['end_on']}: {out['total']}."
            )

    def _attendance_summary(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """Attendance rate and absences by campus and grade in the period."""
        combos = _combinations(q)
        yield from self._too_many(combos)
        for campus, grade, _ in combos[:MAX_CALLS]:
            args: dict[str, Any] = {"limit": LIST_LIMIT} | _period_args(q.period, a.today)
            if grade is not None:
                args["grade"] = grade
            outcome = yield from a.call("attendance_summary", _with_org(args, campus))
            if outcome.result is None:
                continue
            out = outcome.output
            totals = out["totals"]
            rate = totals.get("attendance_rate")
            who = grade_plural(grade) if grade is not None else "students"
            rate_words = f"{rate * 100:.1f}%" if isinstance(rate, int | float) else "not measurable (no school days)"
            a.sentences.append(
                f"Attendance of {totals['students']} {who} {_where(q, campus, self.caller)} from {out['start_on']} to "
                f"{out['end_on']} was {rate_words}, with {totals['absent_days']} days absent."
            )

    def _behavior_incidents(self, q: Question, a: _Answer, student_id: str | None = None) -> Iterator[ChatEvent]:
        """Behavior incidents by campus, period, severity and category (or for one student)."""
        for campus in _org_targets(q)[:MAX_CALLS]:
            args: dict[str, Any] = {"limit": LIST_LIMIT}
            if q.period:
                args |= {"start_on": q.period.start.isoformat(), "end_on": q.period.end.isoformat()}
            if q.severity and q.severity != "low":
                args["min_severity"] = q.severity
            if q.category:
                args["category"] = q.category
            if student_id:
                args["student_id"] = student_id
            outcome = yield from a.call("list_behavior_incidents", _with_org(args, campus))
            if outcome.result is None:
                continue
            total = outcome.output["total"]
            kind = f"{_cap(q.category)} i" if q.category else "Behavior i"
            severity = f" of {q.severity} severity or worse" if q.severity and q.severity != "low" else ""
            when = _when(q.period, "on record")
            where = "for this student" if student_id else _where(q, campus, self.caller)
            a.sentences.append(f"{kind}ncidents{severity} {where} {when}: {total}.")
            if total:
                a.sentences.append("Descriptions are written by staff and shown as they were recorded.")

    def _outstanding_balances(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """Families owing more than the amount asked, optionally only overdue ones."""
        spec = load_catalog()[BALANCE_TOOL]
        fields = spec.input_model.model_fields
        args: dict[str, Any] = {}
        if "limit" in fields:
            args["limit"] = min(LIST_LIMIT, _max_limit(fields["limit"]))
        if q.amount is not None:
            # over_cents keeps balances strictly greater than it: "$1,000 or more" is over 99,999 cents.
            args["over_cents"] = max(0, q.amount.cents - 1) if q.amount.inclusive else q.amount.cents
        if "overdue_only" in fields and re.search(r"\boverdue\b|\bpast due\b|\blate\b|\bdelinquen", q.low):
            args["overdue_only"] = True
        for campus in _org_targets(q)[:MAX_CALLS]:
            call_args = _with_org(args, campus) if "org_id" in fields else args
            outcome = yield from a.call(BALANCE_TOOL, call_args)
            if outcome.result is None:
                continue
            out = outcome.output
            threshold = q.amount.words if q.amount else "above zero"
            overdue = " and an amount past due" if args.get("overdue_only") else ""
            a.sentences.append(
                f"Families {_where(q, campus, self.caller)} with outstanding balances {threshold}{overdue} as of "
                f"{out['as_of']}: {out['total']}, owing {money(out['total_balance_cents'])} in all."
            )

    def _student_profile(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """One student's profile, found by name or student number."""
        student = yield from self._find_student(q, a)
        if student is None:
            return
        outcome = yield from a.call("get_student", {"student_id": student["id"]})
        if outcome.result is None:
            return
        out = outcome.output
        grade = grade_label(out["grade_level"])
        active = [e for e in out.get("enrollments", []) if e["status"] == "active"]
        hidden = f" Withheld for your role: {', '.join(out['hidden'])}." if out.get("hidden") else ""
        a.sentences.append(
            f"{out['first_name']} {out['last_name']} (#{out['student_number']}) is in {grade} at {out['campus']}, "
            f"with {len(active)} active enrollment{'s' if len(active) != 1 else ''}.{hidden}"
        )

    def _whoami(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """Who the caller is and what they may read."""
        outcome = yield from a.call("whoami", {})
        if outcome.result is not None:
            out = outcome.output
            readable = ", ".join(sorted(out["readable"])) or "nothing"
            a.sentences.append(f"You are {out['display_name']}; you may read {readable}.")

    def _per_student(self, q: Question, a: _Answer) -> Iterator[ChatEvent]:
        """A topic for one named student: immunizations, incidents or attendance."""
        student = yield from self._find_student(q, a)
        if student is None:
            return
        name = f"{student['first_name']} {student['last_name']}"
        if q.intent == "missing_immunizations":
            outcome = yield from a.call(
                "get_immunization_history", {"student_id": student["id"], "as_of": a.today.isoformat()}
            )
            if outcome.result is not None:
                short = [g for g in outcome.output.get("compliance") or [] if g["status"] != "compliant"]
                detail = ", ".join(f"{g['vaccine_group']} ({g['status']})" for g in short)
                a.sentences.append(
                    f"{name} has {len(outcome.output['records'])} recorded doses; "
                    + (f"short of requirements: {detail}." if short else "every required vaccine group is met.")
                )
        elif q.intent == "behavior_incidents":
            yield from self._behavior_incidents(q, a, student_id=student["id"])
        else:
            args = {"student_id": student["id"]} | _period_args(q.period, a.today)
            outcome = yield from a.call("attendance_summary", args)
            if outcome.result is not None:
                totals = outcome.output["totals"]
                rate = totals.get("attendance_rate")
                rate_words = f"{rate * 100:.1f}%" if isinstance(rate, int | float) else "not measurable"
                a.sentences.append(
                    f"{name} attended {rate_words} of {totals['membership_days']} school days from "
                    f"{outcome.output['start_on']} to {outcome.output['end_on']} ({totals['absent_days']} absent)."
                )

    def _find_student(self, q: Question, a: _Answer) -> Generator[ChatEvent, None, dict[str, Any] | None]:
        """The one student the question names, searched within what the caller may see."""
        text = str(q.student_number) if q.student_number else q.student or ""
        args: dict[str, Any] = {"text": text, "limit": 25}
        if q.campuses:
            args["org_id"] = q.campuses[0].org_id
        outcome = yield from a.call("search_students", args)
        if outcome.result is None:
            return None
        items = outcome.output["items"]
        wanted = text.lower()
        exact = [
            i
            for i in items
            if wanted in {f"{i['first_name']} {i['last_name']}".lower(), str(i["student_number"])}
            or (i.get("preferred_name") and wanted == f"{i['preferred_name']} {i['last_name']}".lower())
        ]
        if len(items) == 1 or len(exact) == 1:
            return (exact or items)[0]  # type: ignore[no-any-return]
        if not items:
            a.sentences.append(f"No student matching '{text}' is visible to you.")
            return None
        a.sentences.append(f"{outcome.output['total']} students match '{text}'; which one do you mean?")
        choices = [f"Show the profile of student #{i['student_number']}" for i in items[:3]]
        yield events.clarify(
            "Several students match; pick one:",
            understood_items(q, q.intent),
            choices,
        )
        return None


# Which slots each question form can use; anything else the person said is reported, not silently dropped.
_USES = {
    "missing_immunizations": {"grades", "vaccines", "campuses"},
    "roster": {"grades", "campuses", "period"},
    "enrollment_trend": {"campuses", "period"},
    "outstanding_balances": {"campuses", "amount"},
    "chronic_absence": {"grades", "campuses", "period"},
    "attendance_summary": {"grades", "campuses", "period"},
    "behavior_incidents": {"campuses", "period", "severity", "category"},
    "student_profile": {"campuses"},
    "whoami": set(),
}
_SLOT_WORDS = {"grades": "grade", "vaccines": "vaccine", "period": "date", "amount": "amount"}


def _unused(question: Question, intent: str) -> list[str]:
    """Notices for details the question gave that this form cannot filter by."""
    if (question.student or question.student_number) and intent in _PER_STUDENT:
        return []
    subject = INTENTS_BY_NAME[intent].subject
    uses = _USES.get(intent, set())
    return [
        f"I can't narrow {subject} by {word}, so this answer covers every {word}."
        for slot, word in _SLOT_WORDS.items()
        if getattr(question, slot) and slot not in uses
    ]


def _minimal_args(spec: ToolSpec, today: dt.date) -> dict[str, Any]:
    """The smallest valid input for a tool (attendance tools need explicit dates)."""
    fields = spec.input_model.model_fields
    return _period_args(None, today) if "start_on" in fields and "end_on" in fields else {}


def _cap(text: str) -> str:
    """The text with its first letter capitalised."""
    return text[:1].upper() + text[1:]


def _period_args(period: Period | None, today: dt.date) -> dict[str, Any]:
    """Explicit dates for the attendance tools: the period asked for, else this school year so far."""
    start, end = (period.start, period.end) if period else (school_year_start(today), today)
    return {"start_on": start.isoformat(), "end_on": end.isoformat()}


def _month(key: str) -> str:
    """'2026-10' as 'Oct 2026'."""
    year, month = key.split("-")
    return f"{calendar.month_abbr[int(month)]} {year}"


def _max_limit(field_info: Any) -> int:
    """A tool's largest page size, from its input field's bounds."""
    for meta in getattr(field_info, "metadata", []):
        le = getattr(meta, "le", None)
        if isinstance(le, int):
            return le
    return LIST_LIMIT


def help_text(caller: Caller) -> str:
    """The question forms the offline assistant answers, for the page's help."""
    lines = [
        f"- {_example(i, Question(text='', low='', scores={}), caller)}" for i in INTENTS if i.tool in caller.tool_names
    ]
    return "\n".join(lines)
