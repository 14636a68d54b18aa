"""The offline assistant: a deterministic planner that answers the common staff questions with no LLM.

It reads a question into an intent (which tool) and slots (campus, grades, vaccines, amount,
period, severity, category, a student), then calls the same catalog tools through the runner as
the signed-in person. When it is not sure, it says what it understood and offers the closest
questions it can answer instead of answering something else.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import Any

from chat_ui import events
from chat_ui.caller import Caller, CallOutcome, Memory
from chat_ui.events import ChatEvent
from chat_ui.offline.calls import (
    LIST_LIMIT,
    MAX_CALLS,
    Answer,
    combinations,
    max_limit,
    minimal_args,
    org_targets,
    period_args,
    with_org,
)
from chat_ui.offline.intents import (
    BALANCE_TOOL,
    FOLLOW_UP,
    HELP,
    INTENTS_BY_NAME,
    PER_STUDENT,
    WRITE_VERBS,
    Intent,
    Question,
    choose_intent,
    inherit,
    merge,
    read_question,
)
from chat_ui.offline.names import VOCABULARY
from chat_ui.offline.slots import grade_label
from chat_ui.offline.text import words
from chat_ui.offline.wording import (
    cap,
    count_of,
    grade_plural,
    help_text,
    month_words,
    suggestions,
    understood_items,
    unused_notices,
    when_phrase,
    where_phrase,
)
from chat_ui.present import money
from domain.attendance.schemas import AttendanceSummaryPage, ChronicAbsencePage
from domain.behavior.schemas import BehaviorIncidentPage
from domain.billing.schemas import OutstandingBalancePage
from domain.calendar import add_months
from domain.enrollment.schemas import EnrollmentTrend, OfferingPage, RosterPage
from domain.health.schemas import ImmunizationHistoryRead, MissingImmunizationsPage
from domain.student.schemas import StudentPage, StudentProfile, StudentSummary
from tools.catalog import load_catalog
from tools.identity import WhoamiRead
from tools.runner import Deps, refusal_message


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
        if HELP.search(question.low):
            yield events.text("The offline assistant answers these kinds of questions:\n" + help_text(self.caller))
            yield events.clarify("Try one of these:", [], suggestions(self.caller))
            return
        intent, candidates = choose_intent(question)
        previous = self.memory.last_question
        if isinstance(previous, Question) and previous.intent:
            follow_up = bool(FOLLOW_UP.search(question.low))
            if intent is None and question.has_slots and (follow_up or not candidates):
                question, intent = merge(previous, question), previous.intent
            elif intent is not None and follow_up:
                question = inherit(previous, question)
        if intent is None and WRITE_VERBS.search(question.low):
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
        answer = Answer(self.caller, self.deps, today)
        if intent.tool not in self.caller.tool_names:
            # Asked anyway through the runner, so the refused attempt is on the audit record too.
            outcome = yield from answer.call(intent.tool, minimal_args(spec, today))
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
        for message in unused_notices(question, intent.name):
            yield events.notice(message)
        handler = getattr(self, f"_{intent.name}")
        if intent.name in PER_STUDENT and (question.student or question.student_number):
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

    def _missing_immunizations(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """Incomplete immunization records by campus, grade and vaccine group."""
        combos = combinations(q, vaccines=True)
        yield from self._too_many(combos)
        for campus, grade, vaccine in combos[:MAX_CALLS]:
            args: dict[str, Any] = {"limit": LIST_LIMIT}
            if grade is not None:
                args["grade"] = grade
            if vaccine:
                args["vaccine_group"] = vaccine
            outcome = yield from a.call("find_missing_immunizations", with_org(args, campus))
            if outcome.result is None:
                continue
            gaps = outcome.output_as(MissingImmunizationsPage)
            who = grade_plural(grade) if grade is not None else "students"
            what = f"incomplete {vaccine} records" if vaccine else "incomplete immunization records"
            summary = gaps.summary
            a.sentences.append(
                f"{cap(who)} {where_phrase(q, campus, self.caller)} with {what} as of {gaps.as_of}: {gaps.total} of "
                f"{summary.students_evaluated} evaluated (missing doses: {summary.missing}, "
                f"provisional: {summary.provisional}, exempt: {summary.exempt})."
            )
            for warning in gaps.warnings:
                yield events.notice(warning, "warning")

    def _roster(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """The roster by campus, grade and program (or withdrawals)."""
        program = None
        if q.program_words:
            program = yield from self._program(q, a)
            if program is False:
                return
        combos = combinations(q)
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
            outcome = yield from a.call("query_roster", with_org(args, campus))
            if outcome.result is None:
                continue
            roster = outcome.output_as(RosterPage)
            who = grade_label(grade) if grade is not None else "any grade"
            in_program = f", {program['name']}," if isinstance(program, dict) else ""
            verb = "Withdrawn by" if q.withdrawn else "Enrolled on"
            a.sentences.append(
                f"{verb} {roster.as_of} in {who}{in_program} {where_phrase(q, campus, self.caller)}: "
                f"{count_of(roster.total_students, 'student')}."
            )
            if roster.total_enrollments != roster.total_students:
                a.sentences.append(
                    f"They hold {count_of(roster.total_enrollments, 'enrollment')} (a student in the school year "
                    "and a camp is one student, two enrollments)."
                )

    def _program(self, q: Question, a: Answer) -> Generator[ChatEvent, None, dict[str, Any] | bool | None]:
        """The program a roster question names, found among the offerings the caller can see."""
        outcome = yield from a.call("list_offerings", {"limit": LIST_LIMIT})
        if outcome.result is None:
            return False
        programs = {str(i.program_id): i.program for i in outcome.output_as(OfferingPage).items}
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

    def _enrollment_trend(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """Enrolled students per month over the period asked (default: the past year)."""
        start = q.period.start if q.period else add_months(a.today, -12)
        end = q.period.end if q.period else a.today
        if (end.year - start.year) * 12 + end.month - start.month > 60:
            start = add_months(end, -60)
            yield events.notice("A trend covers at most 60 months; showing the last 60.", "warning")
        for campus in org_targets(q)[:MAX_CALLS]:
            args: dict[str, Any] = {"start_month": start.replace(day=1).isoformat(), "end_month": end.isoformat()}
            if q.by_program:
                args["by_program"] = True
            outcome = yield from a.call("enrollment_trend", with_org(args, campus))
            if outcome.result is None:
                continue
            totals: dict[str, int] = {}
            for point in outcome.output_as(EnrollmentTrend).points:
                totals[point.month] = totals.get(point.month, 0) + point.active_students
            if not totals:
                a.sentences.append(f"No enrollment data {where_phrase(q, campus, self.caller)} for that period.")
                continue
            months = sorted(totals)
            first, last = totals[months[0]], totals[months[-1]]
            peak = max(months, key=lambda m: totals[m])
            change = last - first
            pct = f" ({change / first * 100:+.1f}%)" if first else ""
            a.sentences.append(
                f"Enrollment {where_phrase(q, campus, self.caller)} went from {first} in {month_words(months[0])} "
                f"to {last} in {month_words(months[-1])}: {change:+d}{pct}. "
                f"The peak was {totals[peak]} in {month_words(peak)}."
            )

    def _per_campus_and_grade(
        self, q: Question, a: Answer, tool: str
    ) -> Generator[ChatEvent, None, list[tuple[Any, int | None, CallOutcome]]]:
        """Call a period tool for each campus and grade asked (at most MAX_CALLS); the answered calls, in order."""
        combos = combinations(q)
        yield from self._too_many(combos)
        answered = []
        for campus, grade, _ in combos[:MAX_CALLS]:
            args: dict[str, Any] = {"limit": LIST_LIMIT} | period_args(q.period, a.today)
            if grade is not None:
                args["grade"] = grade
            outcome = yield from a.call(tool, with_org(args, campus))
            if outcome.result is not None:
                answered.append((campus, grade, outcome))
        return answered

    def _chronic_absence(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """Students who missed 10% or more of their school days in the period."""
        answered = yield from self._per_campus_and_grade(q, a, "find_chronic_absence")
        for campus, grade, outcome in answered:
            absent = outcome.output_as(ChronicAbsencePage)
            who = grade_plural(grade) if grade is not None else "students"
            a.sentences.append(
                f"{cap(who)} {where_phrase(q, campus, self.caller)} who missed 10% or more of their school days from "
                f"{absent.start_on} to {absent.end_on}: {absent.total}."
            )

    def _attendance_summary(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """Attendance rate and absences by campus and grade in the period."""
        answered = yield from self._per_campus_and_grade(q, a, "attendance_summary")
        for campus, grade, outcome in answered:
            summary = outcome.output_as(AttendanceSummaryPage)
            totals = summary.totals
            rate = totals.attendance_rate
            who = grade_plural(grade) if grade is not None else "students"
            rate_words = f"{rate * 100:.1f}%" if isinstance(rate, int | float) else "not measurable (no school days)"
            a.sentences.append(
                f"Attendance of {totals.students} {who} {where_phrase(q, campus, self.caller)} from "
                f"{summary.start_on} to {summary.end_on} was {rate_words}, with {totals.absent_days} days absent."
            )

    def _behavior_incidents(self, q: Question, a: Answer, student_id: str | None = None) -> Iterator[ChatEvent]:
        """Behavior incidents by campus, period, severity and category (or for one student)."""
        for campus in org_targets(q)[:MAX_CALLS]:
            args: dict[str, Any] = {"limit": LIST_LIMIT}
            if q.period:
                args |= {"start_on": q.period.start.isoformat(), "end_on": q.period.end.isoformat()}
            if q.severity and q.severity != "low":
                args["min_severity"] = q.severity
            if q.category:
                args["category"] = q.category
            if student_id:
                args["student_id"] = student_id
            outcome = yield from a.call("list_behavior_incidents", with_org(args, campus))
            if outcome.result is None:
                continue
            total = outcome.output_as(BehaviorIncidentPage).total
            kind = f"{cap(q.category)} i" if q.category else "Behavior i"
            severity = f" of {q.severity} severity or worse" if q.severity and q.severity != "low" else ""
            when = when_phrase(q.period, "on record")
            where = "for this student" if student_id else where_phrase(q, campus, self.caller)
            a.sentences.append(f"{kind}ncidents{severity} {where} {when}: {total}.")
            if total:
                a.sentences.append("Descriptions are written by staff and shown as they were recorded.")

    def _outstanding_balances(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """Families owing more than the amount asked, optionally only overdue ones."""
        spec = load_catalog()[BALANCE_TOOL]
        fields = spec.input_model.model_fields
        args: dict[str, Any] = {}
        if "limit" in fields:
            args["limit"] = min(LIST_LIMIT, max_limit(fields["limit"]))
        if q.amount is not None:
            # over_cents keeps balances strictly greater than it: "$1,000 or more" is over 99,999 cents.
            args["over_cents"] = max(0, q.amount.cents - 1) if q.amount.inclusive else q.amount.cents
        if "overdue_only" in fields and re.search(r"\boverdue\b|\bpast due\b|\blate\b|\bdelinquen", q.low):
            args["overdue_only"] = True
        for campus in org_targets(q)[:MAX_CALLS]:
            call_args = with_org(args, campus) if "org_id" in fields else args
            outcome = yield from a.call(BALANCE_TOOL, call_args)
            if outcome.result is None:
                continue
            balances = outcome.output_as(OutstandingBalancePage)
            threshold = q.amount.words if q.amount else "above zero"
            overdue = " and an amount past due" if args.get("overdue_only") else ""
            a.sentences.append(
                f"Families {where_phrase(q, campus, self.caller)} with outstanding balances {threshold}{overdue} as of "
                f"{balances.as_of}: {balances.total}, owing {money(balances.total_balance_cents)} in all."
            )

    def _student_profile(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """One student's profile, found by name or student number."""
        student = yield from self._find_student(q, a)
        if student is None:
            return
        outcome = yield from a.call("get_student", {"student_id": str(student.id)})
        if outcome.result is None:
            return
        profile = outcome.output_as(StudentProfile)
        grade = grade_label(profile.grade_level)
        active = [e for e in profile.enrollments if e.status == "active"]
        hidden = f" Withheld for your role: {', '.join(profile.hidden)}." if profile.hidden else ""
        a.sentences.append(
            f"{profile.first_name} {profile.last_name} (#{profile.student_number}) is in {grade} at {profile.campus}, "
            f"with {len(active)} active enrollment{'s' if len(active) != 1 else ''}.{hidden}"
        )

    def _whoami(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """Who the caller is and what they may read."""
        outcome = yield from a.call("whoami", {})
        if outcome.result is not None:
            who = outcome.output_as(WhoamiRead)
            readable = ", ".join(sorted(who.readable)) or "nothing"
            a.sentences.append(f"You are {who.display_name}; you may read {readable}.")

    def _per_student(self, q: Question, a: Answer) -> Iterator[ChatEvent]:
        """A topic for one named student: immunizations, incidents or attendance."""
        student = yield from self._find_student(q, a)
        if student is None:
            return
        name = f"{student.first_name} {student.last_name}"
        student_id = str(student.id)
        if q.intent == "missing_immunizations":
            outcome = yield from a.call(
                "get_immunization_history", {"student_id": student_id, "as_of": a.today.isoformat()}
            )
            if outcome.result is not None:
                history = outcome.output_as(ImmunizationHistoryRead)
                short = [g for g in history.compliance or [] if g.status != "compliant"]
                detail = ", ".join(f"{g.vaccine_group} ({g.status})" for g in short)
                a.sentences.append(
                    f"{name} has {len(history.records)} recorded doses; "
                    + (f"short of requirements: {detail}." if short else "every required vaccine group is met.")
                )
        elif q.intent == "behavior_incidents":
            yield from self._behavior_incidents(q, a, student_id=student_id)
        else:
            args = {"student_id": student_id} | period_args(q.period, a.today)
            outcome = yield from a.call("attendance_summary", args)
            if outcome.result is not None:
                summary = outcome.output_as(AttendanceSummaryPage)
                totals = summary.totals
                rate = totals.attendance_rate
                rate_words = f"{rate * 100:.1f}%" if isinstance(rate, int | float) else "not measurable"
                a.sentences.append(
                    f"{name} attended {rate_words} of {totals.membership_days} school days from "
                    f"{summary.start_on} to {summary.end_on} ({totals.absent_days} absent)."
                )

    def _find_student(self, q: Question, a: Answer) -> Generator[ChatEvent, None, StudentSummary | None]:
        """The one student the question names, searched within what the caller may see."""
        text = str(q.student_number) if q.student_number else q.student or ""
        args: dict[str, Any] = {"text": text, "limit": 25}
        if q.campuses:
            args["org_id"] = q.campuses[0].org_id
        outcome = yield from a.call("search_students", args)
        if outcome.result is None:
            return None
        found = outcome.output_as(StudentPage)
        items = found.items
        wanted = text.lower()
        exact = [
            i
            for i in items
            if wanted in {f"{i.first_name} {i.last_name}".lower(), str(i.student_number)}
            or (i.preferred_name and wanted == f"{i.preferred_name} {i.last_name}".lower())
        ]
        if len(items) == 1 or len(exact) == 1:
            return (exact or items)[0]
        if not items:
            a.sentences.append(f"No student matching '{text}' is visible to you.")
            return None
        a.sentences.append(f"{found.total} students match '{text}'; which one do you mean?")
        choices = [f"Show the profile of student #{i.student_number}" for i in items[:3]]
        yield events.clarify(
            "Several students match; pick one:",
            understood_items(q, q.intent),
            choices,
        )
        return None
