"""Immunization compliance services on real databases: the report, a history, recording doses and exemptions."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Uuid, bindparam, column, event, select, text, update
from sqlalchemy.orm import Session

from db.models import (
    ChangeEvent,
    EnrollmentStatus,
    ExemptionKind,
    ImmunityEvidence,
    ImmunizationExemption,
    ImmunizationRecord,
    ImmunizationRequirement,
    Organization,
    OrgLevel,
    ProgramOffering,
    ProvisionalEnrollment,
    QueryLog,
    QueryOutcome,
    Student,
)
from db.reference.immunization_requirements import seed_requirements
from domain.errors import DuplicateRecord, InvalidInput, NotFound, PermissionDenied
from domain.health import rules
from domain.health.cdsi import load_map
from domain.health.report import find_missing_immunizations
from domain.health.rules import ComplianceState
from domain.health.schemas import MissingImmunizationsQuery, RecordExemptionInput, RecordImmunizationInput
from domain.health.service import get_immunization_history, record_exemption, record_immunization
from policies.scope import Action, Scope
from tests.factories import (
    assign_guide,
    create_dose,
    create_enrollment,
    create_offering,
    create_org,
    create_student,
    create_user,
    scope_at,
)
from tests.unit.health.series import complete_series
from tools.runner import ToolCallError, run_tool

AS_OF = dt.date(2025, 9, 2)


@dataclass
class World:
    network: Organization
    austin: Organization
    dallas: Organization
    austin_year: ProgramOffering
    dallas_year: ProgramOffering

    @property
    def scope(self) -> Scope:
        return scope_at(self.network, descendants=[self.austin, self.dallas])


@pytest.fixture()
def world(session: Session) -> World:
    seed_requirements(session)
    network = create_org(session, level=OrgLevel.NETWORK, jurisdiction="TX", name="Texas Network")
    # Campuses inherit the network's jurisdiction.
    austin = create_org(session, parent=network, jurisdiction=None, name="Austin")
    dallas = create_org(session, parent=network, jurisdiction=None, name="Dallas")
    return World(network, austin, dallas, create_offering(session, austin), create_offering(session, dallas))


def enroll(
    session: Session,
    offering: ProgramOffering,
    last_name: str,
    *,
    grade: int = 5,
    first_name: str = "Test",
    without: tuple[str, ...] = (),
    doses: bool = True,
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE,
    start_on: dt.date | None = None,
    end_on: dt.date | None = None,
) -> Student:
    """An enrolled student holding the complete Texas series for their grade, minus `without` CVX codes."""
    org = session.get(Organization, offering.org_id)
    assert org is not None
    birth = dt.date(2025 - grade - 6, 3, 15)
    student = create_student(session, org, grade=grade, birth_on=birth, first_name=first_name, last_name=last_name)
    create_enrollment(session, student, offering, status=status, start_on=start_on, end_on=end_on)
    for on, cvx in complete_series(birth, adolescent=grade >= 7) if doses else []:
        if cvx not in without:
            create_dose(session, student, group=load_map().primary_group_of_cvx(cvx) or "", on=on, cvx=cvx)
    return student


def exempt(
    session: Session, student: Student, kind: ExemptionKind, signed_on: dt.date, expires_on: dt.date | None
) -> None:
    session.add(
        ImmunizationExemption(
            student_id=student.id, org_id=student.org_id, kind=kind, signed_on=signed_on, expires_on=expires_on
        )
    )
    session.flush()


def provisional(session: Session, student: Student, due_on: dt.date) -> None:
    session.add(
        ProvisionalEnrollment(
            student_id=student.id, org_id=student.org_id, granted_on=dt.date(2025, 8, 18), due_on=due_on
        )
    )
    session.flush()


def query(**kw: Any) -> MissingImmunizationsQuery:
    return MissingImmunizationsQuery(as_of=AS_OF, **kw)


@contextmanager
def count_statements(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    conn = session.connection()
    event.listen(conn, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(conn, "before_cursor_execute", _count)


# -- the report ---------------------------------------------------------------------------------------


def test_a_report_asked_again_answers_the_same_and_sees_every_change(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    student = enroll(session, world.austin_year, "Again", without=("03",))
    first = find_missing_immunizations(session, world.scope, query())
    assert [s.last_name for s in first.items] == ["Again"]

    # Asked again, the remembered evaluation gives the same answer without working it out.
    evaluated: list[object] = []
    real = rules.evaluate_student
    monkeypatch.setattr(rules, "evaluate_student", lambda **kw: evaluated.append(kw) or real(**kw))
    assert find_missing_immunizations(session, world.scope, query()) == first
    assert evaluated == []
    # A new exemption, the doses it lacked, and another date are each a new question.
    exempt(session, student, ExemptionKind.MEDICAL, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert [s.status for s in find_missing_immunizations(session, world.scope, query()).items] == [
        ComplianceState.EXEMPT
    ]
    later = MissingImmunizationsQuery(as_of=dt.date(2026, 1, 15))
    assert [s.status for s in find_missing_immunizations(session, world.scope, later).items] == [
        ComplianceState.MISSING
    ]
    for on in (dt.date(2015, 6, 1), dt.date(2018, 6, 1)):
        create_dose(session, student, group="MMR", on=on, cvx="03")
    assert find_missing_immunizations(session, world.scope, query()).items == []
    assert find_missing_immunizations(session, world.scope, later).items == []
    assert len(evaluated) == 4


def test_a_rule_changed_in_the_database_applies_to_the_next_report(session: Session, world: World) -> None:
    enroll(session, world.austin_year, "Ruled")
    assert find_missing_immunizations(session, world.scope, query()).items == []
    # Raw SQL, as an administrator would adopt a new chart: the table's version token changes.
    session.execute(text("UPDATE immunization_requirement SET min_doses = 3 WHERE antigen = 'Measles'"))
    page = find_missing_immunizations(session, world.scope, query())
    assert [(g.vaccine_group, g.doses_counted, g.doses_required) for g in page.items[0].groups] == [("MMR", 2, 3)]


def test_report_lists_missing_exempt_and_provisional_students_separately(session: Session, world: World) -> None:
    enroll(session, world.austin_year, "Adams")
    enroll(session, world.austin_year, "Baker", without=("03",))
    carol = enroll(session, world.austin_year, "Clark", without=("03",))
    exempt(session, carol, ExemptionKind.CONSCIENTIOUS, dt.date(2024, 9, 1), dt.date(2026, 9, 1))
    dave = enroll(session, world.austin_year, "Davis", without=("08",))
    provisional(session, dave, dt.date(2025, 10, 1))
    erin = enroll(session, world.austin_year, "Evans", without=("03",))
    exempt(session, erin, ExemptionKind.CONSCIENTIOUS, dt.date(2022, 8, 1), dt.date(2024, 8, 1))

    page = find_missing_immunizations(session, world.scope, query())

    assert [(s.last_name, s.status) for s in page.items] == [
        ("Baker", ComplianceState.MISSING),
        ("Clark", ComplianceState.EXEMPT),
        ("Davis", ComplianceState.PROVISIONAL),
        ("Evans", ComplianceState.MISSING),
    ]
    baker, clark, davis, evans = page.items
    assert [(g.vaccine_group, g.doses_counted, g.doses_required) for g in baker.groups] == [("MMR", 0, 2)]
    assert (clark.groups[0].exemption_kind, clark.groups[0].exemption_expires_on) == (
        "conscientious",
        dt.date(2026, 9, 1),
    )
    assert davis.groups[0].provisional_due_on == dt.date(2025, 10, 1)
    assert "expired on 2024-08-01" in evans.groups[0].reason
    assert evans.exemptions[0].expires_on == dt.date(2024, 8, 1)
    assert (baker.campus_name, baker.jurisdiction, baker.grade) == ("Austin", "TX", 5)
    summary = page.summary
    assert (summary.students_evaluated, summary.compliant, summary.missing, summary.exempt, summary.provisional) == (
        5,
        1,
        2,
        1,
        1,
    )
    assert page.total == 4
    assert page.warnings == []


def test_excluding_exempt_students_still_counts_them_in_the_summary(session: Session, world: World) -> None:
    carol = enroll(session, world.austin_year, "Clark", without=("03",))
    exempt(session, carol, ExemptionKind.MEDICAL, dt.date(2025, 1, 1), None)
    page = find_missing_immunizations(session, world.scope, query(include_exempt=False))
    assert page.items == []
    assert page.summary.exempt == 1


def test_excluding_provisional_students_leaves_them_out(session: Session, world: World) -> None:
    dave = enroll(session, world.austin_year, "Davis", without=("08",))
    provisional(session, dave, dt.date(2025, 10, 1))
    assert find_missing_immunizations(session, world.scope, query(include_provisional=False)).items == []


def test_grade_and_vaccine_group_narrow_the_report(session: Session, world: World) -> None:
    enroll(session, world.austin_year, "Fifth", without=("03",))
    enroll(session, world.austin_year, "Seventh", grade=7, without=("08", "114"))
    sevenths = find_missing_immunizations(session, world.scope, query(grade=7))
    assert [s.last_name for s in sevenths.items] == ["Seventh"]
    assert {g.vaccine_group for g in sevenths.items[0].groups} == {"HepB", "Meningococcal"}
    mmr = find_missing_immunizations(session, world.scope, query(vaccine_group="mmr"))
    assert [s.last_name for s in mmr.items] == ["Fifth"]
    assert mmr.summary.compliant == 1


def test_only_enrollments_active_on_the_as_of_date_are_considered(session: Session, world: World) -> None:
    enroll(
        session,
        world.austin_year,
        "Gone",
        doses=False,
        status=EnrollmentStatus.WITHDRAWN,
        start_on=dt.date(2025, 8, 18),
        end_on=dt.date(2025, 8, 29),
    )
    enroll(session, world.austin_year, "Later", doses=False, start_on=dt.date(2025, 9, 15))
    enroll(session, world.austin_year, "Pending", doses=False, status=EnrollmentStatus.PENDING)
    page = find_missing_immunizations(session, world.scope, query())
    assert page.items == []
    assert page.summary.students_evaluated == 0


def test_campus_name_comes_from_the_campus_above_a_program_org(session: Session, world: World) -> None:
    program = create_org(session, parent=world.austin, level=OrgLevel.PROGRAM, jurisdiction=None, name="Camp")
    student = enroll(session, create_offering(session, program), "Camper", without=("21",))
    scope = scope_at(world.austin, descendants=[program])
    [item] = find_missing_immunizations(session, scope, query()).items
    assert (item.student_id, item.campus_name, item.org_id) == (student.id, "Austin", program.id)


def test_pages_are_sorted_by_last_name_then_first_name_then_number(session: Session, world: World) -> None:
    for last, first in [("Young", "Zoe"), ("Young", "Amy"), ("Brown", "Max"), ("Young", "Amy"), ("Ng", "Al")]:
        enroll(session, world.austin_year, last, first_name=first, without=("83",))
    everyone = find_missing_immunizations(session, world.scope, query()).items
    assert [(s.last_name, s.first_name) for s in everyone] == [
        ("Brown", "Max"),
        ("Ng", "Al"),
        ("Young", "Amy"),
        ("Young", "Amy"),
        ("Young", "Zoe"),
    ]
    assert everyone[2].student_number < everyone[3].student_number
    page = find_missing_immunizations(session, world.scope, query(limit=2, offset=2))
    assert [s.student_id for s in page.items] == [s.student_id for s in everyone[2:4]]
    assert (page.total, page.next_offset) == (5, 4)


def test_mmr_gaps_match_an_independent_sql_count(session: Session, world: World) -> None:
    rng = random.Random(20250902)
    for i in range(40):
        student = enroll(session, world.austin_year, f"Rand{i:02d}", without=("03",))
        for _ in range(rng.randint(0, 3)):
            day = dt.date(2016, 1, 1) + dt.timedelta(days=rng.choice([0, 0, 400, 900, 1500]))
            create_dose(session, student, group="MMR", on=day, cvx=rng.choice(["03", "3"]))
    expected = set(
        session.execute(
            text(
                """
                SELECT e.student_id FROM enrollment e
                WHERE e.org_id = :org AND e.status = 'active' AND e.start_on <= :as_of
                  AND (SELECT COUNT(DISTINCT r.administered_on) FROM immunization_record r
                       WHERE r.student_id = e.student_id AND r.vaccine_group = 'MMR') < 2
                """
            )
            .bindparams(bindparam("org", type_=Uuid()))
            .columns(column("student_id", Uuid())),
            {"org": world.austin.id, "as_of": AS_OF},
        ).scalars()
    )
    page = find_missing_immunizations(session, world.scope, query(vaccine_group="MMR", limit=500))
    assert {s.student_id for s in page.items} == expected
    assert 0 < len(expected) < 40


def test_report_queries_do_not_grow_with_the_number_of_students(session: Session, world: World) -> None:
    for i in range(3):
        enroll(session, world.austin_year, f"Few{i}", without=("03",))
    with count_statements(session) as few:
        find_missing_immunizations(session, world.scope, query(org_id=world.austin.id))
    for i in range(12):
        enroll(session, world.austin_year, f"Many{i}", without=("03",))
    with count_statements(session) as many:
        page = find_missing_immunizations(session, world.scope, query(org_id=world.austin.id))
    assert page.total == 15
    # Fewer the second time: the rules read by the first call are remembered under their version.
    assert len(many) <= len(few) <= 12


# -- scope ------------------------------------------------------------------------------------------------


def test_students_of_a_campus_outside_the_scope_are_not_listed(session: Session, world: World) -> None:
    enroll(session, world.austin_year, "Inside", without=("03",))
    enroll(session, world.dallas_year, "Outside", without=("03",))
    page = find_missing_immunizations(session, scope_at(world.austin), query())
    assert [s.last_name for s in page.items] == ["Inside"]
    assert page.summary.students_evaluated == 1


def test_org_filter_limits_the_report_to_that_subtree(session: Session, world: World) -> None:
    enroll(session, world.austin_year, "Inside", without=("03",))
    enroll(session, world.dallas_year, "Elsewhere", without=("03",))
    page = find_missing_immunizations(session, world.scope, query(org_id=world.dallas.id))
    assert [s.last_name for s in page.items] == ["Elsewhere"]


def test_asking_for_an_org_outside_the_scope_is_not_found(session: Session, world: World) -> None:
    with pytest.raises(NotFound):
        find_missing_immunizations(session, scope_at(world.austin), query(org_id=world.dallas.id))


def test_naming_the_network_answers_for_the_visible_campus_only(session: Session, world: World) -> None:
    enroll(session, world.austin_year, "Inside", without=("03",))
    enroll(session, world.dallas_year, "Outside", without=("03",))
    austin_only = scope_at(world.austin)
    by_network = find_missing_immunizations(session, austin_only, query(org_id=world.network.id))
    assert [s.last_name for s in by_network.items] == ["Inside"]
    assert by_network == find_missing_immunizations(session, austin_only, query(org_id=world.austin.id))


def test_scope_without_health_sees_no_one(session: Session, world: World) -> None:
    from policies.scope import DataClass

    enroll(session, world.austin_year, "Hidden", without=("03",))
    scope = scope_at(world.austin, classes=[DataClass.DIRECTORY, DataClass.ATTENDANCE])
    assert find_missing_immunizations(session, scope, query()).items == []


def test_guide_sees_only_assigned_students(session: Session, world: World) -> None:
    mine = enroll(session, world.austin_year, "Mine", without=("03",))
    enroll(session, world.austin_year, "Theirs", without=("03",))
    guide = create_user(session)
    assign_guide(session, guide, mine, start_on=dt.date(2025, 8, 18))
    scope = scope_at(world.austin, guide_user_id=guide.id)
    assert [s.student_id for s in find_missing_immunizations(session, scope, query()).items] == [mine.id]


# -- jurisdictions ------------------------------------------------------------------------------------------


def test_students_in_a_jurisdiction_without_requirements_are_warned_about(session: Session, world: World) -> None:
    oregon = create_org(session, level=OrgLevel.NETWORK, jurisdiction="US-OR", name="Oregon")
    portland = create_org(session, parent=oregon, jurisdiction=None, name="Portland")
    enroll(session, create_offering(session, portland), "Rainy", doses=False)
    page = find_missing_immunizations(session, scope_at(oregon, descendants=[portland]), query())
    assert page.items == []
    assert page.summary.compliant == 0
    assert page.summary.not_evaluated == 1
    assert page.warnings == ["no immunization requirements configured for jurisdiction US-OR (1 student not evaluated)"]


@pytest.mark.parametrize("spelling", ["FL", "US-FL", "us-fl"])
def test_a_florida_campus_is_evaluated_under_florida_rules_however_its_code_is_spelled(
    session: Session, world: World, spelling: str
) -> None:
    florida = create_org(session, level=OrgLevel.NETWORK, jurisdiction=spelling, name="Florida")
    miami = create_org(session, parent=florida, jurisdiction=None, name="Miami")
    enroll(session, create_offering(session, miami), "Sunny", doses=False)
    page = find_missing_immunizations(session, scope_at(florida, descendants=[miami]), query())
    assert page.warnings == [] and page.summary.students_evaluated == 1 and page.summary.missing == 1
    (sunny,) = page.items
    assert sunny.jurisdiction == spelling
    assert {g.vaccine_group for g in sunny.groups} == {"DTaP/Tdap/Td", "Polio", "MMR", "HepB", "Varicella"}


def test_a_florida_seventh_grader_without_tdap_is_missing_it_and_with_it_is_compliant(
    session: Session, world: World
) -> None:
    florida = create_org(session, level=OrgLevel.NETWORK, jurisdiction="FL", name="Florida")
    miami = create_org(session, parent=florida, jurisdiction=None, name="Miami")
    year = create_offering(session, miami)
    enroll(session, year, "Complete", grade=7)
    enroll(session, year, "Notdap", grade=7, without=("115",))
    page = find_missing_immunizations(session, scope_at(florida, descendants=[miami]), query())
    assert page.summary.students_evaluated == 2 and page.summary.compliant == 1
    (missing,) = page.items
    assert missing.last_name == "Notdap" and missing.jurisdiction == "FL"
    (group,) = missing.groups
    assert group.vaccine_group == "DTaP/Tdap/Td" and "no Tdap dose on record" in group.reason


def test_orgs_without_any_jurisdiction_are_warned_about(session: Session, world: World) -> None:
    nowhere = create_org(session, jurisdiction=None, name="Nowhere")
    enroll(session, create_offering(session, nowhere), "Lost", doses=False)
    page = find_missing_immunizations(session, scope_at(nowhere), query())
    assert page.warnings == [
        "no immunization jurisdiction set for Nowhere or any org above it (1 student not evaluated)"
    ]


def test_grades_without_rows_are_warned_about(session: Session, world: World) -> None:
    enroll(session, world.austin_year, "Tiny", grade=-1, doses=False)
    page = find_missing_immunizations(session, world.scope, query())
    assert page.warnings == ["no TX immunization requirements configured for grade pre-K (1 student not evaluated)"]


# -- one student's history -----------------------------------------------------------------------------------


def test_history_lists_doses_with_their_antigens_and_compliance(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Hist", without=("03",))
    create_dose(session, student, group="DTaP/Tdap/Td", on=dt.date(2015, 1, 1), cvx="110")
    history = get_immunization_history(session, world.scope, student.id, as_of=AS_OF)
    combo = next(r for r in history.records if r.cvx_code == "110")
    assert combo.cvx_description == "DTaP-Hep B-IPV"
    assert set(combo.antigens) == {"Diphtheria", "Tetanus", "Pertussis", "HepB", "Polio"}
    assert history.compliance is not None
    statuses = {g.vaccine_group: g.status for g in history.compliance}
    assert statuses["MMR"] == ComplianceState.MISSING
    assert statuses["Polio"] == ComplianceState.COMPLIANT


def test_history_lists_exemptions_evidence_and_provisionals_in_date_order(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Sides", without=("03", "21"))
    other = enroll(session, world.austin_year, "Bystander")
    # Entered newest first: the history must still list each kind oldest first.
    exempt(session, student, ExemptionKind.RELIGIOUS, dt.date(2025, 6, 1), dt.date(2027, 6, 1))
    exempt(session, student, ExemptionKind.MEDICAL, dt.date(2024, 6, 1), None)
    exempt(session, other, ExemptionKind.MEDICAL, dt.date(2025, 1, 1), None)
    for on, antigen in ((dt.date(2025, 5, 1), "Varicella"), (dt.date(2023, 5, 1), "Measles")):
        session.add(
            ImmunityEvidence(
                student_id=student.id, org_id=student.org_id, antigen=antigen, kind="serology", recorded_on=on
            )
        )
    for granted, group in ((dt.date(2025, 8, 20), "MMR"), (dt.date(2025, 8, 1), None)):
        session.add(
            ProvisionalEnrollment(
                student_id=student.id,
                org_id=student.org_id,
                vaccine_group=group,
                granted_on=granted,
                due_on=granted + dt.timedelta(days=30),
            )
        )
    session.flush()

    history = get_immunization_history(session, world.scope, student.id, as_of=AS_OF)

    assert [(e.kind, e.signed_on, e.expires_on) for e in history.exemptions] == [
        (ExemptionKind.MEDICAL, dt.date(2024, 6, 1), None),
        (ExemptionKind.RELIGIOUS, dt.date(2025, 6, 1), dt.date(2027, 6, 1)),
    ]
    assert {e.student_id for e in history.exemptions} == {student.id}
    assert [(e.antigen, e.recorded_on) for e in history.evidence] == [
        ("Measles", dt.date(2023, 5, 1)),
        ("Varicella", dt.date(2025, 5, 1)),
    ]
    assert [(p.vaccine_group, p.granted_on) for p in history.provisionals] == [
        (None, dt.date(2025, 8, 1)),
        ("MMR", dt.date(2025, 8, 20)),
    ]
    assert len(history.records) == 14
    assert history.compliance is not None
    # The lifelong medical exemption covers every group the missing doses leave unmet.
    statuses = {g.vaccine_group: g.status for g in history.compliance}
    assert statuses["MMR"] == ComplianceState.EXEMPT
    assert statuses["Varicella"] == ComplianceState.EVIDENCE
    assert statuses["Polio"] == ComplianceState.COMPLIANT


def test_history_without_an_as_of_date_has_no_compliance(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Plain")
    history = get_immunization_history(session, world.scope, student.id)
    assert history.compliance is None
    assert len(history.records) == 18


def test_history_of_a_student_outside_the_scope_is_not_found(session: Session, world: World) -> None:
    student = enroll(session, world.dallas_year, "Away")
    with pytest.raises(NotFound):
        get_immunization_history(session, scope_at(world.austin), student.id)


def test_guide_cannot_read_an_unassigned_students_history(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Unassigned")
    guide = create_user(session)
    with pytest.raises(NotFound):
        get_immunization_history(session, scope_at(world.austin, guide_user_id=guide.id), student.id)


# -- recording doses -------------------------------------------------------------------------------------------


def test_recording_a_dose_normalises_cvx_derives_the_group_and_audits_it(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Rec", without=("03",))
    data = RecordImmunizationInput(student_id=student.id, administered_on=dt.date(2025, 8, 1), cvx_code="3")
    read = record_immunization(session, world.scope, data, today=AS_OF)
    assert (read.cvx_code, read.vaccine_group, read.antigens) == ("03", "MMR", ["Measles", "Mumps", "Rubella"])
    stored = session.get(ImmunizationRecord, read.id)
    assert stored is not None and stored.org_id == student.org_id
    events = session.execute(select(ChangeEvent).where(ChangeEvent.entity_id == str(read.id))).scalars().all()
    assert {e.field for e in events} >= {"cvx_code", "vaccine_group", "administered_on", "student_id"}
    assert {e.reason for e in events} == {"immunization recorded"}


def test_recorded_dose_closes_the_gap(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Gap", without=("03",))
    for day in (dt.date(2015, 4, 1), dt.date(2019, 4, 1)):
        data = RecordImmunizationInput(student_id=student.id, administered_on=day, cvx_code="03")
        record_immunization(session, world.scope, data, today=AS_OF)
    assert find_missing_immunizations(session, world.scope, query()).items == []


def test_group_only_dose_keeps_its_product(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Paper")
    data = RecordImmunizationInput(
        student_id=student.id, administered_on=dt.date(2025, 8, 1), vaccine_group="dtap/tdap/td", product="tdap"
    )
    read = record_immunization(session, world.scope, data, today=AS_OF)
    assert (read.vaccine_group, read.product) == ("DTaP/Tdap/Td", "Tdap")
    assert "Pertussis" in read.antigens


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"administered_on": AS_OF + dt.timedelta(days=1), "cvx_code": "03"}, "administered_on"),
        ({"administered_on": dt.date(2010, 1, 1), "cvx_code": "03"}, "administered_on"),
        ({"administered_on": AS_OF, "cvx_code": "999"}, "cvx_code"),
        ({"administered_on": AS_OF}, "cvx_code"),
        ({"administered_on": AS_OF, "cvx_code": "03", "vaccine_group": "Polio"}, "vaccine_group"),
        ({"administered_on": AS_OF, "vaccine_group": "DTaP/Tdap/Td", "product": "Pentacel"}, "product"),
    ],
)
def test_invalid_doses_are_rejected_and_nothing_is_written(
    session: Session, world: World, fields: dict[str, Any], field: str
) -> None:
    student = enroll(session, world.austin_year, "Bad", doses=False)
    with pytest.raises(InvalidInput) as raised:
        record_immunization(session, world.scope, RecordImmunizationInput(student_id=student.id, **fields), today=AS_OF)
    assert raised.value.field == field
    count = session.execute(select(ImmunizationRecord).where(ImmunizationRecord.student_id == student.id)).all()
    assert count == []


def test_unknown_vaccine_group_is_rejected_by_the_input_model() -> None:
    import uuid

    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown vaccine group"):
        RecordImmunizationInput(student_id=uuid.uuid4(), administered_on=AS_OF, vaccine_group="Flu shot")


def test_recording_the_same_dose_twice_is_a_duplicate(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Twice", doses=False)
    data = RecordImmunizationInput(student_id=student.id, administered_on=dt.date(2025, 8, 1), cvx_code="115")
    record_immunization(session, world.scope, data, today=AS_OF)
    with pytest.raises(DuplicateRecord):
        record_immunization(session, world.scope, data, today=AS_OF)


def test_read_only_health_scope_cannot_record_a_dose(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "ReadOnly", doses=False)
    data = RecordImmunizationInput(student_id=student.id, administered_on=dt.date(2025, 8, 1), cvx_code="03")
    with pytest.raises(PermissionDenied):
        record_immunization(session, scope_at(world.austin, actions=[Action.READ]), data, today=AS_OF)


def test_recording_a_dose_for_a_student_outside_the_scope_is_not_found(session: Session, world: World) -> None:
    student = enroll(session, world.dallas_year, "Far", doses=False)
    data = RecordImmunizationInput(student_id=student.id, administered_on=dt.date(2025, 8, 1), cvx_code="03")
    with pytest.raises(NotFound):
        record_immunization(session, scope_at(world.austin), data, today=AS_OF)


# -- recording exemptions ----------------------------------------------------------------------------------------


def test_affidavit_expires_two_years_after_signing_by_default(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Affidavit", without=("03",))
    data = RecordExemptionInput(student_id=student.id, kind=ExemptionKind.CONSCIENTIOUS, signed_on=dt.date(2025, 8, 1))
    read = record_exemption(session, world.scope, data, today=AS_OF)
    assert read.expires_on == dt.date(2027, 8, 1)
    events = session.execute(select(ChangeEvent).where(ChangeEvent.entity_id == str(read.id))).scalars().all()
    assert {e.reason for e in events} == {"exemption recorded"}
    [item] = find_missing_immunizations(session, world.scope, query()).items
    assert item.status == ComplianceState.EXEMPT


def test_lifelong_medical_exemption_has_no_expiry(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "Lifelong", doses=False)
    data = RecordExemptionInput(
        student_id=student.id, kind=ExemptionKind.MEDICAL, signed_on=dt.date(2025, 8, 1), lifelong=True
    )
    assert record_exemption(session, world.scope, data, today=AS_OF).expires_on is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": ExemptionKind.RELIGIOUS, "signed_on": dt.date(2025, 8, 1), "lifelong": True}, "lifelong"),
        ({"kind": ExemptionKind.CONSCIENTIOUS, "signed_on": AS_OF + dt.timedelta(days=1)}, "signed_on"),
        (
            {"kind": ExemptionKind.CONSCIENTIOUS, "signed_on": dt.date(2025, 8, 1), "expires_on": dt.date(2027, 8, 2)},
            "expires_on",
        ),
        (
            {"kind": ExemptionKind.MEDICAL, "signed_on": dt.date(2025, 8, 1), "expires_on": dt.date(2025, 7, 1)},
            "expires_on",
        ),
    ],
)
def test_invalid_exemptions_are_rejected(session: Session, world: World, fields: dict[str, Any], field: str) -> None:
    student = enroll(session, world.austin_year, "BadExempt", doses=False)
    with pytest.raises(InvalidInput) as raised:
        record_exemption(session, world.scope, RecordExemptionInput(student_id=student.id, **fields), today=AS_OF)
    assert raised.value.field == field


def test_read_only_health_scope_cannot_record_an_exemption(session: Session, world: World) -> None:
    student = enroll(session, world.austin_year, "NoWrite", doses=False)
    data = RecordExemptionInput(student_id=student.id, kind=ExemptionKind.MEDICAL, signed_on=dt.date(2025, 8, 1))
    with pytest.raises(PermissionDenied):
        record_exemption(session, scope_at(world.austin, actions=[Action.READ]), data, today=AS_OF)


def test_recording_an_exemption_for_a_student_outside_the_scope_is_not_found(session: Session, world: World) -> None:
    student = enroll(session, world.dallas_year, "FarExempt", doses=False)
    data = RecordExemptionInput(student_id=student.id, kind=ExemptionKind.MEDICAL, signed_on=dt.date(2025, 8, 1))
    with pytest.raises(NotFound):
        record_exemption(session, scope_at(world.austin), data, today=AS_OF)


# -- a defect in the requirement data -------------------------------------------------------------------


def test_a_malformed_requirement_row_is_an_internal_error_not_the_callers_mistake(
    demo_deps: Any, persona: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with demo_deps.session_factory.begin() as session:
        session.execute(update(ImmunizationRequirement).values(conditions={"min_age": "soon"}))
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona("nurse_austin"), "find_missing_immunizations", {}, channel="test")
    assert (refused.value.code, refused.value.status) == ("internal_error", 500)
    # The row's defect is in the server log, not in the answer.
    assert "requirement" not in refused.value.message and "not an age" in caplog.text
    with demo_deps.session_factory() as session:
        entry = session.get(QueryLog, refused.value.audit_seq)
        assert entry is not None and (entry.outcome, entry.error_code) == (QueryOutcome.ERROR, "internal_error")
