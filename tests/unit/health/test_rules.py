"""Texas compliance rules on hand-written dose histories (immunizations.md §1 and §5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from db.reference.immunization_requirements import tx_requirement_rows
from domain.health.cdsi import add_age, load_map
from domain.health.requirements import RequirementRule, current_rules
from domain.health.rules import (
    ComplianceState,
    DoseInput,
    EvidenceInput,
    ExemptionInput,
    ProvisionalInput,
    StudentCompliance,
    evaluate_student,
    expand_doses,
)
from tests.unit.health.series import complete_series

TX = [RequirementRule.of(row) for row in tx_requirement_rows()]
AS_OF = dt.date(2025, 8, 18)
DTAP = "DTaP/Tdap/Td"


def dose(on: dt.date, cvx: str | None = None, *, group: str | None = None, product: str | None = None) -> DoseInput:
    """A dose record; the group defaults to the CVX code's own group."""
    group = group or (load_map().primary_group_of_cvx(cvx) if cvx else None) or "unknown"
    return DoseInput(on, group, cvx, product)


def series(birth: dt.date, *, adolescent: bool = False, without: tuple[str, ...] = ()) -> list[DoseInput]:
    """A complete Texas history, minus the CVX codes in `without`."""
    return [dose(on, cvx) for on, cvx in complete_series(birth, adolescent=adolescent) if cvx not in without]


def evaluate(
    birth: dt.date,
    grade: int,
    records: list[DoseInput],
    as_of: dt.date = AS_OF,
    *,
    exemptions: Sequence[ExemptionInput] = (),
    evidence: Sequence[EvidenceInput] = (),
    provisionals: Sequence[ProvisionalInput] = (),
) -> StudentCompliance:
    return evaluate_student(
        birth_on=birth,
        as_of=as_of,
        rules=current_rules(TX, grade),
        records=records,
        exemptions=exemptions,
        evidence=evidence,
        provisionals=provisionals,
    )


# -- a complete history --------------------------------------------------------------------------


def test_complete_kindergarten_series_is_compliant_in_every_group() -> None:
    birth = dt.date(2020, 3, 15)
    result = evaluate(birth, 0, series(birth))
    assert {g.vaccine_group for g in result.groups} == {DTAP, "Polio", "MMR", "HepB", "Varicella", "HepA"}
    assert result.state == ComplianceState.COMPLIANT


def test_seventh_grader_needs_meningococcal_and_a_booster() -> None:
    birth = dt.date(2012, 5, 1)
    assert evaluate(birth, 7, series(birth, adolescent=True)).state == ComplianceState.COMPLIANT
    without = evaluate(birth, 7, series(birth))
    assert without.group(DTAP).state == ComplianceState.MISSING
    assert "booster" in without.group(DTAP).reason
    assert without.group("Meningococcal").state == ComplianceState.MISSING


# -- DTaP: the 4th dose and the 4th birthday ----------------------------------------------------------


def _dtap_four(birth: dt.date, fourth_on: dt.date) -> list[DoseInput]:
    others = [r for r in series(birth) if r.cvx_code != "20"]
    early = [dose(add_age(birth, age), "20") for age in ("2 months", "4 months", "6 months")]
    return [*others, *early, dose(fourth_on, "20")]


def test_four_dtap_doses_suffice_when_the_fourth_is_on_the_fourth_birthday() -> None:
    birth = dt.date(2020, 3, 15)
    group = evaluate(birth, 0, _dtap_four(birth, dt.date(2024, 3, 15))).group(DTAP)
    assert group.state == ComplianceState.COMPLIANT
    assert (group.doses_counted, group.doses_required) == (4, 4)


def test_four_dtap_doses_fall_short_when_the_fourth_is_the_day_before_the_fourth_birthday() -> None:
    birth = dt.date(2020, 3, 15)
    group = evaluate(birth, 0, _dtap_four(birth, dt.date(2024, 3, 14))).group(DTAP)
    assert group.state == ComplianceState.MISSING
    assert (group.doses_counted, group.doses_required) == (4, 5)
    assert group.reason == "Tetanus, Diphtheria: 4 of 5 doses; the 4th dose was given before age 4 years"


def test_from_age_seven_three_dtap_doses_suffice_with_one_after_the_fourth_birthday() -> None:
    birth = dt.date(2018, 1, 10)
    history = [r for r in series(birth) if r.cvx_code != "20"]
    history += [dose(add_age(birth, age), "20") for age in ("2 months", "4 months", "4 years 2 months")]
    assert evaluate(birth, 2, history, as_of=dt.date(2025, 1, 10)).group(DTAP).state == ComplianceState.COMPLIANT
    six_year_old = evaluate(birth, 1, history, as_of=dt.date(2025, 1, 9)).group(DTAP)
    assert six_year_old.state == ComplianceState.MISSING


