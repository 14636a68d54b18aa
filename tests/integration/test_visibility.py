"""One rule in every area: asking about an org answers for the part of its subtree you may see.

A campus-level persona who names its brand (Alpha Academy: Austin, Miami, Brownsville) gets
exactly what naming its own campus gets, never another campus's rows; naming a campus none of
whose subtree is visible, or an org that does not exist, is "organization not found". The same
decision holds for every tool that takes an org_id (domain/visibility.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from db.demo.calendar import DEMO_TODAY
from db.models import Organization
from tools.runner import ToolCallError, run_tool

MONTHS = {"start_month": (DEMO_TODAY - dt.timedelta(days=120)).isoformat(), "end_month": DEMO_TODAY.isoformat()}

# (persona, its campus, a campus of the same brand it may not see, tool, extra arguments)
CASES = [
    ("registrar_austin", "austin", "miami", "query_roster", {}),
    ("registrar_austin", "austin", "miami", "search_students", {"text": "a"}),
    ("registrar_austin", "austin", "miami", "list_offerings", {}),
    ("registrar_austin", "austin", "miami", "enrollment_trend", MONTHS),
    ("registrar_austin", "austin", "miami", "attendance_summary", {}),
    ("registrar_austin", "austin", "miami", "find_chronic_absence", {}),
    ("registrar_austin", "austin", "miami", "list_behavior_incidents", {}),
    ("registrar_austin", "austin", "miami", "list_events", {}),
    ("admissions_austin", "austin", "miami", "list_applications", {}),
    ("nurse_austin", "austin", "miami", "find_missing_immunizations", {}),
    ("director_miami", "miami", "austin", "find_missing_immunizations", {}),
    ("director_miami", "miami", "austin", "list_outstanding_balances", {}),
    ("director_miami", "miami", "austin", "list_billing_definitions", {}),
]
IDS = [f"{case[3]}-{case[0]}" for case in CASES]


def _org(deps: Any, slug: str) -> str:
    with deps.session_factory() as session:
        return str(session.execute(select(Organization.id).where(Organization.slug == slug)).scalar_one())


def _brand_of(deps: Any, slug: str) -> str:
    with deps.session_factory() as session:
        parent = session.execute(select(Organization.parent_id).where(Organization.slug == slug)).scalar_one()
        return str(parent)


def _answer(deps: Any, principal: Any, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return run_tool(deps, principal, tool, arguments, channel="test").data


@pytest.mark.parametrize(("who", "own", "other", "tool", "extra"), CASES, ids=IDS)
def test_naming_the_brand_answers_for_the_visible_campus_only(demo_deps, persona, who, own, other, tool, extra):
    principal = persona(who)
    by_brand = _answer(demo_deps, principal, tool, {**extra, "org_id": _brand_of(demo_deps, own)})
    by_campus = _answer(demo_deps, principal, tool, {**extra, "org_id": _org(demo_deps, own)})
    # A roster cursor is bound to the query that gave it (its org_id included): only the rows must agree.
    assert {**by_brand, "next_cursor": None} == {**by_campus, "next_cursor": None}


@pytest.mark.parametrize(("who", "own", "other", "tool", "extra"), CASES, ids=IDS)
def test_naming_an_invisible_campus_is_not_found(demo_deps, persona, who, own, other, tool, extra):
    with pytest.raises(ToolCallError) as refused:
        _answer(demo_deps, persona(who), tool, {**extra, "org_id": _org(demo_deps, other)})
    assert (refused.value.code, refused.value.field) == ("not_found", "org_id")


@pytest.mark.parametrize(("who", "own", "other", "tool", "extra"), CASES, ids=IDS)
def test_naming_an_unknown_org_is_not_found_the_same_way(demo_deps, persona, who, own, other, tool, extra):
    with pytest.raises(ToolCallError) as refused:
        _answer(demo_deps, persona(who), tool, {**extra, "org_id": str(uuid.uuid4())})
    assert (refused.value.code, refused.value.message) == ("not_found", refused.value.message)
    assert refused.value.message.startswith("organization ") and refused.value.message.endswith(" not found")


def test_the_brand_answer_is_not_empty_for_a_roster(demo_deps, persona):
    """Guards the equality above against both sides being empty."""
    principal = persona("registrar_austin")
    page = _answer(demo_deps, principal, "query_roster", {"org_id": _brand_of(demo_deps, "austin")})
    assert page["total"] > 0
    assert {item["campus"] for item in page["items"]} == {"Austin"}
