"""The SIS REST API: thin routes over the catalog, enrollment CRUD for a roster-only school, idempotency, errors."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    Enrollment,
    EnrollmentStatus,
    Household,
    LedgerEntry,
    LedgerKind,
    Organization,
    ProgramOffering,
    QueryLog,
    Student,
)
from db.models.org import OrgKind
from tools.catalog import load_catalog


def _free_students(integrator_db, count: int) -> tuple[str, list[str]]:
    """Lakeside's open offering and `count` of its students free to enroll in it from today.

    Every demo student holds a stint already, so each is first withdrawn as of yesterday through the API
    (stints are never reactivated: the new enrollment is a new stint).
    """
    lakeside = uuid.UUID(integrator_db.orgs["lakeside"])
    with Session(integrator_db.engine) as session:
        offering, stints = None, []
        for offering_id in session.execute(
            select(ProgramOffering.id)
            .where(ProgramOffering.org_id == lakeside, ProgramOffering.status == "open")
            .order_by(ProgramOffering.start_on.desc())
        ).scalars():
            stints = session.execute(
                select(Enrollment.id, Enrollment.student_id)
                .where(Enrollment.offering_id == offering_id, Enrollment.status == EnrollmentStatus.ACTIVE)
                .order_by(Enrollment.id)
                .limit(count)
            ).all()
            offering = offering_id
            if len(stints) == count:
                break
    assert offering is not None and len(stints) == count, "the demo data enrolls enough Lakeside students"
    client = integrator_db.client("partner")
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    for stint_id, _ in stints:
        response = client.post(
            f"/api/v1/enrollments/{stint_id}/withdraw", json={"end_on": yesterday, "reason": "moving to a new section"}
        )
        assert response.status_code == 200, response.text
    return str(offering), [str(student) for _, student in stints]


def _enroll_body(offering: str, student: str) -> dict[str, str]:
    return {"student_id": student, "offering_id": offering, "start_on": dt.date.today().isoformat()}


def test_reads_are_thin_calls_into_the_catalog_and_audited(integrator_db):
    client = integrator_db.client("registrar_austin")
    response = client.get("/api/v1/students", params={"text": "a", "limit": 3})
    assert response.status_code == 200 and len(response.json()["items"]) == 3
    student = response.json()["items"][0]["id"]
    profile = client.get(f"/api/v1/students/{student}")
    assert profile.status_code == 200 and profile.json()["id"] == student
    with Session(integrator_db.engine) as session:
        entry = session.execute(select(QueryLog).order_by(QueryLog.seq.desc()).limit(1)).scalar_one()
    assert entry.capability == "get_student" and entry.arguments["channel"] == "rest"
    assert student in entry.student_ids_disclosed


def test_out_of_scope_reads_look_like_not_found_and_refusals_say_why(integrator_db):
    miami = integrator_db.client("registrar_austin").get(
        "/api/v1/students", params={"org_id": integrator_db.orgs["miami"]}
    )
    assert miami.status_code == 404 and miami.json()["error"]["code"] == "not_found"
    nurse = integrator_db.client("nurse_austin").get("/api/v1/enrollments")
    assert nurse.status_code == 200
    refused = integrator_db.client("guide_austin").get("/api/v1/immunizations/missing")
    assert refused.status_code == 403
    assert "immunization records are not visible" in refused.json()["error"]["message"]
    assert refused.json()["error"]["audit_seq"] is not None


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "code"),
    [
        ("GET", "/api/v1/students", {"params": {"limit": "lots"}}, 422, "invalid_input"),
        ("GET", "/api/v1/students", {"params": {"shoe_size": "9"}}, 422, "invalid_input"),
        ("GET", "/api/v1/students/not-a-uuid", {}, 422, "invalid_input"),
        ("POST", "/api/v1/enrollments", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, "invalid_input"),
        ("POST", "/api/v1/enrollments", {"json": {"enrollments": []}}, 422, "invalid_input"),
        ("GET", "/api/v1/no-such-thing", {}, 404, "not_found"),
        ("DELETE", "/api/v1/students", {}, 405, "method_not_allowed"),
        ("POST", "/api/v1/tools/no_such_tool", {"json": {}}, 404, "unknown_tool"),
        ("POST", "/api/v1/tools/search_students", {"json": {"limit": -1}}, 422, "invalid_input"),
    ],
)  # fmt: skip
def test_every_bad_request_gets_a_4xx_json_body_saying_what_is_wrong(integrator_db, method, url, kwargs, status, code):
    response = integrator_db.client("network_admin").request(method, url, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_missing_or_bad_keys_get_401(integrator_db):
    assert integrator_db.client().get("/api/v1/me").status_code == 401
    client = integrator_db.client()
    client.headers["Authorization"] = "Bearer sis_live_00000000_" + "x" * 43
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


def test_roster_only_school_enrolls_and_withdraws_idempotently(integrator_db):
    offering, (student,) = _free_students(integrator_db, 1)
    client = integrator_db.client("partner")
    body = _enroll_body(offering, student) | {"reason": "partner roster sync"}
    first = client.post("/api/v1/enrollments", json=body, headers={"Idempotency-Key": "sync-1"})
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/enrollments", json=body, headers={"Idempotency-Key": "sync-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post("/api/v1/enrollments", json=body | {"reason": "changed"}, headers={"Idempotency-Key": "sync-1"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    duplicate = client.post("/api/v1/enrollments", json=body)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "enrollment_overlap"

    enrollment = first.json()["id"]
    end = client.delete(
        f"/api/v1/enrollments/{enrollment}",
        params={"end_on": dt.date.today().isoformat(), "reason": "left the partner school"},
        headers={"Idempotency-Key": "end-1"},
    )
    assert end.status_code == 200 and end.json()["status"] == "withdrawn"
    replay = client.delete(
        f"/api/v1/enrollments/{enrollment}",
        params={"end_on": dt.date.today().isoformat(), "reason": "left the partner school"},
        headers={"Idempotency-Key": "end-1"},
    )
    assert replay.status_code == 200 and replay.json() == end.json()
    with Session(integrator_db.engine) as session:
        assert (
            session.get_one(Enrollment, uuid.UUID(enrollment)).status is EnrollmentStatus.WITHDRAWN
        )  # kept, not deleted


def test_batch_enrollment_answers_per_item_in_order(integrator_db):
    offering, free = _free_students(integrator_db, 2)
    client = integrator_db.client("partner")
    batch = {
        "enrollments": [
            _enroll_body(offering, free[0]),
            _enroll_body(offering, free[0]),  # the same again: an overlap
            _enroll_body(offering, integrator_db.orgs["austin"]),  # not a student
            _enroll_body(offering, free[1]),
        ]
    }
    response = client.post("/api/v1/enrollments", json=batch, headers={"Idempotency-Key": "batch-1"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 409, 404, 201]
    assert response.json()["created"] == 2 and results[1]["error"]["code"] == "enrollment_overlap"
    replay = client.post("/api/v1/enrollments", json=batch, headers={"Idempotency-Key": "batch-1"})
    assert replay.json() == response.json()


def test_integration_client_cannot_write_outside_its_org(integrator_db):
    with Session(integrator_db.engine) as session:
        austin_offering = (
            session.execute(
                select(ProgramOffering.id).where(ProgramOffering.org_id == uuid.UUID(integrator_db.orgs["austin"]))
            )
            .scalars()
            .first()
        )
        austin_student = (
            session.execute(select(Student.id).where(Student.org_id == uuid.UUID(integrator_db.orgs["austin"])))
            .scalars()
            .first()
        )
    response = integrator_db.client("partner").post(
        "/api/v1/enrollments", json={"student_id": str(austin_student), "offering_id": str(austin_offering)}
    )
    assert response.status_code == 404


def test_enrollment_events_reach_the_pull_feed(integrator_db):
    offering, free = _free_students(integrator_db, 1)
    client = integrator_db.client("partner")
    start = client.get("/api/v1/events", params={"limit": 1000}).json()
    cursor = start["next_after"]
    while start["has_more"]:
        start = client.get("/api/v1/events", params={"after": cursor, "limit": 1000}).json()
        cursor = start["next_after"]
    created = client.post("/api/v1/enrollments", json=_enroll_body(offering, free[0]))
    assert created.status_code == 201
    feed = client.get("/api/v1/events", params={"after": cursor}).json()
    types = [(e["type"], e["data"]["enrollment_id"]) for e in feed["items"]]
    assert ("enrollment.created", created.json()["id"]) in types
    assert all(e["position"] > cursor for e in feed["items"])
    assert client.get("/api/v1/events", params={"after": feed["next_after"]}).json()["items"] == []


def test_webhook_subscriptions_are_managed_by_api(integrator_db):
    client = integrator_db.client("partner")
    created = client.post(
        "/api/v1/webhooks",
        json={"org_id": integrator_db.orgs["lakeside"], "url": "https://partner.example/hooks", "event_types": ["enrollment.created"]},
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    sub = created.json()["id"]
    listed = client.get("/api/v1/webhooks").json()["items"]
    assert [s["id"] for s in listed] == [sub] and "secret" not in listed[0]
    assert client.delete(f"/api/v1/webhooks/{sub}").json()["is_active"] is False
    assert client.get(f"/api/v1/webhooks/{sub}/deliveries").json()["total"] >= 0
    bad = client.post(
        "/api/v1/webhooks", json={"org_id": integrator_db.orgs["lakeside"], "url": "ftp://x", "event_types": ["x"]}
    )
    assert bad.status_code == 422


def test_rest_refuses_a_loopback_url_with_a_422_naming_the_field(integrator_db):
    """SSRF (#15) over REST: the integrator's POST /webhooks to loopback is refused (the app's default policy)."""
    client = integrator_db.client("partner")
    for url in ("https://127.0.0.1/x", "https://[::ffff:127.0.0.1]/x", "https://2130706433/x"):
        answer = client.post(
            "/api/v1/webhooks",
            json={"org_id": integrator_db.orgs["lakeside"], "url": url, "event_types": ["enrollment.created"]},
        )
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "url", answer.text


def test_openapi_is_served_and_versioned(integrator_db):
    client = integrator_db.client()
    spec = client.get("/openapi.json").json()
    assert any(p.startswith("/api/v1/") for p in spec["paths"])
    assert "/ims/oneroster/rostering/v1p2/users" in spec["paths"] and "/oauth/token" in spec["paths"]
    operations = {op["operationId"] for item in spec["paths"].values() for op in item.values() if "operationId" in op}
    assert {"search_students", "query_roster", "create_enrollments", "list_events", "getAllUsers"} <= operations
    assert client.get("/docs").status_code == 200


def test_every_write_route_honours_an_idempotency_key_but_those_answering_a_credential(integrator_db):
    """A retried write must not be a second write (#15): the header is on every write route's contract."""
    spec = integrator_db.client().get("/openapi.json").json()
    catalog = load_catalog()
    missing, secret = [], []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "get" or path.startswith("/api/v1/tools/") or not path.startswith("/api/v1/"):
                continue
            spec_of = catalog.get(operation["operationId"])
            # Reads sent as POST (previews) repeat harmlessly; a Stripe event is deduped by its own id.
            if spec_of is None or spec_of.read_only:
                continue
            headers = {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}
            target = secret if spec_of.returns_secret else missing
            if ("idempotency-key" in headers) == (target is missing):
                continue
            target.append(f"{method.upper()} {path}")
    assert not missing, f"write routes without Idempotency-Key: {missing}"
    assert not secret, "an answer holding a credential (a new key, a rotated secret) must never be stored for replay"


def test_a_payment_retried_with_its_idempotency_key_is_recorded_once(integrator_db):
    with Session(integrator_db.engine) as session:
        household = session.execute(
            select(Household.id)
            .join(Organization, Organization.id == Household.org_id)
            .where(Organization.kind == OrgKind.FULL_SIS)
            .order_by(Household.id)
            .limit(1)
        ).scalar_one()
    client = integrator_db.client("network_admin")
    body = {"amount_cents": 12_345, "method": "check", "reference": f"chk-{uuid.uuid4().hex[:6]}"}
    url = f"/api/v1/households/{household}/payments"
    first = client.post(url, json=body, headers={"Idempotency-Key": body["reference"]})
    again = client.post(url, json=body, headers={"Idempotency-Key": body["reference"]})
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    second = client.post(url, json=body)
    assert second.status_code == 409 and second.json()["error"]["field"] == "reference"
    with Session(integrator_db.engine) as session:
        recorded = session.execute(
            select(LedgerEntry.id).where(
                LedgerEntry.kind == LedgerKind.PAYMENT, LedgerEntry.reference == body["reference"]
            )
        ).all()
    assert len(recorded) == 1