def test_three_polio_doses_suffice_when_the_third_is_after_the_fourth_birthday() -> None:
    birth = dt.date(2019, 6, 1)
    history = [r for r in series(birth) if r.cvx_code != "10"]
    history += [dose(add_age(birth, age), "10") for age in ("2 months", "4 months", "4 years")]
    assert evaluate(birth, 1, history).group("Polio").state == ComplianceState.COMPLIANT


# -- boosters -------------------------------------------------------------------------------------------


def _with_tdap(birth: dt.date, tdap_on: dt.date) -> list[DoseInput]:
    return [*series(birth), dose(add_age(birth, "11 years"), "114"), dose(tdap_on, "115")]


def test_seventh_grade_booster_given_4_years_11_months_ago_counts() -> None:
    birth = dt.date(2012, 5, 1)
    group = evaluate(birth, 7, _with_tdap(birth, dt.date(2020, 9, 18))).group(DTAP)
    assert group.state == ComplianceState.COMPLIANT


def test_seventh_grade_booster_given_5_years_1_month_ago_is_too_old() -> None:
    birth = dt.date(2012, 5, 1)
    group = evaluate(birth, 7, _with_tdap(birth, dt.date(2020, 7, 18))).group(DTAP)
    assert group.state == ComplianceState.MISSING
    assert "no Tdap/Td booster in the last 5 years" in group.reason


def test_eighth_grade_accepts_a_booster_up_to_10_years_old() -> None:
    birth = dt.date(2011, 5, 1)
    assert evaluate(birth, 8, _with_tdap(birth, dt.date(2020, 7, 18))).group(DTAP).state == ComplianceState.COMPLIANT


def test_td_recorded_by_product_counts_as_a_booster() -> None:
    birth = dt.date(2012, 5, 1)
    history = [*series(birth), dose(dt.date(2023, 5, 2), group=DTAP, product="Td")]
    assert evaluate(birth, 7, history).group(DTAP).state == ComplianceState.COMPLIANT


def test_a_booster_recorded_by_product_still_counts_beside_another_record_that_day() -> None:
    # Found by the property test: a Tdap entered by product name, and the same day a record of a
    # pediatric combination (CVX 146) that also carries tetanus. Merged into one antigen-dose,
    # the combination's CVX code must not silence the other record's product name.
    birth = dt.date(2012, 5, 1)
    day = dt.date(2023, 5, 2)
    history = [*series(birth), dose(day, group=DTAP, product="Tdap"), dose(day, "146")]
    assert evaluate(birth, 7, history).group(DTAP).state == ComplianceState.COMPLIANT
    # A CVX code says what was given: a product name on the same record does not make it a booster.
    assert evaluate(birth, 7, [*series(birth), dose(day, "146", product="Tdap")]).group(DTAP).state == (
        ComplianceState.MISSING
    )


# -- age floors -------------------------------------------------------------------------------------------


def test_menacwy_the_day_before_the_11th_birthday_does_not_count() -> None:
    birth = dt.date(2013, 9, 10)
    group = evaluate(birth, 7, [dose(dt.date(2024, 9, 9), "114")]).group("Meningococcal")
    assert group.state == ComplianceState.MISSING
    assert group.doses_counted == 0
    assert "1 dose before age 11 years not counted" in group.reason


def test_menacwy_on_the_11th_birthday_counts() -> None:
    birth = dt.date(2013, 9, 10)
    group = evaluate(birth, 7, [dose(dt.date(2024, 9, 10), "114")]).group("Meningococcal")
    assert group.state == ComplianceState.COMPLIANT


def test_mmr_before_the_first_birthday_is_not_counted() -> None:
    birth = dt.date(2019, 6, 1)
    history = [r for r in series(birth) if r.cvx_code != "03"]
    history += [dose(dt.date(2020, 5, 31), "03"), dose(dt.date(2023, 6, 1), "03")]
    group = evaluate(birth, 1, history).group("MMR")
    assert group.state == ComplianceState.MISSING
    assert group.doses_counted == 1


# -- products and whole groups ----------------------------------------------------------------------------


