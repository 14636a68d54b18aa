"""Requirement rows as rules: which rows apply to a grade, and the conditions format (immunizations.md §1)."""

from __future__ import annotations

import pytest

from db.demo.requirements import tx_requirement_rows
from domain.health.requirements import RequirementDataError, RequirementRule, condition_problems, current_rules

TX = [RequirementRule.of(row) for row in tx_requirement_rows()]


# -- which rows apply --------------------------------------------------------------------------------------


def test_newest_school_year_replaces_older_rows() -> None:
    old = RequirementRule("HepB", "HepB", 3, {}, 0, 12, "2023-24")
    new = RequirementRule("HepB", "HepB", 2, {}, 0, 12, "2025-26")
    assert current_rules([old, new], 5) == [new]


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
        "booster: expected antigen, within, and optional cvx_in, product_in",
    ]


def test_a_row_with_malformed_conditions_cannot_become_a_rule() -> None:
    row = tx_requirement_rows()[0]
    row.conditions = {"min_age": "soon"}
    with pytest.raises(RequirementDataError, match="not an age"):
        RequirementRule.of(row)
