"""Medical records and requirement charts over REST: the nurse's routes, and refusals that say why."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Organization, Student


def _student(integrator_db, slug: str) -> str:
    with Session(integrator_db.engine) as session:
        return str(
            session.execute(
                select(Student.id)
                .join(Organization, Organization.id == Student.org_id)
                .where(Organization.slug == slug)
                .order_by(Student.student_number.desc())
                .limit(1)
            ).scalar_one()
        )


def test_the_nurse_keeps_medical_records_through_rest(integrator_db):
    nurse, student = integrator_db.client("nurse_austin"), _student(integrator_db, "austin")
    medication = nurse.post(f"/api/v1/students/{student}/medications", json={"name": "Cetirizine", "dosage": "5 mg"})
    assert medication.status_code == 201, medication.text
    allergy = nurse.post(
        f"/api/v1/students/{student}/allergies", json={"allergen": f"Pollen {uuid.uuid4().hex[:6]}", "severity": "mild"}
    )
    assert allergy.status_code == 201, allergy.text
    patched = nurse.patch(f"/api/v1/allergies/{allergy.json()['id']}", json={"severity": "moderate"})
    assert patched.status_code == 200 and patched.json()["severity"] == "moderate"
    condition = nurse.post(f"/api/v1/students/{student}/conditions", json={"name": "Eczema"})
    assert condition.status_code == 201, condition.text
    ended = nurse.post(f"/api/v1/medications/{medication.json()['id']}/end", json={})
    assert ended.status_code == 200 and ended.json()["end_on"]
    profile = nurse.get(f"/api/v1/students/{student}/health-profile")
    assert profile.status_code == 200
    body = profile.json()
    assert allergy.json()["id"] in {a["id"] for a in body["allergies"]}
    assert "Eczema" in {c["name"] for c in body["conditions"]} and body["immunization"] is not None


def test_medical_routes_refuse_the_registrar_and_hide_other_campuses(integrator_db):
    austin, miami = _student(integrator_db, "austin"), _student(integrator_db, "miami")
    registrar = integrator_db.client("registrar_austin")
    refused = registrar.get(f"/api/v1/students/{austin}/health-profile")
    assert refused.status_code == 403 and "health records are not visible" in refused.json()["error"]["message"]
    write = registrar.post(f"/api/v1/students/{austin}/medications", json={"name": "Ibuprofen"})
    assert write.status_code == 403
    hidden = integrator_db.client("nurse_austin").get(f"/api/v1/students/{miami}/health-profile")
    assert hidden.status_code == 404 and hidden.json()["error"]["field"] == "student_id"
    bad = integrator_db.client("nurse_austin").post(
        f"/api/v1/students/{austin}/allergies", json={"allergen": "Dust", "severity": "extreme"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "severity"


def test_requirement_charts_are_read_by_staff_and_defined_only_at_the_root(integrator_db):
    chart = integrator_db.client("registrar_austin").get(
        "/api/v1/immunization-requirements", params={"jurisdiction": "US-FL"}
    )
    assert chart.status_code == 200 and chart.json()["jurisdiction"] == "FL" and chart.json()["rows"]
    definition = {
        "jurisdiction": "FL",
        "effective_school_year": "2031-32",
        "grade_min": 0,
        "grade_max": 12,
        "vaccine_group": "HepB",
        "antigen": "HepB",
        "min_doses": 3,
        "source_url": "https://www.flrules.org/gateway/ruleNo.asp?id=64D-3.046",
    }
    refused = integrator_db.client("registrar_austin").post("/api/v1/immunization-requirements", json=definition)
    assert refused.status_code == 403 and "network root" in refused.json()["error"]["message"]
