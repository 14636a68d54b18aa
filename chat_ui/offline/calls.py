"""How one offline answer calls tools: as the caller, through the runner, with arguments built from the slots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from chat_ui import events
from chat_ui.caller import Caller, CallOutcome, call_tool
from chat_ui.events import ChatEvent
from chat_ui.offline.intents import Question
from chat_ui.offline.names import Campus
from chat_ui.offline.periods import Period
from domain.calendar import school_year_start
from tools.catalog import ToolSpec
from tools.runner import Deps

MAX_CALLS = 6
LIST_LIMIT = 500


@dataclass
class Answer:
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


def org_targets(question: Question) -> list[Campus | None]:
    """The campuses to ask about, one call each (None: everything the caller sees)."""
    return list(question.campuses) if question.campuses and not question.all_campuses else [None]


def combinations(question: Question, *, grades: bool = True, vaccines: bool = False) -> list[tuple[Any, ...]]:
    """Every (campus, grade, vaccine) the question asks about."""
    grade_list: list[int | None] = list(question.grades) if grades and question.grades else [None]
    vaccine_list: list[str | None] = list(question.vaccines) if vaccines and question.vaccines else [None]
    return list(product(org_targets(question), grade_list, vaccine_list))


def with_org(args: dict[str, Any], campus: Campus | None) -> dict[str, Any]:
    """The arguments plus org_id when a campus was named."""
    return args | ({"org_id": campus.org_id} if campus else {})


def minimal_args(spec: ToolSpec, today: dt.date) -> dict[str, Any]:
    """The smallest valid input for a tool (attendance tools need explicit dates)."""
    fields = spec.input_model.model_fields
    return period_args(None, today) if "start_on" in fields and "end_on" in fields else {}


def period_args(period: Period | None, today: dt.date) -> dict[str, Any]:
    """Explicit dates for the attendance tools: the period asked for, else this school year so far."""
    start, end = (period.start, period.end) if period else (school_year_start(today), today)
    return {"start_on": start.isoformat(), "end_on": end.isoformat()}


def max_limit(field_info: Any) -> int:
    """A tool's largest page size, from its input field's bounds."""
    for meta in getattr(field_info, "metadata", []):
        le = getattr(meta, "le", None)
        if isinstance(le, int):
            return le
    return LIST_LIMIT
