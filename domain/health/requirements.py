"""Requirement rows as rules: the `conditions` JSON format, its check, and which rows apply to a grade.

A requirement row is configuration read from the database; a row the rules engine cannot read
is a defect in that data, not in anyone's request, so it raises `RequirementDataError` (answered
as an internal error). The `conditions` format is documented in db/reference/immunization_requirements.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.calendar import school_year_label_start, school_year_start
from domain.errors import DataDefect
from domain.health.cdsi import parse_age


class RequirementDataError(DataDefect):
    """A stored immunization requirement row is malformed (its conditions cannot be read)."""


class RequirementRow(Protocol):
    """What a rule is read from: an ImmunizationRequirement, or a row of its columns."""

    @property
    def id(self) -> Any: ...
    @property
    def vaccine_group(self) -> str: ...
    @property
    def antigen(self) -> str: ...
    @property
    def min_doses(self) -> int: ...
    @property
    def conditions(self) -> Mapping[str, Any]: ...
    @property
    def grade_min(self) -> int: ...
    @property
    def grade_max(self) -> int: ...
    @property
    def effective_school_year(self) -> str: ...


@dataclass(frozen=True)
class RequirementRule:
    vaccine_group: str
    antigen: str
    min_doses: int
    conditions: Mapping[str, Any] = field(default_factory=dict)
    grade_min: int = 0
    grade_max: int = 12
    effective_school_year: str = ""

    @functools.cached_property
    def main_option(self) -> Mapping[str, Any]:
        """The row's own way of being met, in the shape of an alternative."""
        return {"min_doses": self.min_doses, "age_constraints": self.conditions.get("age_constraints", [])}

    @classmethod
    def of(cls, row: RequirementRow) -> RequirementRule:
        """The rule held by a requirement row.

        Raises:
            RequirementDataError: the row's conditions are malformed.
        """
        problems = condition_problems(row.conditions)
        if problems:
            raise RequirementDataError(
                f"requirement {row.id} ({row.vaccine_group}/{row.antigen}): {'; '.join(problems)}"
            )
        return cls(
            vaccine_group=row.vaccine_group,
            antigen=row.antigen,
            min_doses=row.min_doses,
            conditions=row.conditions,
            grade_min=row.grade_min,
            grade_max=row.grade_max,
            effective_school_year=row.effective_school_year,
        )


# -- the conditions format -------------------------------------------------------------------------

_CONDITION_KEYS = {"min_age", "age_constraints", "alternatives", "booster", "evidence"}
_ALTERNATIVE_KEYS = {"min_doses", "from_student_age", "age_constraints"}
_BOOSTER_KEYS = {"antigen", "within", "cvx_in", "product_in"}


def _age_problems(where: str, value: Any) -> list[str]:
    try:
        parse_age(str(value))
    except ValueError:
        return [f"{where}: {value!r} is not an age such as '4 years'"]
    return []


def _constraint_problems(where: str, constraints: Any) -> list[str]:
    problems: list[str] = []
    for i, c in enumerate(constraints if isinstance(constraints, list) else [None]):
        at = f"{where}[{i}]"
        if not isinstance(c, dict) or set(c) not in (
            {"count_at_least", "on_or_after_age"},
            {"dose", "on_or_after_age"},
        ):
            problems.append(f"{at}: expected {{count_at_least|dose, on_or_after_age}}")
            continue
        problems += _age_problems(at, c["on_or_after_age"])
    return problems


def condition_problems(conditions: Mapping[str, Any]) -> list[str]:
    """What is wrong with a requirement's conditions JSON (empty when it is well formed)."""
    problems = [f"unknown key {k!r}" for k in sorted(set(conditions) - _CONDITION_KEYS)]
    if "min_age" in conditions:
        problems += _age_problems("min_age", conditions["min_age"])
    problems += _constraint_problems("age_constraints", conditions.get("age_constraints", []))
    for i, alt in enumerate(conditions.get("alternatives", [])):
        at = f"alternatives[{i}]"
        if not isinstance(alt, dict) or "min_doses" not in alt or set(alt) - _ALTERNATIVE_KEYS:
            problems.append(f"{at}: expected min_doses with optional from_student_age, age_constraints")
            continue
        if "from_student_age" in alt:
            problems += _age_problems(f"{at}.from_student_age", alt["from_student_age"])
        problems += _constraint_problems(f"{at}.age_constraints", alt.get("age_constraints", []))
    booster = conditions.get("booster")
    if booster is not None:
        if not isinstance(booster, dict) or "antigen" not in booster or set(booster) - _BOOSTER_KEYS:
            problems.append("booster: expected antigen, and optional within, cvx_in, product_in")
        elif "within" in booster:
            problems += _age_problems("booster.within", booster["within"])
    return problems


# -- jurisdictions and school years -----------------------------------------------------------------


def jurisdiction_key(code: str) -> str:
    """The code requirement rows are stored and matched under: "US-FL", "us-fl" and "FL" are all "FL".

    Orgs may carry ISO 3166-2 codes ("US-TX") or bare state codes ("TX"); both mean the same rules.
    """
    code = code.strip().upper()
    return code[3:] if re.fullmatch(r"US-[A-Z]{2}", code) else code


def jurisdiction_spellings(code: str) -> tuple[str, ...]:
    """Every stored spelling that means `code`'s jurisdiction (for a lookup tolerant of both forms)."""
    key = jurisdiction_key(code)
    return (key, f"US-{key}") if re.fullmatch(r"[A-Z]{2}", key) else (key,)


def school_year_starts(label: str) -> int:
    """The calendar year a school year label such as "2024-25" starts in.

    Raises:
        ValueError: not a label of the form YYYY-YY naming consecutive years.
    """
    first = school_year_label_start(label)
    if first is None:
        raise ValueError(f"{label!r} is not a school year such as '2024-25'")
    return first


# -- which rows apply -------------------------------------------------------------------------------


def chart_in_effect(rules: Iterable[RequirementRule], as_of: dt.date | None = None) -> str | None:
    """The effective school year of the chart that applies on `as_of` (None: the newest chart).

    A jurisdiction's chart for a school year replaces the one before it from that year's start
    (domain/calendar.py); a chart defined ahead of its year does not apply yet. Before the first chart's
    year, the first chart applies (an older record is still judged, by the oldest rules known).
    """
    years = sorted({r.effective_school_year for r in rules})
    if not years:
        return None
    if as_of is None:
        return years[-1]
    as_of_year = school_year_start(as_of).year
    started = [y for y in years if starting_year(y) <= as_of_year]
    return started[-1] if started else years[0]


def starting_year(label: str) -> int:
    """The year a stored label starts in; a label that is not a school year counts as always started (0)."""
    try:
        return school_year_starts(label)
    except ValueError:
        return 0


def current_rules(rules: Iterable[RequirementRule], grade: int, as_of: dt.date | None = None) -> list[RequirementRule]:
    """One jurisdiction's rows for a grade, from the chart in effect on `as_of` (a chart replaces the last)."""
    rules = list(rules)
    chart = chart_in_effect(rules, as_of)
    if chart is None:
        return []
    return [r for r in rules if r.effective_school_year == chart and r.grade_min <= grade <= r.grade_max]
