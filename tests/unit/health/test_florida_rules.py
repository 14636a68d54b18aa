"""Florida school-entry rules (FAC 64D-3.046, DH 680) on hand-written dose histories."""

from __future__ import annotations

import datetime as dt

from db.reference.immunization_requirements import fl_requirement_rows
from domain.health.cdsi import add_age, load_map
from domain.health.requirements import RequirementRule, current_rules
from domain.health.rules import ComplianceState, DoseInput, EvidenceInput, StudentCompliance, evaluate_student
from tests.unit.health.series import complete_series

FL = [RequirementRule.of(row) for row in fl_requirement_rows()]
AS_OF = dt.date(2025, 8, 18)
DTAP = "DTaP/Tdap/Td"


def dose(on: dt.date, cvx: str) -> DoseInput:
    return DoseInput(on, load_map().primary_group_of_cvx(cvx) or "unknown", cvx, None)


def history(birth: dt.date, *, adolescent: bool = False, without: tuple[str, ...] = ()) -> list[DoseInput]:
    return [dose(on, cvx) for on, cvx in complete_series(birth, adolescent=adolescent) if cvx not in without]


def evaluate(
    birth: dt.date, grade: int, records: list[DoseInput], evidence: tuple[EvidenceInput, ...] = ()
) -> StudentCompliance:
    return evaluate_student(
        birth_on=birth, as_of=AS_OF, rules=current_rules(FL, grade, AS_OF), records=records, evidence=evidence
    )


def test_a_complete_kindergarten_series_is_compliant_without_hepatitis_a() -> None:
    birth = dt.date(2020, 3, 15)
    result = evaluate(birth, 0, history(birth, without=("83",)))
    assert {g.vaccine_group for g in result.groups} == {DTAP, "Polio", "MMR", "HepB", "Varicella"}
    assert result.state == ComplianceState.COMPLIANT


def test_a_seventh_grader_without_tdap_is_missing_the_dtap_group() -> None:
    birth = dt.date(2012, 3, 15)
    result = evaluate(birth, 7, history(birth, adolescent=True, without=("115",)))
    group = result.group(DTAP)
    assert group.state == ComplianceState.MISSING and "no Tdap dose on record" in group.reason
    assert result.group("Polio").state == ComplianceState.COMPLIANT


def test_a_tdap_given_years_ago_still_meets_the_seventh_grade_rule() -> None:
    birth = dt.date(2012, 3, 15)
    records = [*history(birth, without=("115",)), dose(add_age(birth, "10 years"), "115")]
    assert evaluate(birth, 7, records).group(DTAP).state == ComplianceState.COMPLIANT


def test_a_td_booster_is_not_a_tdap() -> None:
    birth = dt.date(2012, 3, 15)
    records = [*history(birth, without=("115",)), dose(add_age(birth, "11 years"), "09")]
    assert evaluate(birth, 7, records).group(DTAP).state == ComplianceState.MISSING


def test_four_dtap_doses_suffice_when_the_fourth_was_after_the_fourth_birthday() -> None:
    birth = dt.date(2019, 3, 15)
    ages = ["2 months", "4 months", "6 months", "4 years"]
    records = [d for d in history(birth) if d.vaccine_group != DTAP] + [dose(add_age(birth, a), "20") for a in ages]
    assert evaluate(birth, 1, records).group(DTAP).state == ComplianceState.COMPLIANT


def test_a_kindergartener_whose_fourth_polio_dose_was_early_needs_a_fifth_but_a_first_grader_does_not() -> None:
    birth = dt.date(2019, 3, 15)
    ages = ["2 months", "4 months", "6 months", "3 years"]
    records = [d for d in history(birth) if d.vaccine_group != "Polio"] + [dose(add_age(birth, a), "10") for a in ages]
    assert evaluate(birth, 0, records).group("Polio").state == ComplianceState.MISSING
    assert evaluate(birth, 1, records).group("Polio").state == ComplianceState.COMPLIANT


def test_varicella_history_counts_only_when_a_provider_documented_it() -> None:
    birth = dt.date(2018, 3, 15)
    records = history(birth, without=("21",))
    parent = (EvidenceInput("Varicella", "parent_history", dt.date(2024, 1, 1)),)
    provider = (EvidenceInput("Varicella", "provider_history", dt.date(2024, 1, 1)),)
    assert evaluate(birth, 2, records, parent).group("Varicella").state == ComplianceState.MISSING
    assert evaluate(birth, 2, records, provider).group("Varicella").state == ComplianceState.EVIDENCE
