"""The household record routes over HTTP: a family set up and taken apart by the Austin registrar's key."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from db.models import Organization
from tests.factories import create_student


def _new_student(integrator_db, slug: str) -> str:
    with Session(integrator_db.engine) as session, session.begin():
        org = session.get(Organization, uuid.UUID(integrator_db.orgs[slug]))
        return str(create_student(session, org).id)


def test_registrar_builds_a_family_over_rest_and_takes_it_apart(integrator_db):
    api = integrator_db.client("registrar_austin")
    student = _new_student(integrator_db, "austin")
    email = f"parent.{uuid.uuid4().hex[:8]}@example.org"

    made = api.post("/api/v1/households", json={"org_id": integrator_db.orgs["austin"], "name": "Rest Household"})
    household = made.json()["id"]
    guardian = api.post(
        f"/api/v1/households/{household}/guardians",
        json={"name": "Pat Rest", "email": email, "phone": "512-555-0123", "relationship": "guardian"},
    )
    member = api.post(f"/api/v1/households/{household}/students", json={"student_id": student})
    contacts = api.put(
        f"/api/v1/students/{student}/emergency-contacts",
        json={"contacts": [{"name": "Ann Rest", "relationship": "aunt", "phone": "512-555-0124", "priority": 1}]},
    )
    listed = api.get(f"/api/v1/students/{student}/emergency-contacts")

    assert (made.status_code, guardian.status_code, member.status_code, contacts.status_code) == (201, 201, 201, 200)
    assert guardian.json()["household"]["guardians"][0]["email"] == email
    assert [s["billing_share_bp"] for s in member.json()["students"]] == [None]  # registrars see no shares
    assert [c["name"] for c in listed.json()["contacts"]] == ["Ann Rest"]

    user_id = guardian.json()["user_id"]
    removed_guardian = api.delete(f"/api/v1/households/{household}/guardians/{user_id}")
    removed_student = api.delete(f"/api/v1/households/{household}/students/{student}", params={"reason": "moved"})

    assert removed_guardian.status_code == removed_student.status_code == 200
    assert removed_student.json()["students"] == [] and removed_guardian.json()["guardians"] == []


def test_household_routes_refuse_with_json_errors(integrator_db):
    api = integrator_db.client("registrar_austin")
    nurse = integrator_db.client("nurse_austin")
    household = api.post(
        "/api/v1/households", json={"org_id": integrator_db.orgs["austin"], "name": "Refusals Household"}
    ).json()["id"]

    bad_email = api.post(
        f"/api/v1/households/{household}/guardians", json={"name": "A B", "email": "nope", "relationship": "aunt"}
    )
    by_nurse = nurse.post(
        f"/api/v1/households/{household}/guardians",
        json={"name": "A B", "email": "a.b.nurse@example.org", "relationship": "aunt"},
    )
    elsewhere = api.post("/api/v1/households", json={"org_id": integrator_db.orgs["miami"], "name": "X"})

    assert (bad_email.status_code, bad_email.json()["error"]["field"]) == (422, "email")
    assert (by_nurse.status_code, by_nurse.json()["error"]["code"]) == (403, "permission_denied")
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (404, "not_found")
