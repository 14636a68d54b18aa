"""Programs, offerings and rollovers over REST: the same tools, with HTTP statuses and the read-only key refused."""

from __future__ import annotations

import uuid


def _program(integrator_db, org: str) -> dict:
    client = integrator_db.client("network_admin")
    body = {
        "org_id": integrator_db.orgs[org],
        "code": f"P-{uuid.uuid4().hex[:8]}",
        "name": "Chess Club",
        "kind": "other",
    }
    response = client.post("/api/v1/programs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _offering_body(integrator_db, program_id: str, **extra) -> dict:
    return {
        "program_id": program_id,
        "org_id": integrator_db.orgs["miami"],
        "name": "Chess Club, 2031-32",
        "session_label": "2031-32",
        "start_on": "2031-08-11",
        "end_on": "2032-05-28",
        "grade_min": 3,
        "grade_max": 8,
        "capacity": 16,
        **extra,
    }


def test_an_offering_is_created_changed_closed_and_rolled_over_over_rest(integrator_db):
    client = integrator_db.client("network_admin")
    program = _program(integrator_db, "academy")
    fee = {"code": "BOARD", "name": "Chess board", "kind": "materials", "amount_cents": 2_500}
    created = client.post(
        "/api/v1/offerings", json=_offering_body(integrator_db, program["id"], tuition_cents=30_000, fees=[fee])
    )
    assert created.status_code == 201, created.text
    offering = created.json()
    assert (offering["tuition_cents"], offering["fees"][0]["code"]) == (30_000, "board")

    patched = client.patch(f"/api/v1/offerings/{offering['id']}", json={"capacity": 20, "reason": "bigger room"})
    assert patched.status_code == 200 and patched.json()["capacity"] == 20

    rollover = {"org_id": integrator_db.orgs["miami"], "from_year": "2031-32", "to_year": "2032-33"}
    preview = client.post("/api/v1/rollovers/preview", json=rollover)
    assert preview.status_code == 200 and preview.json()["dry_run"] is True
    names = [o["name"] for o in preview.json()["offerings"]]
    assert names == ["Chess Club, 2032-33"]
    done = client.post("/api/v1/rollovers", json=rollover)
    assert done.status_code == 200 and done.json()["offerings_created"] == 1
    assert client.post("/api/v1/rollovers", json=rollover).json()["offerings_created"] == 0

    closed = client.post(f"/api/v1/offerings/{offering['id']}/close", json={"reason": "season over"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = client.post(f"/api/v1/offerings/{offering['id']}/close", json={"reason": "season over"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


def test_bad_offerings_and_unwritable_keys_are_refused_over_rest(integrator_db):
    program = _program(integrator_db, "academy")
    admin = integrator_db.client("network_admin")
    backwards = admin.post("/api/v1/offerings", json=_offering_body(integrator_db, program["id"], end_on="2031-01-01"))
    assert backwards.status_code == 422
    assert (backwards.json()["error"]["code"], backwards.json()["error"]["field"]) == ("invalid_input", "end_on")
    priced = admin.post(
        "/api/v1/offerings",
        json=_offering_body(integrator_db, program["id"], org_id=integrator_db.orgs["lakeside"], tuition_cents=1),
    )
    assert priced.status_code == 422
    registrar = integrator_db.client("registrar_austin")
    body = {"org_id": integrator_db.orgs["austin"], "code": "NOPE", "name": "x", "kind": "camp"}
    assert registrar.post("/api/v1/programs", json=body).status_code == 403
    partner = integrator_db.client("partner_readonly")
    assert partner.post("/api/v1/programs", json=body).status_code == 403
    rollover = {"org_id": integrator_db.orgs["austin"], "from_year": "2026-27", "to_year": "2027-28"}
    assert registrar.post("/api/v1/rollovers", json=rollover).status_code == 403
    assert registrar.post("/api/v1/rollovers/preview", json=rollover).status_code == 403
