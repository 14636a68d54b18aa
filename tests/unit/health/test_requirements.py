"""Requirement rows as rules: which rows apply to a grade, and the conditions format (immunizations.md §1)."""

from __future__ import annotations

import datetime as dt

import pytest

from db.reference.immunization_requirements import fl_requirement_rows, tx_requirement_rows
from domain.health.requirements import (
    RequirementDataError,
    RequirementRule,
    condition_problems,
    current_rules,
    jurisdiction_key,
    jurisdiction_spellings,
    school_year_starts,
)

TX = [RequirementRule.of(row) for row in tx_requirement_rows()]


# -- which rows apply --------------------------------------------------------------------------------------


def test_newest_school_year_replaces_older_rows() -> None:
    old = RequirementRule("HepB", "HepB", 3, {}, 0, 12, "2023-24")
    new = RequirementRule("HepB", "HepB", 2, {}, 0, 12, "2025-26")
    assert current_rules([old, new], 5) == [new]


def test_a_chart_applies_from_the_start_of_its_school_year_not_before() -> None:
    old = RequirementRule("HepB", "HepB", 3, {}, 0, 12, "2024-25")
    new = RequirementRule("HepB", "HepB", 2, {}, 0, 12, "2026-27")
    assert current_rules([old, new], 5, dt.date(2026, 7, 31)) == [old]
    assert current_rules([old, new], 5, dt.date(2026, 8, 1)) == [new]
    # Before the first chart's year, the first chart is the best rule known.
    assert current_rules([old, new], 5, dt.date(2020, 1, 1)) == [old]


@pytest.mark.parametrize("code", ["FL", "US-FL", "us-fl", " FL "])
def test_a_state_is_the_same_jurisdiction_in_both_spellings(code: str) -> None:
    assert jurisdiction_key(code) == "FL"
    assert set(jurisdiction_spellings(code)) == {"FL", "US-FL"}


def test_a_non_state_code_is_kept_as_it_is() -> None:
    assert jurisdiction_key("ca-on") == "CA-ON" and jurisdiction_spellings("CA-ON") == ("CA-ON",)


@pytest.mark.parametrize("label", ["2024", "2024-26", "24-25", "2024/25"])
def test_a_school_year_label_names_two_consecutive_years(label: str) -> None:
    with pytest.raises(ValueError, match="school year"):
        school_year_starts(label)


def test_every_florida_row_has_well_formed_conditions() -> None:
    for row in fl_requirement_rows():
        assert condition_problems(row.conditions) == [], row.antigen


def test_no_rows_apply_to_pre_k_in_the_texas_table() -> None:
    assert current_rules(TX, -1) == []


# -- the conditions format -------------------------------------------------------------------------------


def test_every_texas_row_has_well_formed_conditions() -> None:
    for row in tx_requirement_rows():
        assert condition_problems(row.conditions) == [], row.antigen


def test_misspelt_condition_keys_are_reported_not_ignored() -> None:
    problems = condition_problems(
        {
            "min_dose": 3,
            "min_age": "one year",
            "age_constraints": [{"count": 1, "on_or_after_age": "4 years"}],
            "alternatives": [{"doses": 4}],
            "booster": {"within": "5 years"},
        }
    )
    assert problems == [
        "unknown key 'min_dose'",
        "min_age: 'one year' is not an age such as '4 years'",
        "age_constraints[0]: expected {count_at_least|dose, on_or_after_age}",
        "alternatives[0]: expected min_doses with optional from_student_age, age_constraints",
        "booster: expected antigen, and optional within, cvx_in, product_in",
    ]


def test_a_row_with_malformed_conditions_cannot_become_a_rule() -> None:
    row = tx_requirement_rows()[0]
    row.conditions = {"min_age": "soon"}
    with pytest.raises(RequirementDataError, match="not an age"):
        RequirementRule.of(row)
