"""Issue #15, Audit, "What an auditor sees": the trails show that a disclosure or change happened, and
redact the values of data classes the reader cannot read, over the tool and the REST/CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Organization, Student, User
from mcp_server.auth import create_api_key
from policies.principal import load_principal
from tools.runner import run_tool

SECRET_DRUG = "Zyloprex-" + uuid.uuid4().hex[:6]
SECRET_NOTE = "hid in the closet after the fire drill " + uuid.uuid4().hex[:6]


def _austin_student(integrator_db) -> str:
    with Session(integrator_db.engine) as session:
        return str(
            session.execute(
                select(Student.id)
                .join(Organization, Organization.id == Student.org_id)
                .where(Organization.slug == "austin")
                .order_by(Student.student_number)
                .limit(1)
            ).scalar_one()
        )


def _auditor_key(integrator_db) -> str:
    if "auditor_network" not in integrator_db.keys:
        with Session(integrator_db.engine) as session, session.begin():
            user = session.execute(select(User).where(User.email == "auditor@sis.example")).scalar_one()
            _, integrator_db.keys["auditor_network"] = create_api_key(session, user, "tests auditor", ["audit.read"])
    return "auditor_network"


def _writes(integrator_db) -> tuple[str, str]:
    """A nurse's medication and an admin's behavior incident for one Austin student; their ids."""
    student = _austin_student(integrator_db)
    medication = integrator_db.client("nurse_austin").post(
        f"/api/v1/students/{student}/medications",
        json={"name": SECRET_DRUG, "dosage": "5 mg", "purpose": f"care plan {SECRET_DRUG}"},
    )
    assert medication.status_code == 201, medication.text
    incident = integrator_db.client("network_admin").post(
        "/api/v1/behavior-incidents",
        json={
            "student_id": student,
            "occurred_on": dt.date.today().isoformat(),
            "category": "safety",
            "severity": "high",
            "description": SECRET_NOTE,
            "reason": f"reported {SECRET_NOTE}",
        },
    )
    assert incident.status_code == 201, incident.text
    return student, medication.json()["id"]


def _page(client, **params):
    response = client.get("/api/v1/audit/log", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_auditor_sees_who_when_student_class_and_fields_but_not_health_or_behavior_values(integrator_db):
    student, medication_id = _writes(integrator_db)
    auditor = integrator_db.client(_auditor_key(integrator_db))

    events = _page(auditor, trail="change_events", student_id=student)["change_events"]
    medication = [e for e in events if e["entity_type"] == "medication" and e["entity_id"] == medication_id]
    by_field = {e["field"]: e for e in medication}
    assert {"name", "dosage", "student_id"} <= set(by_field)
    assert by_field["name"]["actor_label"] == "nurse.austin@sis.example" and by_field["name"]["occurred_at"]
    assert by_field["name"]["data_class"] == "health"
    assert by_field["name"]["new_value"] == "[redacted: health]"
    assert by_field["student_id"]["new_value"] == student  # which student: a key, never redacted
    incident = [e for e in events if e["entity_type"] == "behavior_incident"]
    assert incident and {e["data_class"] for e in incident} == {"behavior"}
    assert {e["new_value"] for e in incident if e["field"] == "description"} == {"[redacted: behavior]"}

    calls = _page(auditor, student_id=student)["query_log"]
    write = next(e for e in calls if e["capability"] == "record_medication")
    assert write["principal_email"] == "nurse.austin@sis.example" and write["data_class"] == "health"
    assert write["arguments"]["student_id"] == student
    assert write["arguments"]["name"] == "[redacted: health]" and write["purpose"] == "[redacted: health]"
    behavior = next(e for e in calls if e["capability"] == "record_behavior_incident")
    assert behavior["arguments"]["description"] == "[redacted: behavior]"

    for trail in ("change_events", "query_log"):
        exported = auditor.get("/api/v1/audit/log.csv", params={"trail": trail, "student_id": student})
        assert exported.status_code == 200, exported.text
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert rows and "data_class" in rows[0]
        assert SECRET_DRUG not in exported.text and SECRET_NOTE not in exported.text
        assert "[redacted: health]" in exported.text and "[redacted: behavior]" in exported.text

    # The tool face answers the same as REST.
    with Session(integrator_db.engine) as session:
        principal = load_principal(session, email="auditor@sis.example")
    deps = integrator_db.app.state.deps
    page = run_tool(deps, principal, "search_audit_log", {"trail": "change_events", "student_id": student}).data
    assert SECRET_DRUG not in json.dumps(page) and SECRET_NOTE not in json.dumps(page)
    page = run_tool(deps, principal, "search_audit_log", {"student_id": student}).data
    assert SECRET_DRUG not in json.dumps(page) and SECRET_NOTE not in json.dumps(page)

    # The stored chain is untouched.
    assert auditor.get("/api/v1/audit/verify").json()["ok"] is True


def test_a_network_admin_still_sees_the_values(integrator_db):
    student, _ = _writes(integrator_db)
    admin = integrator_db.client("network_admin")
    events = json.dumps(_page(admin, trail="change_events", student_id=student))
    calls = json.dumps(_page(admin, student_id=student))
    assert SECRET_DRUG in events and SECRET_NOTE in events
    assert SECRET_DRUG in calls and SECRET_NOTE in calls and "[redacted" not in calls
    exported = admin.get("/api/v1/audit/log.csv", params={"trail": "change_events", "student_id": student})
    assert SECRET_DRUG in exported.text
    assert admin.get("/api/v1/audit/verify").json()["ok"] is True