def test_dt_doses_carry_no_pertussis_but_count_for_the_dtap_row() -> None:
    birth = dt.date(2019, 6, 1)
    dt_doses = [dose(add_age(birth, a), group=DTAP, product="DT") for a in ("2 months", "4 months", "6 months")]
    dt_doses += [dose(add_age(birth, a), group=DTAP, product="DT") for a in ("15 months", "4 years")]
    antigens = {d.antigen for d in expand_doses(dt_doses, birth, AS_OF)[0]}
    assert antigens == {"Diphtheria", "Tetanus"}
    history = [*(r for r in series(birth) if r.cvx_code != "20"), *dt_doses]
    assert evaluate(birth, 1, history).group(DTAP).state == ComplianceState.COMPLIANT


def test_group_only_dtap_record_without_product_is_not_credited_pertussis() -> None:
    birth = dt.date(2019, 6, 1)
    doses, _ = expand_doses([dose(dt.date(2020, 1, 1), group=DTAP)], birth, AS_OF)
    assert {d.antigen for d in doses} == {"Diphtheria", "Tetanus"}


def test_tetanus_toxoid_alone_does_not_satisfy_the_dtap_row() -> None:
    birth = dt.date(2019, 6, 1)
    history = [r for r in series(birth) if r.cvx_code != "20"]
    history += [dose(add_age(birth, a), "20") for a in ("2 months", "4 months", "6 months", "15 months")]
    history.append(dose(add_age(birth, "4 years"), "35"))
    group = evaluate(birth, 1, history).group(DTAP)
    assert group.state == ComplianceState.MISSING
    assert "Diphtheria" in group.reason


def test_measles_only_doses_leave_mumps_and_rubella_missing() -> None:
    birth = dt.date(2019, 6, 1)
    history = [r for r in series(birth) if r.cvx_code != "03"]
    history += [dose(dt.date(2020, 6, 1), "05", group="MMR"), dose(dt.date(2023, 6, 1), "05", group="MMR")]
    group = evaluate(birth, 1, history).group("MMR")
    assert group.state == ComplianceState.MISSING
    assert group.reason.startswith("Mumps, Rubella: 0 of 2 doses")


def test_mmrv_counts_for_both_mmr_and_varicella() -> None:
    birth = dt.date(2019, 6, 1)
    history = [r for r in series(birth) if r.cvx_code not in ("03", "21")]
    history += [dose(dt.date(2020, 6, 1), "94"), dose(dt.date(2023, 6, 1), "94")]
    result = evaluate(birth, 1, history)
    assert result.group("MMR").state == ComplianceState.COMPLIANT
    assert result.group("Varicella").state == ComplianceState.COMPLIANT


# -- deduplication and data quality ----------------------------------------------------------------------


def test_combination_dose_entered_twice_counts_once() -> None:
    birth = dt.date(2019, 6, 1)
    day = dt.date(2019, 8, 1)
    twice = [dose(day, "110"), dose(day, "110"), dose(day, "10")]
    doses, _ = expand_doses(twice, birth, AS_OF)
    assert sorted(d.antigen for d in doses) == ["Diphtheria", "HepB", "Pertussis", "Polio", "Tetanus"]
    polio = evaluate(birth, 1, twice).group("Polio")
    assert polio.doses_counted == 1


def test_unknown_cvx_is_reported_and_not_counted() -> None:
    birth = dt.date(2019, 6, 1)
    result = evaluate(birth, 1, [dose(dt.date(2020, 6, 1), "999", group="MMR")])
    assert result.group("MMR").doses_counted == 0
    assert [i.message for i in result.data_issues] == ["2020-06-01 MMR dose: unknown CVX code '999'; not counted"]


def test_cvx_outside_its_recorded_group_is_reported_but_counted_by_its_code() -> None:
    birth = dt.date(2019, 6, 1)
    result = evaluate(birth, 1, [dose(dt.date(2020, 6, 1), "03", group="Polio")])
    assert result.group("MMR").doses_counted == 1
    assert "does not belong to vaccine group Polio" in result.data_issues[0].message


def test_doses_after_the_as_of_date_are_not_counted() -> None:
    birth = dt.date(2019, 6, 1)
    result = evaluate(birth, 1, [dose(AS_OF + dt.timedelta(days=1), "08")])
    assert result.group("HepB").doses_counted == 0


# -- exemptions, evidence, provisional enrollment -----------------------------------------------------------


def test_expired_conscientious_affidavit_leaves_the_student_missing() -> None:
    birth = dt.date(2019, 6, 1)
    affidavit = ExemptionInput("conscientious", dt.date(2022, 8, 1), dt.date(2024, 8, 1))
    group = evaluate(birth, 1, series(birth, without=("03",)), exemptions=[affidavit]).group("MMR")
    assert group.state == ComplianceState.MISSING
    assert "conscientious exemption expired on 2024-08-01" in group.reason


