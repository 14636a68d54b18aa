"""Admissions intake: an applicant without a student record, and acceptance through the duplicate check."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from db.demo.calendar import DEMO_TODAY
from db.models import Application, Enrollment, Student
from tests.integration.student.records_helpers import (
    call,
    changes_of,
    child,
    org_id,
    read_only,
    refused,
    student_count,
)

TODAY = DEMO_TODAY.isoformat()


def _open_offering(deps, principal, campus: str, grade: int = 4) -> str:
    page = call(deps, principal, "list_offerings", org_id=org_id(deps, campus), status="open", limit=200)
    for item in page["items"]:
        seats = item["seats_left"] is None or item["seats_left"] > 0
        dates = item["start_on"] <= TODAY <= item["end_on"]
        if seats and dates and item["grade_min"] <= grade <= item["grade_max"]:
            return item["id"]
    raise AssertionError(f"the demo data has an open {campus} offering for grade {grade}")


def _applicant(offering: str, last: str, **extra):
    return {
        "offering_id": offering,
        "applying_for_grade": 4,
        "applicant_first_name": "Noa",
        "applicant_last_name": last,
        "applicant_birth_on": "2016-04-02",
        "guardian_name": "Sam Parent",
        "guardian_email": "sam@example.org",
        **extra,
    }


def _offer(deps, principal, application_id: str) -> None:
    call(deps, principal, "advance_application", application_id=application_id, action="make_offer", on=TODAY)


def test_an_applicant_new_to_the_school_becomes_a_student_and_an_enrollment_on_acceptance(demo_deps, persona):
    admissions = persona("admissions_austin")
    offering = _open_offering(demo_deps, admissions, "austin")
    last = f"Intake{uuid.uuid4().hex[:6]}"
    submitted = call(demo_deps, admissions, "submit_application", **_applicant(offering, last))
    assert submitted["student_id"] is None and submitted["submitted_on"] == TODAY
    assert (submitted["applicant_last_name"], submitted["guardian_email"]) == (last, "sam@example.org")
    with demo_deps.session_factory() as session:
        assert changes_of(session, "application", submitted["id"])["guardian_email"][1] == "sam@example.org"
    _offer(demo_deps, admissions, submitted["id"])
    accepted = call(
        demo_deps, admissions, "advance_application", application_id=submitted["id"], action="accept_offer", on=TODAY
    )
    assert accepted["status"] == "accepted" and accepted["student_id"] is not None
    with demo_deps.session_factory() as session:
        student = session.get_one(Student, uuid.UUID(accepted["student_id"]))
        assert (student.last_name, str(student.birth_on), student.grade_level) == (last, "2016-04-02", 4)
        enrollment = session.get_one(Enrollment, uuid.UUID(accepted["enrollment_id"]))
        assert enrollment.student_id == student.id
        assert changes_of(session, "student", student.id)["last_name"][2] == f"accepted application {submitted['id']}"
        assert changes_of(session, "application", submitted["id"])["student_id"][1] == str(student.id)


def test_acceptance_refuses_a_likely_duplicate_until_linked_or_confirmed(demo_deps, persona):
    admissions, registrar = persona("admissions_austin"), persona("registrar_austin")
    austin = org_id(demo_deps, "austin")
    last = f"Twin{uuid.uuid4().hex[:6]}"
    existing = call(demo_deps, registrar, "create_student", **child(austin, "Noa", last))
    offering = _open_offering(demo_deps, admissions, "austin")
    linked = call(demo_deps, admissions, "submit_application", **_applicant(offering, last))
    _offer(demo_deps, admissions, linked["id"])
    before = student_count(demo_deps)
    error = refused(
        demo_deps, admissions, "advance_application", application_id=linked["id"], action="accept_offer", on=TODAY
    )
    assert error.code == "duplicate_record" and str(existing["student_number"]) in error.message
    assert "student_id" in error.message
    with demo_deps.session_factory() as session:
        app = session.get_one(Application, uuid.UUID(linked["id"]))
        assert (app.status.value, app.student_id, app.enrollment_id) == ("offered", None, None)
    assert student_count(demo_deps) == before

    accepted = call(
        demo_deps,
        admissions,
        "advance_application",
        application_id=linked["id"],
        action="accept_offer",
        on=TODAY,
        student_id=existing["id"],
    )
    assert accepted["student_id"] == existing["id"] and student_count(demo_deps) == before

    other = call(demo_deps, admissions, "submit_application", **_applicant(offering, last))
    _offer(demo_deps, admissions, other["id"])
    created = call(
        demo_deps,
        admissions,
        "advance_application",
        application_id=other["id"],
        action="accept_offer",
        on=TODAY,
        confirm_new_person=True,
    )
    assert created["student_id"] not in (None, existing["id"]) and student_count(demo_deps) == before + 1


def test_submit_application_refusals_write_nothing(demo_deps, persona):
    admissions = persona("admissions_austin")
    austin_offering = _open_offering(demo_deps, admissions, "austin")
    miami_offering = _open_offering(demo_deps, persona("registrar_miami"), "miami")
    lakeside_offering = _open_offering(demo_deps, persona("integration_lakeside"), "lakeside")
    with demo_deps.session_factory() as session:
        before = session.execute(select(func.count()).select_from(Application)).scalar_one()
    no_birth = _applicant(austin_offering, "X")
    del no_birth["applicant_birth_on"]
    cases = [
        (persona("nurse_austin"), _applicant(austin_offering, "X"), "permission_denied", None),
        (read_only(admissions), _applicant(austin_offering, "X"), "permission_denied", None),
        (admissions, _applicant(miami_offering, "X"), "not_found", "offering_id"),
        (persona("network_admin"), _applicant(lakeside_offering, "X"), "not_applicable", "org_id"),
        (admissions, no_birth, "invalid_input", "applicant_birth_on"),
        (
            admissions,
            _applicant(austin_offering, "X", applicant_birth_on="2099-01-01"),
            "invalid_input",
            "applicant_birth_on",
        ),
        (admissions, _applicant(austin_offering, "X", guardian_email=None), "invalid_input", "guardian_email"),
        (admissions, _applicant(austin_offering, "X", applying_for_grade=14), "invalid_input", "applying_for_grade"),
    ]
    for principal, arguments, code, field in cases:
        error = refused(demo_deps, principal, "submit_application", **arguments)
        assert (error.code, error.field if field else None) == (code, field), arguments
    with demo_deps.session_factory() as session:
        assert session.execute(select(func.count()).select_from(Application)).scalar_one() == before
