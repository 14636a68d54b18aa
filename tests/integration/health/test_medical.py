"""Medical records through the runner as demo personas: the nurse keeps them, the director reads them,
the registrar (immunizations only) does not; out of scope is not found; bad input writes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from db.demo.calendar import DEMO_TODAY
from db.models import (
    Allergy,
    ChangeEvent,
    Enrollment,
    EnrollmentStatus,
    HealthCondition,
    ImmunizationRecord,
    Medication,
    Organization,
    Student,
)
from domain.health import medical
from domain.health.medical_schemas import RecordMedicationInput
from policies.principal import AuthMethod
from policies.scope import Actor, DataClass, scope_for_orgs
from tools.runner import ToolCallError, run_tool


def _student(deps, slug: str, grade: int = 5) -> str:
    """An enrolled student of a campus (by slug), as a string id."""
    with deps.session_factory() as s:
        return str(
            s.execute(
                select(Student.id)
                .join(Enrollment, Enrollment.student_id == Student.id)
                .join(Organization, Organization.id == Student.org_id)
                .where(
                    Organization.slug == slug,
                    Enrollment.grade_level == grade,
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                )
                .order_by(Student.student_number)
                .limit(1)
            ).scalar_one()
        )


def _count(deps, model) -> int:
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _events(deps, table: str, entity_id: str) -> dict[str, tuple[str | None, str | None]]:
    with deps.session_factory() as s:
        rows = s.execute(
            select(ChangeEvent).where(ChangeEvent.entity_type == table, ChangeEvent.entity_id == entity_id)
        ).scalars()
        return {e.field: (e.old_value, e.new_value) for e in rows}


def _refused(deps, principal, tool: str, arguments: dict) -> ToolCallError:
    with pytest.raises(ToolCallError) as refused:
        run_tool(deps, principal, tool, arguments)
    return refused.value


# -- the nurse keeps the records -------------------------------------------------------------------------


def test_the_nurse_records_and_ends_a_medication_with_change_events(demo_deps, persona):
    nurse, student = persona("nurse_austin"), _student(demo_deps, "austin")
    made = run_tool(
        demo_deps,
        nurse,
        "record_medication",
        {"student_id": student, "name": "  Albuterol inhaler ", "dosage": "2 puffs", "schedule": "as needed"},
    ).data
    assert made["name"] == "Albuterol inhaler" and made["start_on"] == DEMO_TODAY.isoformat() and not made["end_on"]
    events = _events(demo_deps, "medication", made["id"])
    assert events["name"] == (None, "Albuterol inhaler") and events["student_id"] == (None, student)
    ended = run_tool(
        demo_deps, nurse, "end_medication", {"medication_id": made["id"], "reason": "course finished"}
    ).data
    assert ended["end_on"] == DEMO_TODAY.isoformat()
    assert _events(demo_deps, "medication", made["id"])["end_on"] == (None, DEMO_TODAY.isoformat())
    profile = run_tool(demo_deps, nurse, "get_health_profile", {"student_id": student}).data
    assert made["id"] in {m["id"] for m in profile["current_medications"]}, "its last day is today"


def test_a_medication_ended_yesterday_is_listed_as_ended(demo_deps, persona):
    nurse, student = persona("nurse_austin"), _student(demo_deps, "austin")
    start = (DEMO_TODAY - dt.timedelta(days=30)).isoformat()
    made = run_tool(
        demo_deps, nurse, "record_medication", {"student_id": student, "name": "Amoxicillin", "start_on": start}
    ).data
    yesterday = (DEMO_TODAY - dt.timedelta(days=1)).isoformat()
    run_tool(demo_deps, nurse, "end_medication", {"medication_id": made["id"], "end_on": yesterday})
    profile = run_tool(demo_deps, nurse, "get_health_profile", {"student_id": student}).data
    assert made["id"] in {m["id"] for m in profile["ended_medications"]}
    assert made["id"] not in {m["id"] for m in profile["current_medications"]}
    refused = _refused(demo_deps, nurse, "end_medication", {"medication_id": made["id"]})
    assert refused.code == "invalid_input" and refused.field == "medication_id"


def test_the_nurse_records_and_updates_an_allergy_and_the_old_severity_is_kept(demo_deps, persona):
    nurse, student = persona("nurse_austin"), _student(demo_deps, "austin")
    made = run_tool(
        demo_deps, nurse, "record_allergy", {"student_id": student, "allergen": "Kiwi", "severity": "mild"}
    ).data
    assert _events(demo_deps, "allergy", made["id"])["severity"] == (None, "mild")
    updated = run_tool(
        demo_deps, nurse, "update_allergy", {"allergy_id": made["id"], "severity": "severe", "reaction": "Hives"}
    ).data
    assert updated["severity"] == "severe" and updated["reaction"] == "Hives"
    with demo_deps.session_factory() as s:
        changes = s.execute(
            select(ChangeEvent.field, ChangeEvent.old_value, ChangeEvent.new_value).where(
                ChangeEvent.entity_id == made["id"], ChangeEvent.field == "severity"
            )
        ).all()
    assert sorted(changes, key=str) == sorted([("severity", None, "mild"), ("severity", "mild", "severe")], key=str)
    duplicate = _refused(
        demo_deps, nurse, "record_allergy", {"student_id": student, "allergen": "KIWI", "severity": "mild"}
    )
    assert duplicate.code == "invalid_input" and duplicate.field == "allergen"


def test_the_nurse_records_a_condition_and_the_profile_lists_everything(demo_deps, persona):
    nurse, student = persona("nurse_austin"), _student(demo_deps, "austin")
    condition = run_tool(
        demo_deps,
        nurse,
        "record_condition",
        {"student_id": student, "name": "Asthma", "notes": "Inhaler in the office", "since_on": "2022-03-01"},
    ).data
    assert condition["status"] == "active"
    assert _events(demo_deps, "health_condition", condition["id"])["name"] == (None, "Asthma")
    profile = run_tool(demo_deps, nurse, "get_health_profile", {"student_id": student}).data
    assert [c["name"] for c in profile["conditions"]] == ["Asthma"]
    assert profile["immunization"]["as_of"] == DEMO_TODAY.isoformat()
    assert profile["immunization"]["status"] in {"compliant", "missing", "exempt", "provisional"}
    assert profile["immunization"]["groups"] and profile["immunization_note"] is None


# -- who may read and write ------------------------------------------------------------------------------


def test_the_director_reads_allergies_but_may_not_record_them(demo_deps, persona):
    nurse_like = persona("network_admin")
    student = _student(demo_deps, "miami")
    run_tool(demo_deps, nurse_like, "record_allergy", {"student_id": student, "allergen": "Bees", "severity": "severe"})
    director = persona("director_miami")
    profile = run_tool(demo_deps, director, "get_health_profile", {"student_id": student}).data
    assert "Bees" in {a["allergen"] for a in profile["allergies"]}
    assert profile["immunization"] is not None, "directors read immunization compliance too"
    before = _count(demo_deps, Allergy)
    refused = _refused(
        demo_deps, director, "record_allergy", {"student_id": student, "allergen": "Wasps", "severity": "mild"}
    )
    assert refused.code == "permission_denied" and refused.message == "your role may not change health records"
    assert _count(demo_deps, Allergy) == before


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("get_health_profile", {}),
        ("record_medication", {"name": "Ibuprofen"}),
        ("record_allergy", {"allergen": "Peanuts", "severity": "severe"}),
        ("record_condition", {"name": "Asthma"}),
    ],
)
def test_the_registrar_keeps_immunizations_but_cannot_read_or_write_medical_records(
    demo_deps, persona, tool, arguments
):
    registrar = persona("registrar_austin")
    refused = _refused(demo_deps, registrar, tool, {"student_id": _student(demo_deps, "austin"), **arguments})
    assert refused.code == "permission_denied" and "health records" in refused.message


def test_the_registrar_records_immunizations_at_her_campus_only(demo_deps, persona):
    registrar = persona("registrar_austin")
    austin, miami = _student(demo_deps, "austin"), _student(demo_deps, "miami")
    dose = {"administered_on": "2025-06-02", "cvx_code": "141", "reason": "flu clinic"}
    made = run_tool(demo_deps, registrar, "record_immunization", {"student_id": austin, **dose}).data
    assert _events(demo_deps, "immunization_record", made["id"])["cvx_code"] == (None, "141")
    history = run_tool(demo_deps, registrar, "get_immunization_history", {"student_id": austin}).data
    assert made["id"] in {r["id"] for r in history["records"]}
    before = _count(demo_deps, ImmunizationRecord)
    outside = _refused(demo_deps, registrar, "record_immunization", {"student_id": miami, **dose})
    assert outside.code == "not_found" and outside.field == "student_id"
    assert _refused(demo_deps, registrar, "get_immunization_history", {"student_id": miami}).code == "not_found"
    assert _count(demo_deps, ImmunizationRecord) == before


def test_a_guide_may_not_record_an_exemption(demo_deps, persona):
    refused = _refused(
        demo_deps,
        persona("guide_austin"),
        "record_exemption",
        {"student_id": _student(demo_deps, "austin"), "kind": "medical", "signed_on": "2026-09-01"},
    )
    assert refused.code == "permission_denied" and refused.message == "your role may not change immunization records"


# -- out of scope, read-only keys, bad input --------------------------------------------------------------


def test_a_student_of_another_campus_is_not_found_and_nothing_is_written(demo_deps, persona):
    nurse, miami = persona("nurse_austin"), _student(demo_deps, "miami")
    before = (_count(demo_deps, Medication), _count(demo_deps, Allergy), _count(demo_deps, HealthCondition))
    for tool, arguments in [
        ("get_health_profile", {}),
        ("record_medication", {"name": "Ibuprofen"}),
        ("record_allergy", {"allergen": "Peanuts", "severity": "severe"}),
        ("record_condition", {"name": "Asthma"}),
    ]:
        refused = _refused(demo_deps, nurse, tool, {"student_id": miami, **arguments})
        assert (refused.code, refused.field) == ("not_found", "student_id"), tool
    assert (_count(demo_deps, Medication), _count(demo_deps, Allergy), _count(demo_deps, HealthCondition)) == before


def test_a_medication_or_allergy_of_another_campus_is_not_found(demo_deps, persona):
    admin, miami = persona("network_admin"), _student(demo_deps, "miami")
    medication = run_tool(demo_deps, admin, "record_medication", {"student_id": miami, "name": "Insulin"}).data
    allergy = run_tool(
        demo_deps, admin, "record_allergy", {"student_id": miami, "allergen": "Latex", "severity": "moderate"}
    ).data
    nurse = persona("nurse_austin")
    ended = _refused(demo_deps, nurse, "end_medication", {"medication_id": medication["id"]})
    assert (ended.code, ended.field) == ("not_found", "medication_id")
    changed = _refused(demo_deps, nurse, "update_allergy", {"allergy_id": allergy["id"], "severity": "mild"})
    assert (changed.code, changed.field) == ("not_found", "allergy_id")
    missing = _refused(demo_deps, nurse, "update_allergy", {"allergy_id": str(uuid.uuid4()), "severity": "mild"})
    assert (missing.code, missing.field) == ("not_found", "allergy_id")
    with demo_deps.session_factory() as s:
        assert s.get(Medication, uuid.UUID(medication["id"])).end_on is None
        assert s.get(Allergy, uuid.UUID(allergy["id"])).severity == "moderate"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("record_medication", {"name": "Ibuprofen"}),
        ("record_allergy", {"allergen": "Peanuts", "severity": "severe"}),
        ("record_condition", {"name": "Asthma"}),
    ],
)
def test_a_read_only_key_cannot_write_medical_records(demo_deps, persona, tool, arguments):
    keyed = replace(persona("nurse_austin"), auth_method=AuthMethod.API_KEY, token_scopes=("sis.read",))
    student = _student(demo_deps, "austin")
    refused = _refused(demo_deps, keyed, tool, {"student_id": student, **arguments})
    assert refused.code == "permission_denied"
    assert run_tool(demo_deps, keyed, "get_health_profile", {"student_id": student}).data["student_id"] == student


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("record_medication", {"name": "   "}, "name"),
        ("record_medication", {"name": "Ibuprofen", "start_on": "2026-09-10", "end_on": "2026-09-01"}, None),
        ("record_medication", {"name": "Ibuprofen", "end_on": "2026-01-01"}, "end_on"),
        ("record_allergy", {"allergen": "Peanuts", "severity": "extreme"}, "severity"),
        ("record_allergy", {"allergen": "", "severity": "mild"}, "allergen"),
        ("record_condition", {"name": "Asthma", "since_on": "2099-01-01"}, "since_on"),
        ("record_condition", {"name": "Asthma", "status": "cured"}, "status"),
        ("record_condition", {"name": ""}, "name"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(demo_deps, persona, tool, arguments, field):
    nurse = persona("nurse_austin")
    before = (_count(demo_deps, Medication), _count(demo_deps, Allergy), _count(demo_deps, HealthCondition))
    refused = _refused(demo_deps, nurse, tool, {"student_id": _student(demo_deps, "austin"), **arguments})
    assert refused.code == "invalid_input" and refused.message
    if field is not None:
        assert refused.field == field
    assert (_count(demo_deps, Medication), _count(demo_deps, Allergy), _count(demo_deps, HealthCondition)) == before


def test_an_allergy_update_that_changes_nothing_is_refused(demo_deps, persona):
    nurse = persona("nurse_austin")
    made = run_tool(
        demo_deps,
        nurse,
        "record_allergy",
        {"student_id": _student(demo_deps, "austin"), "allergen": "Soy", "severity": "mild"},
    ).data
    refused = _refused(demo_deps, nurse, "update_allergy", {"allergy_id": made["id"]})
    assert refused.code == "invalid_input" and "at least one" in refused.message


# -- the profile without immunization access ------------------------------------------------------------


def test_a_profile_for_a_caller_without_immunization_access_says_it_is_not_visible(demo_session):
    student = demo_session.execute(select(Student).limit(1)).scalar_one()
    medical_only = scope_for_orgs(
        Actor(user_id=None, label="test"), [student.org_id], classes=[DataClass.DIRECTORY, DataClass.HEALTH]
    )
    medical.record_medication(
        demo_session, medical_only, RecordMedicationInput(student_id=student.id, name="Melatonin"), today=DEMO_TODAY
    )
    profile = medical.get_health_profile(demo_session, medical_only, student.id, today=DEMO_TODAY)
    assert profile.immunization is None
    assert profile.immunization_note == "immunization records of this student are not visible to your role"
    assert "Melatonin" in {m.name for m in profile.current_medications}
