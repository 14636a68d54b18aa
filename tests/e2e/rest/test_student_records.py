"""Student record routes: create (201, duplicate 409), update, merge and deactivate over REST."""

from __future__ import annotations

import uuid


def _child(campus: str, last: str, **extra):
    return {
        "org_id": campus,
        "first_name": "Rae",
        "last_name": last,
        "birth_on": "2015-09-09",
        "grade_level": 5,
        **extra,
    }


def test_a_registrar_creates_updates_merges_and_deactivates_students_over_rest(integrator_db):
    client = integrator_db.client("registrar_austin")
    austin, last = integrator_db.orgs["austin"], f"Rest{uuid.uuid4().hex[:8]}"
    created = client.post("/api/v1/students", json=_child(austin, last))
    assert created.status_code == 201, created.text
    first = created.json()

    duplicate = client.post("/api/v1/students", json=_child(austin, last.upper()))
    assert duplicate.status_code == 409
    error = duplicate.json()["error"]
    assert (error["code"], error["field"]) == ("duplicate_record", "confirm_new_person")
    assert str(first["student_number"]) in error["message"]
    second = client.post("/api/v1/students", json=_child(austin, last, confirm_new_person=True)).json()

    patched = client.patch(f"/api/v1/students/{second['id']}", json={"reason": "typo", "preferred_name": "Ray"})
    assert patched.status_code == 200 and patched.json()["preferred_name"] == "Ray"

    merged = client.post(f"/api/v1/students/{first['id']}/merge", json={"merged_id": second["id"], "reason": "same"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["survivor"]["preferred_name"] == "Ray"
    resolved = client.get(f"/api/v1/students/{second['id']}").json()
    assert resolved["id"] == first["id"] and resolved["resolved_from"]["student_id"] == second["id"]

    gone = client.post(f"/api/v1/students/{first['id']}/deactivate", json={"reason": "moved away"})
    assert gone.status_code == 200 and gone.json()["is_active"] is False


def test_student_record_writes_are_refused_for_a_nurse_and_out_of_scope(integrator_db):
    nurse = integrator_db.client("nurse_austin")
    refused = nurse.post("/api/v1/students", json=_child(integrator_db.orgs["austin"], "Nurse"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    registrar = integrator_db.client("registrar_austin")
    elsewhere = registrar.post("/api/v1/students", json=_child(integrator_db.orgs["miami"], "Elsewhere"))
    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["field"] == "org_id"
    bad = registrar.post("/api/v1/students", json=_child(integrator_db.orgs["austin"], "Bad", grade_level=14))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "grade_level"
