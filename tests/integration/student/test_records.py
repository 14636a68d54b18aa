"""Student records through the runner: create (duplicates, identifiers), update per data class, deactivate."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from db.models import Enrollment, EnrollmentStatus, Student, StudentIdentifier
from tests.integration.student.records_helpers import (
    call,
    changes_of,
    child,
    events_of,
    org_id,
    read_only,
    refused,
    student_count,
)


def test_registrar_creates_a_student_with_the_next_number_identifiers_and_change_events(demo_deps, persona):
    austin = org_id(demo_deps, "austin")
    with demo_deps.session_factory() as session:
        highest = session.execute(select(func.max(Student.student_number))).scalar_one()
    profile = call(
        demo_deps,
        persona("registrar_austin"),
        "create_student",
        **child(austin, middle_name="Luz", preferred_name="Annie", email="ana@example.org"),
        sex="female",
        races=["White", "Asian"],
        hispanic_latino=True,
        home_language="Spanish",
        state_student_id="TX1234567",
        identifiers={"oneroster": "src-1", "partner:lakeside": "42"},
        reason="new family",
    )
    assert profile["student_number"] == highest + 1
    assert (profile["middle_name"], profile["races"], profile["hispanic_latino"]) == ("Luz", ["Asian", "White"], True)
    assert profile["email"] == "ana@example.org" and profile["hidden"] == []
    assert {(i["system"], i["value"]) for i in profile["identifiers"]} == {
        ("state", "TX1234567"),
        ("oneroster", "src-1"),
        ("partner:lakeside", "42"),
    }
    with demo_deps.session_factory() as session:
        row = session.get_one(Student, uuid.UUID(profile["id"]))
        assert (row.home_language, row.is_active, str(row.org_id)) == ("Spanish", True, austin)
        changes = changes_of(session, "student", row.id)
        assert changes["last_name"][1] == row.last_name and changes["birth_on"][1] == "2016-04-02"
        assert changes["first_name"][2] == "new family"
        identifier = session.execute(
            select(StudentIdentifier).where(StudentIdentifier.system == "oneroster", StudentIdentifier.value == "src-1")
        ).scalar_one()
        assert changes_of(session, "student_identifier", identifier.id)["value"][1] == "src-1"
        (event,) = events_of(session, "student.created", row.id)
        assert event["student_number"] == row.student_number and "last_name" not in event and "birth_on" not in event


def test_a_child_with_the_same_name_and_birth_date_is_refused_until_confirmed_as_new(demo_deps, persona):
    registrar, austin = persona("registrar_austin"), org_id(demo_deps, "austin")
    first = call(demo_deps, registrar, "create_student", **child(austin, "José María", "Núñez-Test"))
    before = student_count(demo_deps)
    error = refused(demo_deps, registrar, "create_student", **child(austin, "  jose   MARIA ", "nunez-test"))
    assert (error.code, error.field) == ("duplicate_record", "confirm_new_person")
    assert str(first["student_number"]) in error.message
    assert student_count(demo_deps) == before
    second = call(
        demo_deps, registrar, "create_student", **child(austin, "Jose Maria", "Nunez-Test"), confirm_new_person=True
    )
    assert second["student_number"] == first["student_number"] + 1


def test_a_possible_duplicate_outside_the_callers_scope_is_never_revealed(demo_deps, persona):
    call(
        demo_deps,
        persona("registrar_miami"),
        "create_student",
        **child(org_id(demo_deps, "miami"), "Lia", "Hidden-Test"),
    )
    created = call(
        demo_deps,
        persona("registrar_austin"),
        "create_student",
        **child(org_id(demo_deps, "austin"), "Lia", "Hidden-Test"),
    )
    assert created["last_name"] == "Hidden-Test"


def test_an_identifier_of_another_student_is_refused_naming_that_students_number(demo_deps, persona):
    registrar, austin = persona("registrar_austin"), org_id(demo_deps, "austin")
    owner = call(demo_deps, registrar, "create_student", **child(austin), identifiers={"oneroster": "dup-1"})
    before = student_count(demo_deps)
    error = refused(demo_deps, registrar, "create_student", **child(austin), identifiers={"oneroster": "dup-1"})
    assert error.code == "duplicate_record" and str(owner["student_number"]) in error.message
    assert student_count(demo_deps) == before


def test_a_partner_integration_rosters_a_child_with_demographics_but_no_contact_details(demo_deps, persona):
    partner, lakeside = persona("integration_lakeside"), org_id(demo_deps, "lakeside")
    profile = call(demo_deps, partner, "create_student", **child(lakeside), races=["Black or African American"])
    # The partner may record demographics at creation but not read them back.
    assert profile["races"] is None and "demographics" in profile["hidden"]
    with demo_deps.session_factory() as session:
        assert session.get_one(Student, uuid.UUID(profile["id"])).races == ["Black or African American"]
    error = refused(demo_deps, partner, "create_student", **child(lakeside), email="kid@example.org")
    assert (error.code, error.field) == ("permission_denied", "email")


def test_create_student_refusals_write_nothing(demo_deps, persona):
    registrar, austin = persona("registrar_austin"), org_id(demo_deps, "austin")
    before = student_count(demo_deps)
    no_birth = child(austin)
    del no_birth["birth_on"]
    cases = [
        (persona("nurse_austin"), child(austin), "permission_denied", None),
        (read_only(registrar), child(austin), "permission_denied", None),
        (registrar, child(org_id(demo_deps, "miami")), "not_found", "org_id"),
        (registrar, no_birth, "invalid_input", "birth_on"),
        (registrar, child(austin, birth_on="2099-01-01"), "invalid_input", "birth_on"),
        (registrar, child(austin, birth_on="1950-01-01"), "invalid_input", "birth_on"),
        (registrar, child(austin, grade_level=14), "invalid_input", "grade_level"),
        (registrar, child(austin, races=["Martian"]), "invalid_input", "races.0"),
        (registrar, child(austin, identifiers={"Bad System!": "1"}), "invalid_input", "identifiers"),
    ]
    for principal, arguments, code, field in cases:
        error = refused(demo_deps, principal, "create_student", **arguments)
        assert (error.code, error.field if field else None) == (code, field), arguments
    assert student_count(demo_deps) == before


def test_update_records_each_changed_field_with_the_reason_and_an_event_without_values(demo_deps, persona):
    registrar = persona("registrar_austin")
    created = call(demo_deps, registrar, "create_student", **child(org_id(demo_deps, "austin")))
    profile = call(
        demo_deps,
        registrar,
        "update_student",
        student_id=created["id"],
        reason="birth certificate seen",
        last_name="Certified-Test",
        birth_on="2016-05-02",
        phone="555-0100",
        preferred_name=None,
        identifiers={"state": "TX999"},
    )
    assert (profile["last_name"], profile["birth_on"], profile["phone"]) == ("Certified-Test", "2016-05-02", "555-0100")
    with demo_deps.session_factory() as session:
        changes = changes_of(session, "student", created["id"])
        assert changes["last_name"][1:] == ("Certified-Test", "birth certificate seen")
        assert changes["birth_on"][:2] == ("2016-04-02", "2016-05-02")
        (event,) = events_of(session, "student.updated", created["id"])
        assert event["fields"] == ["birth_on", "last_name", "phone", "identifiers"]
        assert "Certified-Test" not in str(event)


def test_update_refuses_fields_of_classes_the_role_may_not_change(demo_deps, persona):
    partner, lakeside = persona("integration_lakeside"), org_id(demo_deps, "lakeside")
    created = call(demo_deps, partner, "create_student", **child(lakeside))
    error = refused(demo_deps, partner, "update_student", student_id=created["id"], reason="x", birth_on="2016-01-01")
    assert (error.code, error.field) == ("permission_denied", "birth_on")
    assert "demographic" in error.message
    # The partner may still change directory fields.
    renamed = call(demo_deps, partner, "update_student", student_id=created["id"], reason="typo", first_name="Anna")
    assert renamed["first_name"] == "Anna"


def test_update_refusals_write_nothing(demo_deps, persona):
    registrar = persona("registrar_austin")
    created = call(demo_deps, registrar, "create_student", **child(org_id(demo_deps, "austin")))
    miami = call(demo_deps, persona("registrar_miami"), "create_student", **child(org_id(demo_deps, "miami")))
    sid = created["id"]
    cases = [
        (registrar, {"student_id": sid, "first_name": "X"}, "invalid_input", "reason"),
        (registrar, {"student_id": sid, "reason": "r", "last_name": None}, "invalid_input", "last_name"),
        (registrar, {"student_id": sid, "reason": "r", "birth_on": "2099-01-01"}, "invalid_input", "birth_on"),
        (registrar, {"student_id": sid, "reason": "r", "grade_level": 14}, "invalid_input", "grade_level"),
        (registrar, {"student_id": miami["id"], "reason": "r", "first_name": "X"}, "not_found", "student_id"),
        (persona("nurse_austin"), {"student_id": sid, "reason": "r", "first_name": "X"}, "permission_denied", None),
        (read_only(registrar), {"student_id": sid, "reason": "r", "first_name": "X"}, "permission_denied", None),
    ]
    for principal, arguments, code, field in cases:
        error = refused(demo_deps, principal, "update_student", **arguments)
        assert (error.code, error.field if field else None) == (code, field), arguments
    with demo_deps.session_factory() as session:
        assert session.get_one(Student, uuid.UUID(sid)).first_name == "Ana"
        assert set(changes_of(session, "student", sid)) >= {"first_name"}
        assert changes_of(session, "student", sid)["first_name"][0] is None  # only the creation


def test_deactivation_waits_for_stints_to_end_and_hides_the_student_from_search(demo_deps, persona):
    registrar = persona("registrar_austin")
    with demo_deps.session_factory() as session:
        enrolled = (
            session.execute(
                select(Enrollment.student_id).where(
                    Enrollment.org_id == uuid.UUID(org_id(demo_deps, "austin")),
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                )
            )
            .scalars()
            .first()
        )
    error = refused(demo_deps, registrar, "deactivate_student", student_id=str(enrolled), reason="moved")
    assert (error.code, error.field) == ("invalid_transition", "student_id") and "withdraw_enrollment" in error.message

    created = call(demo_deps, registrar, "create_student", **child(org_id(demo_deps, "austin")))
    profile = call(demo_deps, registrar, "deactivate_student", student_id=created["id"], reason="moved out of state")
    assert (profile["is_active"], profile["inactive_reason"]) == (False, "moved out of state")
    found = call(demo_deps, registrar, "search_students", text=created["last_name"])
    assert found["total"] == 0
    found = call(demo_deps, registrar, "search_students", text=created["last_name"], include_inactive=True)
    assert [s["id"] for s in found["items"]] == [created["id"]] and found["items"][0]["is_active"] is False
    again = refused(demo_deps, registrar, "deactivate_student", student_id=created["id"], reason="again")
    assert again.code == "invalid_transition"
    with demo_deps.session_factory() as session:
        assert changes_of(session, "student", created["id"])["is_active"][:2] == ("True", "False")


def test_deactivate_refusals(demo_deps, persona):
    registrar = persona("registrar_austin")
    created = call(demo_deps, registrar, "create_student", **child(org_id(demo_deps, "austin")))
    miami = call(demo_deps, persona("registrar_miami"), "create_student", **child(org_id(demo_deps, "miami")))
    for principal, sid, code in [
        (persona("nurse_austin"), created["id"], "permission_denied"),
        (read_only(registrar), created["id"], "permission_denied"),
        (registrar, miami["id"], "not_found"),
    ]:
        assert refused(demo_deps, principal, "deactivate_student", student_id=sid, reason="r").code == code
    with demo_deps.session_factory() as session:
        assert session.get_one(Student, uuid.UUID(created["id"])).is_active is True


def test_oneroster_demographics_carry_every_race_and_ethnicity_apart(demo_deps, persona):
    registrar = persona("registrar_austin")
    created = call(
        demo_deps,
        registrar,
        "create_student",
        **child(org_id(demo_deps, "austin")),
        races=["Asian", "White"],
        hispanic_latino=True,
    )
    page = call(demo_deps, registrar, "oneroster_demographics", sourced_id=created["id"])
    (flat,) = page["items"]
    assert (flat["asian"], flat["white"], flat["blackOrAfricanAmerican"]) == ("true", "true", "false")
    assert (flat["demographicRaceTwoOrMoreRaces"], flat["hispanicOrLatinoEthnicity"]) == ("true", "true")
