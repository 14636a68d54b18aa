"""Properties of the compliance rules over generated dose histories."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from db.reference.immunization_requirements import tx_requirement_rows
from domain.health.cdsi import load_map
from domain.health.requirements import RequirementRule, current_rules
from domain.health.rules import (
    ComplianceState,
    DoseInput,
    StudentCompliance,
    evaluate_student,
)

TX = [RequirementRule.of(row) for row in tx_requirement_rows()]
# School-relevant codes (combinations, Td/Tdap, TT, measles-only, zoster live) and one unknown code.
CVX_CODES = ["20", "110", "120", "130", "146", "115", "09", "28", "35", "10", "03", "05", "94", "21", "121"]
CVX_CODES += ["08", "43", "83", "104", "114", "136", "999"]
GROUP_ONLY = [
    ("DTaP/Tdap/Td", "DTaP"),
    ("DTaP/Tdap/Td", "DT"),
    ("DTaP/Tdap/Td", "Td"),
    ("DTaP/Tdap/Td", "Tdap"),
    ("DTaP/Tdap/Td", None),
    ("Polio", None),
    ("MMR", None),
    ("HepB", None),
    ("Varicella", None),
    ("HepA", None),
    ("Meningococcal", None),
]

births = st.dates(min_value=dt.date(2005, 1, 1), max_value=dt.date(2020, 12, 31))


@st.composite
def doses(draw: st.DrawFn, birth: dt.date) -> DoseInput:
    # Dates cluster at a few ages so that same-day doses (and thus deduplication) happen often.
    day = birth + dt.timedelta(days=draw(st.one_of(st.sampled_from([0, 60, 365, 1461, 4018]), st.integers(0, 7300))))
    if draw(st.booleans()):
        cvx = draw(st.sampled_from(CVX_CODES))
        return DoseInput(day, load_map().primary_group_of_cvx(cvx) or "MMR", cvx)
    group, product = draw(st.sampled_from(GROUP_ONLY))
    return DoseInput(day, group, None, product)


@st.composite
def histories(draw: st.DrawFn) -> tuple[dt.date, int, dt.date, list[DoseInput]]:
    birth = draw(births)
    grade = draw(st.integers(0, 12))
    as_of = birth + dt.timedelta(days=draw(st.integers(5 * 365, 19 * 365)))
    records = draw(st.lists(doses(birth), max_size=25))
    return birth, grade, as_of, records


def _evaluate(birth: dt.date, grade: int, as_of: dt.date, records: list[DoseInput]) -> StudentCompliance:
    return evaluate_student(birth_on=birth, as_of=as_of, rules=current_rules(TX, grade), records=records)


def _counted(result: StudentCompliance) -> dict[tuple[str, str], int]:
    return {(g.vaccine_group, r.antigen): r.doses_counted for g in result.groups for r in g.rows}


@settings(max_examples=300, deadline=None)
@given(histories(), st.data())
def test_duplicating_records_never_increases_any_counted_total(
    history: tuple[dt.date, int, dt.date, list[DoseInput]], data: st.DataObject
) -> None:
    birth, grade, as_of, records = history
    copies = data.draw(st.lists(st.sampled_from(records), max_size=10)) if records else []
    before = _evaluate(birth, grade, as_of, records)
    after = _evaluate(birth, grade, as_of, records + copies)
    assert _counted(after) == _counted(before)
    assert [g.state for g in after.groups] == [g.state for g in before.groups]


@settings(max_examples=300, deadline=None)
@given(histories(), st.data())
def test_adding_a_dose_never_turns_a_compliant_group_into_a_missing_one(
    history: tuple[dt.date, int, dt.date, list[DoseInput]], data: st.DataObject
) -> None:
    birth, grade, as_of, records = history
    extra = data.draw(doses(birth))
    before = {g.vaccine_group: g.state for g in _evaluate(birth, grade, as_of, records).groups}
    after = {g.vaccine_group: g.state for g in _evaluate(birth, grade, as_of, [*records, extra]).groups}
    for group, state in before.items():
        if state == ComplianceState.COMPLIANT:
            assert after[group] == ComplianceState.COMPLIANT, group


@settings(max_examples=200, deadline=None)
@given(histories())
def test_no_antigen_is_counted_more_than_once_per_day(history: tuple[dt.date, int, dt.date, list[DoseInput]]) -> None:
    birth, grade, as_of, records = history
    days = {r.administered_on for r in records if r.administered_on <= as_of}
    for counted in _counted(_evaluate(birth, grade, as_of, records)).values():
        assert counted <= len(days)
