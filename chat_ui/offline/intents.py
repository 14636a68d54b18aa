"""Which question it is: the question forms the offline planner answers, and reading a question into one.

A question is read once into a `Question` (its slots and a keyword score per intent); the
intent is the clear winner of those scores, else the planner asks instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any

from chat_ui.caller import Caller
from chat_ui.offline.names import (
    VOCABULARY,
    Campus,
    find_campuses,
    find_student,
    mentions_all_campuses,
    stray_proper_noun,
    unknown_place,
)
from chat_ui.offline.periods import Period, find_period
from chat_ui.offline.slots import Amount, find_amount, find_category, find_grades, find_severity, find_vaccines
from chat_ui.offline.text import clean, normalise

BALANCE_TOOL = "list_outstanding_balances"

_BY_PROGRAM = re.compile(r"\b(?:by|per|each|split by|broken down by|for each) program")
_PROGRAM_WORDS = re.compile(
    r"\b(?:camp|program|programme|robotics|summer|lab|offering|regular year|after[\s-]school)\b"
)
WRITE_VERBS = re.compile(
    r"^(?:please\s+)?(?:enroll|enrol|withdraw|transfer|re-?enroll|record|mark|delete|remove|update|change|edit|"
    r"add|set|create|register|drop|expel|suspend|approve|admit|advance|pay|refund|charge)\b"
)
FOLLOW_UP = re.compile(
    r"^(?:what|how) about\b|^(?:and|also|same|now|then|only|just|but|ok|okay)\b|\binstead\b|^(?:for|at|in)\b"
)
HELP = re.compile(
    r"^(?:help|\?|what can you do|what (?:can|do) you (?:answer|know)|what (?:can|should) i ask|how does this work|"
    r"what questions)\b"
)


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
PER_STUDENT = {"missing_immunizations", "behavior_incidents", "attendance_summary", "chronic_absence"}


def _score(low: str) -> dict[str, float]:
    """Keyword score per intent for normalised text."""
    scores: dict[str, float] = {}
    for intent in INTENTS:
        total = sum(weight for pattern, weight in intent.patterns if re.search(pattern, low))
        if total:
            scores[intent.name] = total
    return scores


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
    severity = find_severity(low)
    category = find_category(low)
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
    place = unknown_place(original, low, campuses, VOCABULARY, ignore=ignore) or stray_proper_noun(
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
        if top == "student_profile" and ranked[1][0] in PER_STUDENT:
            return ranked[1][0], []
        if ranked[1][0] == "student_profile" and top in PER_STUDENT:
            return top, []
        # "Who is enrolled" wording is generic; a specific topic wins over it.
        if top == "roster" and ranked[1][1] >= score - 0.5:
            return ranked[1][0], []
        if ranked[1][0] == "roster":
            return top, []
        return None, [name for name, _ in ranked[:3]]
    return top, []


def inherit(previous: Question, current: Question) -> Question:
    """A follow-up with its own topic ('and their immunizations?'): keep the earlier campus, grades and period."""
    changes: dict[str, Any] = {}
    for slot in ("grades", "vaccines", "campuses"):
        if not getattr(current, slot) and getattr(previous, slot) and not current.all_campuses:
            changes[slot] = getattr(previous, slot)
    for slot in ("period", "severity", "category", "amount"):
        if getattr(current, slot) is None and getattr(previous, slot) is not None:
            changes[slot] = getattr(previous, slot)
    return replace(current, **changes)


def merge(previous: Question, current: Question) -> Question:
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


# Which slots each question form can use; anything else the person said is reported, not silently dropped.
USES = {
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
