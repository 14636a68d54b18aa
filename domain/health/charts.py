"""Immunization requirements as data: defining a jurisdiction's rule, versioned by school year, and reading a chart.

A jurisdiction's chart is every row of one effective school year, and the chart in effect on a
date replaces the ones before it (domain/health/requirements.py `current_rules`). Defining a
row for a school year that has no chart yet starts a new version that carries the previous
chart's other rows forward, so a one-row change never drops the rest of the rules. Any change
to the table replaces its version token (triggers of migration 0006), so cached rule sets are
read again on the next evaluation.

Requirements are network-wide reference data with no org of their own: defining one needs
immunization write access at every root of the org tree (in practice a network administrator).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ImmunizationRequirement, Organization
from domain.audit.changes import record_changes
from domain.errors import InvalidInput, NotFound, PermissionDenied
from domain.health.requirements import (
    RequirementRule,
    chart_in_effect,
    condition_problems,
    jurisdiction_spellings,
    school_year_starts,
    starting_year,
)
from domain.health.schemas import (
    DefinedRequirementRead,
    DefineImmunizationRequirementInput,
    ListImmunizationRequirementsQuery,
    RequirementChartRead,
    RequirementRead,
)
from policies.scope import Action, DataClass, Scope

_R = ImmunizationRequirement
_ORDER = (_R.grade_min, _R.grade_max, _R.vaccine_group, _R.antigen)


def _jurisdiction_rows(session: Session, jurisdiction: str) -> list[ImmunizationRequirement]:
    """Every stored row of a jurisdiction, under any of its spellings, in chart order."""
    spellings = jurisdiction_spellings(jurisdiction)
    return list(session.execute(select(_R).where(_R.jurisdiction.in_(spellings)).order_by(*_ORDER)).scalars())


def _chart_read(
    rows: list[ImmunizationRequirement], jurisdiction: str, year: str, today: dt.date
) -> RequirementChartRead:
    in_effect = chart_in_effect([RequirementRule.of(r) for r in rows], today)
    return RequirementChartRead(
        jurisdiction=jurisdiction,
        effective_school_year=year,
        rows=[RequirementRead.model_validate(r) for r in rows if r.effective_school_year == year],
        in_effect_on=today if in_effect == year else None,
    )


def _check_may_define(session: Session, scope: Scope) -> None:
    roots = set(session.execute(select(Organization.id).where(Organization.parent_id.is_(None))).scalars())
    if not roots or not roots <= scope.orgs(DataClass.IMMUNIZATION, Action.WRITE):
        raise PermissionDenied(
            "immunization requirements are network-wide reference data: defining them needs immunization "
            "write access at the network root"
        )


def _carry_forward(
    session: Session, scope: Scope, rows: list[ImmunizationRequirement], data: DefineImmunizationRequirementInput
) -> str | None:
    """Start the chart of data.effective_school_year as a copy of the newest earlier chart; its school year."""
    new_year = school_year_starts(data.effective_school_year)
    earlier = sorted(
        {r.effective_school_year for r in rows if starting_year(r.effective_school_year) < new_year},
        key=starting_year,
    )
    if not earlier:
        return None
    for old in (r for r in rows if r.effective_school_year == earlier[-1]):
        copy = ImmunizationRequirement(
            id=uuid.uuid4(),
            jurisdiction=data.jurisdiction,
            grade_min=old.grade_min,
            grade_max=old.grade_max,
            vaccine_group=old.vaccine_group,
            antigen=old.antigen,
            min_doses=old.min_doses,
            conditions=dict(old.conditions),
            effective_school_year=data.effective_school_year,
            source_url=old.source_url,
        )
        session.add(copy)
        record_changes(session, scope, copy, reason=f"carried forward from the {earlier[-1]} chart")
        rows.append(copy)
    return earlier[-1]


def define_immunization_requirement(
    session: Session, scope: Scope, data: DefineImmunizationRequirementInput, *, today: dt.date
) -> DefinedRequirementRead:
    """Add or change one row of a jurisdiction's chart for a school year (a new year starts a new version).

    Raises:
        PermissionDenied: the caller lacks immunization write access at the network root.
        InvalidInput: malformed conditions, or a grade band overlapping another row of the same antigen.
    """
    _check_may_define(session, scope)
    problems = condition_problems(data.conditions)
    if problems:
        raise InvalidInput(f"conditions: {'; '.join(problems)}", field="conditions")
    rows = _jurisdiction_rows(session, data.jurisdiction)
    created = not any(r.effective_school_year == data.effective_school_year for r in rows)
    copied_from = _carry_forward(session, scope, rows, data) if created else None
    same_antigen = [
        r
        for r in rows
        if r.effective_school_year == data.effective_school_year
        and (r.vaccine_group, r.antigen) == (data.vaccine_group, data.antigen)
    ]
    row = next((r for r in same_antigen if (r.grade_min, r.grade_max) == (data.grade_min, data.grade_max)), None)
    overlapping = [
        r for r in same_antigen if r is not row and r.grade_min <= data.grade_max and data.grade_min <= r.grade_max
    ]
    if overlapping:
        other = overlapping[0]
        raise InvalidInput(
            f"grades {data.grade_min}-{data.grade_max} overlap the {other.vaccine_group}/{other.antigen} row for "
            f"grades {other.grade_min}-{other.grade_max}; define that band or one that does not overlap it",
            field="grade_min",
        )
    reason = data.reason or "immunization requirement defined"
    if row is None:
        row = ImmunizationRequirement(
            id=uuid.uuid4(),
            jurisdiction=data.jurisdiction,
            grade_min=data.grade_min,
            grade_max=data.grade_max,
            vaccine_group=data.vaccine_group,
            antigen=data.antigen,
            effective_school_year=data.effective_school_year,
        )
        session.add(row)
        rows.append(row)
        replaced = False
    else:
        replaced = True
    row.min_doses = data.min_doses
    row.conditions = dict(data.conditions)
    row.source_url = data.source_url
    record_changes(session, scope, row, reason=reason)
    session.flush()
    rows.sort(key=lambda r: (r.grade_min, r.grade_max, r.vaccine_group, r.antigen))
    return DefinedRequirementRead(
        requirement=RequirementRead.model_validate(row),
        created_chart=created,
        copied_from_school_year=copied_from,
        replaced_row=replaced,
        chart=_chart_read(rows, data.jurisdiction, data.effective_school_year, today),
    )


def list_immunization_requirements(
    session: Session, data: ListImmunizationRequirementsQuery, *, today: dt.date
) -> RequirementChartRead:
    """One chart version of a jurisdiction (default: the one in effect today).

    Raises:
        NotFound: the jurisdiction has no rows, or no chart for that school year.
    """
    rows = _jurisdiction_rows(session, data.jurisdiction)
    year = data.effective_school_year or chart_in_effect([RequirementRule.of(r) for r in rows], today)
    if year is None:
        raise NotFound(f"no immunization requirements for jurisdiction {data.jurisdiction}", field="jurisdiction")
    if not any(r.effective_school_year == year for r in rows):
        raise NotFound(f"no {data.jurisdiction} chart for school year {year}", field="effective_school_year")
    return _chart_read(rows, data.jurisdiction, year, today)
