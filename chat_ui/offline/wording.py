"""How the offline planner says things: grades and periods in words, what it understood, example questions."""

from __future__ import annotations

import calendar
from difflib import SequenceMatcher

from chat_ui.caller import Caller
from chat_ui.offline.intents import INTENTS, INTENTS_BY_NAME, PER_STUDENT, USES, Intent, Question
from chat_ui.offline.names import Campus
from chat_ui.offline.periods import Period
from chat_ui.offline.slots import grade_label
from tools.catalog import load_catalog

_SLOT_WORDS = {"grades": "grade", "vaccines": "vaccine", "period": "date", "amount": "amount"}


def grade_plural(grade: int) -> str:
    """'5th graders', 'kindergarteners', 'pre-K students'."""
    if grade == 0:
        return "kindergarteners"
    if grade == -1:
        return "pre-K students"
    return grade_label(grade).replace(" grade", " graders")


def count_of(count: int, singular: str, plural: str | None = None) -> str:
    """'1 student', '3 students'."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def when_phrase(period: Period | None, default: str = "") -> str:
    """A period as a phrase that reads after a noun: 'in the last 30 days (...)', 'since Aug 1, 2026'."""
    if period is None:
        return default
    text = period.words
    if text.startswith(("since", "this ", "last ", "today", "yesterday")):
        return text
    if " to " in text and "(" not in text:
        return f"from {text}"
    return f"in {text}"


def where_phrase(question: Question, campus: Campus | None, caller: Caller) -> str:
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


def example(intent: Intent, question: Question, caller: Caller) -> str:
    """An example question for one intent, filled with what the person already said."""
    campus = question.campuses[0].name if question.campuses else caller.default_campus
    at = f" at {campus}" if campus else ""
    grade = question.grades[0] if question.grades else None
    period = when_phrase(question.period).split(" (")[0] if question.period else None
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
        return [example(i, Question(text="", low="", scores={}), caller) for i in usable[:3]]
    order = prefer or []

    def closeness(intent: Intent) -> tuple[int, float, float]:
        rank = order.index(intent.name) if intent.name in order else len(order)
        ratio = SequenceMatcher(None, question.low, intent.example.lower()).ratio()
        return rank, -question.scores.get(intent.name, 0), -ratio

    return [example(i, question, caller) for i in sorted(usable, key=closeness)[:3]]


def unused_notices(question: Question, intent: str) -> list[str]:
    """Notices for details the question gave that this form cannot filter by."""
    if (question.student or question.student_number) and intent in PER_STUDENT:
        return []
    subject = INTENTS_BY_NAME[intent].subject
    uses = USES.get(intent, set())
    return [
        f"I can't narrow {subject} by {word}, so this answer covers every {word}."
        for slot, word in _SLOT_WORDS.items()
        if getattr(question, slot) and slot not in uses
    ]


def cap(text: str) -> str:
    """The text with its first letter capitalised."""
    return text[:1].upper() + text[1:]


def month_words(key: str) -> str:
    """'2026-10' as 'Oct 2026'."""
    year, month = key.split("-")
    return f"{calendar.month_abbr[int(month)]} {year}"


def help_text(caller: Caller) -> str:
    """The question forms the offline assistant answers, for the page's help."""
    lines = [
        f"- {example(i, Question(text='', low='', scores={}), caller)}" for i in INTENTS if i.tool in caller.tool_names
    ]
    return "\n".join(lines)
