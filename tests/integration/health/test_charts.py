"""Immunization requirements as data, through the runner: versioned charts, who may define them, bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from db.models import ChangeEvent, ImmunizationRequirement, Organization
from db.reference.immunization_requirements import fl_requirement_rows
from policies.principal import AuthMethod
from tools.runner import ToolCallError, run_tool

FL_URL = "https://www.flrules.org/gateway/ruleNo.asp?id=64D-3.046"


def _hepb(year: str, doses: int, **extra) -> dict:
    return {
        "jurisdiction": "US-FL",
        "effective_school_year": year,
        "grade_min": 0,
        "grade_max": 12,
        "vaccine_group": "HepB",
        "antigen": "HepB",
        "min_doses": doses,
        "conditions": {"evidence": ["serology"]},
        "source_url": FL_URL,
        **extra,
    }


def _rows(deps) -> int:
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(ImmunizationRequirement)).scalar_one()


def _hepb_missing(deps, principal) -> int:
    with deps.session_factory() as s:
        miami = str(s.execute(select(Organization.id).where(Organization.slug == "miami")).scalar_one())
    page = run_tool(
        deps, principal, "find_missing_immunizations", {"org_id": miami, "vaccine_group": "HepB", "limit": 500}
    ).data
    assert page["warnings"] == []
    return page["summary"]["missing"]


def test_a_new_school_years_rule_starts_a_version_that_carries_the_chart_forward_and_applies_at_once(
    demo_deps, persona
):
    admin = persona("network_admin")
    before = _hepb_missing(demo_deps, admin)  # fills the rules cache under the current version
    defined = run_tool(demo_deps, admin, "define_immunization_requirement", _hepb("2026-27", 4)).data
    assert defined["created_chart"] and defined["copied_from_school_year"] == "2024-25" and defined["replaced_row"]
    chart = defined["chart"]
    assert chart["jurisdiction"] == "FL" and chart["in_effect_on"] is not None
    assert len(chart["rows"]) == len(fl_requirement_rows())
    assert {r["jurisdiction"] for r in chart["rows"]} == {"FL"}
    assert next(r for r in chart["rows"] if r["antigen"] == "HepB")["min_doses"] == 4
    with demo_deps.session_factory() as s:
        events = s.execute(
            select(ChangeEvent.field, ChangeEvent.new_value).where(
                ChangeEvent.entity_type == "immunization_requirement",
                ChangeEvent.entity_id == defined["requirement"]["id"],
            )
        ).all()
    assert ("min_doses", "4") in events and ("effective_school_year", "2026-27") in events
    assert _hepb_missing(demo_deps, admin) > before, "the cached 3-dose rule set was not reused"
    # The older version is kept: the chart of 2024-25 still reads as it was.
    old = run_tool(
        demo_deps, admin, "list_immunization_requirements", {"jurisdiction": "FL", "effective_school_year": "2024-25"}
    ).data
    assert next(r for r in old["rows"] if r["antigen"] == "HepB")["min_doses"] == 3 and old["in_effect_on"] is None


def test_a_chart_for_a_later_school_year_does_not_apply_yet(demo_deps, persona):
    admin = persona("network_admin")
    before = _hepb_missing(demo_deps, admin)
    run_tool(demo_deps, admin, "define_immunization_requirement", _hepb("2027-28", 4))
    assert _hepb_missing(demo_deps, admin) == before
    current = run_tool(demo_deps, admin, "list_immunization_requirements", {"jurisdiction": "US-FL"}).data
    assert current["effective_school_year"] == "2024-25" and current["in_effect_on"]


def test_defining_a_row_again_changes_it_in_place(demo_deps, persona):
    admin = persona("network_admin")
    first = run_tool(demo_deps, admin, "define_immunization_requirement", _hepb("2027-28", 4)).data
    rows = _rows(demo_deps)
    second = run_tool(demo_deps, admin, "define_immunization_requirement", _hepb("2027-28", 2)).data
    assert not second["created_chart"] and second["replaced_row"]
    assert second["requirement"]["id"] == first["requirement"]["id"] and second["requirement"]["min_doses"] == 2
    assert _rows(demo_deps) == rows


@pytest.mark.parametrize("name", ["registrar_austin", "nurse_austin", "director_miami", "guide_austin"])
def test_only_a_network_level_grant_may_define_requirements(demo_deps, persona, name):
    rows = _rows(demo_deps)
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona(name), "define_immunization_requirement", _hepb("2026-27", 4))
    assert refused.value.code == "permission_denied"
    assert _rows(demo_deps) == rows


def test_a_read_only_key_cannot_define_requirements(demo_deps, persona):
    keyed = replace(persona("network_admin"), auth_method=AuthMethod.API_KEY, token_scopes=("sis.read",))
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, keyed, "define_immunization_requirement", _hepb("2026-27", 4))
    assert refused.value.code == "permission_denied"
    assert run_tool(demo_deps, keyed, "list_immunization_requirements", {"jurisdiction": "TX"}).data["rows"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"conditions": {"min_dose": 3}}, "conditions"),
        ({"conditions": {"booster": {"within": "5 years"}}}, "conditions"),
        ({"antigen": "Measles"}, None),
        ({"grade_min": 5, "grade_max": 2}, None),
        ({"effective_school_year": "2026"}, "effective_school_year"),
        ({"effective_school_year": "2026-28"}, "effective_school_year"),
        ({"jurisdiction": "Florida"}, "jurisdiction"),
        ({"source_url": "see the rule book"}, "source_url"),
        ({"vaccine_group": "Flu shots"}, "vaccine_group"),
        ({"min_doses": 0}, "min_doses"),
        ({"vaccine_group": "Polio", "antigen": "Polio", "grade_min": 0, "grade_max": 3, "conditions": {}}, "grade_min"),
    ],
)
def test_bad_definitions_are_clear_errors_and_write_nothing(demo_deps, persona, changes, field):
    rows = _rows(demo_deps)
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona("network_admin"), "define_immunization_requirement", _hepb("2024-25", 3) | changes)
    assert refused.value.code == "invalid_input" and refused.value.message
    if field is not None:
        assert refused.value.field == field
    assert _rows(demo_deps) == rows


def test_an_unknown_jurisdiction_or_school_year_is_not_found(demo_deps, persona):
    nurse = persona("nurse_austin")
    with pytest.raises(ToolCallError) as unknown:
        run_tool(demo_deps, nurse, "list_immunization_requirements", {"jurisdiction": "US-OR"})
    assert (unknown.value.code, unknown.value.field) == ("not_found", "jurisdiction")
    with pytest.raises(ToolCallError) as no_year:
        run_tool(
            demo_deps,
            nurse,
            "list_immunization_requirements",
            {"jurisdiction": "TX", "effective_school_year": "2030-31"},
        )
    assert (no_year.value.code, no_year.value.field) == ("not_found", "effective_school_year")