def test_valid_affidavit_makes_the_gap_exempt_with_kind_and_expiry() -> None:
    birth = dt.date(2019, 6, 1)
    affidavit = ExemptionInput("conscientious", dt.date(2024, 9, 1), dt.date(2026, 9, 1))
    result = evaluate(birth, 1, series(birth, without=("03",)), exemptions=[affidavit])
    group = result.group("MMR")
    assert (group.state, group.exemption_kind, group.exemption_expires_on) == (
        ComplianceState.EXEMPT,
        "conscientious",
        dt.date(2026, 9, 1),
    )
    assert result.group("Polio").state == ComplianceState.COMPLIANT


def test_exemption_signed_after_the_as_of_date_is_not_honoured() -> None:
    birth = dt.date(2019, 6, 1)
    later = ExemptionInput("medical", AS_OF + dt.timedelta(days=1), None)
    group = evaluate(birth, 1, series(birth, without=("03",)), exemptions=[later]).group("MMR")
    assert group.state == ComplianceState.MISSING


def test_exemption_for_another_group_does_not_cover_this_one() -> None:
    birth = dt.date(2019, 6, 1)
    other = ExemptionInput("medical", dt.date(2025, 1, 1), None, vaccine_group="Varicella")
    group = evaluate(birth, 1, series(birth, without=("03",)), exemptions=[other]).group("MMR")
    assert group.state == ComplianceState.MISSING


def test_provisional_student_past_the_due_date_is_missing() -> None:
    birth = dt.date(2019, 6, 1)
    lapsed = ProvisionalInput(dt.date(2025, 7, 1), dt.date(2025, 8, 17))
    group = evaluate(birth, 1, series(birth, without=("08",)), provisionals=[lapsed]).group("HepB")
    assert group.state == ComplianceState.MISSING
    assert "provisional enrollment was due on 2025-08-17" in group.reason


def test_provisional_student_is_provisional_through_the_due_date() -> None:
    birth = dt.date(2019, 6, 1)
    active = ProvisionalInput(dt.date(2025, 7, 1), AS_OF)
    result = evaluate(birth, 1, series(birth, without=("08",)), provisionals=[active])
    assert result.group("HepB").state == ComplianceState.PROVISIONAL
    assert result.group("HepB").provisional_due_on == AS_OF
    assert result.state == ComplianceState.PROVISIONAL


def test_serology_satisfies_hepb_as_evidence_of_immunity() -> None:
    birth = dt.date(2019, 6, 1)
    proof = EvidenceInput("HepB", "serology", dt.date(2024, 1, 1))
    group = evaluate(birth, 1, series(birth, without=("08",)), evidence=[proof]).group("HepB")
    assert group.state == ComplianceState.EVIDENCE
    assert group.evidence_kinds == ("serology",)


def test_parent_statement_of_varicella_history_is_accepted() -> None:
    birth = dt.date(2019, 6, 1)
    proof = EvidenceInput("Varicella", "parent_history", dt.date(2024, 1, 1))
    group = evaluate(birth, 1, series(birth, without=("21",)), evidence=[proof]).group("Varicella")
    assert group.state == ComplianceState.EVIDENCE


def test_evidence_the_chart_does_not_accept_for_hepa_leaves_it_missing() -> None:
    birth = dt.date(2019, 6, 1)
    proof = EvidenceInput("HepA", "serology", dt.date(2024, 1, 1))
    group = evaluate(birth, 1, series(birth, without=("83",)), evidence=[proof]).group("HepA")
    assert group.state == ComplianceState.MISSING


def test_measles_serology_alone_leaves_mumps_and_rubella_missing() -> None:
    birth = dt.date(2019, 6, 1)
    proof = EvidenceInput("Measles", "serology", dt.date(2024, 1, 1))
    group = evaluate(birth, 1, series(birth, without=("03",)), evidence=[proof]).group("MMR")
    assert group.state == ComplianceState.MISSING


def test_missing_outranks_exempt_and_provisional_for_the_student() -> None:
    birth = dt.date(2019, 6, 1)
    result = evaluate(
        birth,
        1,
        series(birth, without=("03", "08")),
        exemptions=[ExemptionInput("religious", dt.date(2025, 1, 1), dt.date(2027, 1, 1), "MMR")],
    )
    assert result.group("MMR").state == ComplianceState.EXEMPT
    assert result.state == ComplianceState.MISSING
