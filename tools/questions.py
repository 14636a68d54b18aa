"""The staff questions the chat page suggests and the MCP server offers as prompts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StaffQuestion:
    name: str
    title: str
    text: str
    tools: tuple[str, ...]


STAFF_QUESTIONS: tuple[StaffQuestion, ...] = (
    StaffQuestion(
        "missing_immunizations",
        "Incomplete immunization records",
        "Show me all 5th graders with incomplete immunization records at Austin",
        ("find_missing_immunizations",),
    ),
    StaffQuestion(
        "enrollment_trend",
        "Enrollment trend",
        "What's our enrollment trend by month for the past year?",
        ("enrollment_trend",),
    ),
    StaffQuestion(
        "outstanding_balances",
        "Outstanding balances",
        "Which families have outstanding balances over $1,000?",
        ("list_outstanding_balances",),
    ),
    StaffQuestion(
        "chronic_absence",
        "Chronic absence",
        "Which students are chronically absent this year?",
        ("find_chronic_absence",),
    ),
    StaffQuestion(
        "roster",
        "Roster",
        "Who is enrolled in 3rd grade at Miami?",
        ("query_roster",),
    ),
    StaffQuestion(
        "behavior",
        "Behavior incidents",
        "List high-severity behavior incidents in the last 30 days",
        ("list_behavior_incidents",),
    ),
)
