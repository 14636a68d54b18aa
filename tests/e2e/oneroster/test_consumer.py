"""A downstream consumer: token, paging by Link headers, a dateLastModified delta, and a withdrawal as tobedeleted."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import QueryLog
from tests.e2e.integrators import BASE

ROSTER = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"


def _token(integrator_db, key: str = "partner", **form: str) -> str:
    client_id, _, secret = integrator_db.keys[key].rpartition("_")
    response = integrator_db.client().post(
        "/oauth/token", data={"grant_type": "client_credentials", **form}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and 0 < body["expires_in"] <= 3600
    return body["access_token"]


def _next(link: str) -> str | None:
    match = re.search(r'<([^>]+)>; rel="next"', link)
    return match[1] if match else None


def test_consumer_pages_a_school_follows_a_delta_and_sees_a_withdrawal_as_tobedeleted(integrator_db):
    token = _token(integrator_db, scope=ROSTER)
    reader = integrator_db.client()
    reader.headers["Authorization"] = f"Bearer {token}"
    schools = reader.get(f"{BASE}/schools").json()["orgs"]
    assert [s["identifier"] for s in schools] == ["lakeside"]  # the client sees only its own org subtree
    school = schools[0]["sourcedId"]

    # Page through every student of the school with limit/offset, following rel="next".
    url: str | None = f"{BASE}/schools/{school}/students?limit=7&offset=0"
    users, pages, total = [], 0, None
    while url:
        response = reader.get(url)
        assert response.status_code == 200
        total = int(response.headers["x-total-count"])
        users += response.json()["users"]
        pages += 1
        url = _next(response.headers["link"])
    assert len(users) == total == len({u["sourcedId"] for u in users}) and pages == -(-total // 7)
    assert all(u["roles"][0]["role"] == "student" for u in users)

    # Withdraw one active stint through the SIS REST API (the school's roster-only enrollment CRUD).
    active = reader.get(
        f"{BASE}/schools/{school}/enrollments", params={"filter": "status='active' AND role='student'"}
    ).json()["enrollments"]
    stint = active[0]
    # The consumer's cursor, a whole second back: the withdrawal below is later than it without waiting.
    since_at = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).replace(microsecond=0)
    since = since_at.isoformat().replace("+00:00", "Z")
    writer = integrator_db.client("partner")
    withdrawn = writer.post(
        f"/api/v1/enrollments/{stint['sourcedId']}/withdraw",
        json={"end_on": dt.date.today().isoformat(), "reason": "family moved away"},
    )
    assert withdrawn.status_code == 200, withdrawn.text

    # The delta since `since` carries the stint, now tobedeleted, and nothing older.
    delta = reader.get(f"{BASE}/enrollments", params={"filter": f"dateLastModified>'{since}'", "limit": "1000"})
    assert delta.status_code == 200
    changed = {e["sourcedId"]: e for e in delta.json()["enrollments"]}
    assert changed[stint["sourcedId"]]["status"] == "tobedeleted"
    assert "endDate" in changed[stint["sourcedId"]]
    assert all(dt.datetime.fromisoformat(e["dateLastModified"]) > since_at for e in changed.values())
    # The row did not disappear from the full collection either.
    single = reader.get(f"{BASE}/enrollments/{stint['sourcedId']}").json()["enrollment"]
    assert single["status"] == "tobedeleted"


def test_token_request_errors_follow_rfc_6749(integrator_db):
    client = integrator_db.client()
    client_id, _, secret = integrator_db.keys["partner_readonly"].rpartition("_")
    cases = [
        ({"grant_type": "password"}, (client_id, secret), 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, (client_id, "wrong" * 10), 401, "invalid_client"),
        ({"grant_type": "client_credentials", "scope": "https://example.org/other"}, (client_id, secret), 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly"}, (client_id, secret), 400, "invalid_scope"),
    ]  # fmt: skip
    for form, auth, status, error in cases:
        response = client.post("/oauth/token", data=form, auth=auth)
        assert (response.status_code, response.json()["error"]) == (status, error)
    form_credentials = client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert form_credentials.status_code == 200


def test_a_token_carries_only_its_scopes(integrator_db):
    core = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
    client = integrator_db.client()
    client.headers["Authorization"] = f"Bearer {_token(integrator_db, key='network_admin', scope=core)}"
    assert client.get(f"{BASE}/users", params={"limit": "1"}).status_code == 200
    nested = client.get(f"{BASE}/schools/{integrator_db.orgs['austin']}/students")
    assert nested.status_code == 403  # nested collections need roster.readonly
    assert client.get(f"{BASE}/demographics").status_code == 403
    assert client.get("/api/v1/me").status_code == 401  # tokens are for OneRoster only


def test_health_behavior_and_financial_data_never_leave(integrator_db):
    client = integrator_db.client("network_admin")
    body = client.get(f"{BASE}/users", params={"limit": "1000"}).text + client.get(f"{BASE}/classes").text
    for word in ("immuniz", "allerg", "medication", "incident", "tuition", "balance", "cents"):
        assert word not in body.lower()


def test_reads_are_audited_with_the_students_disclosed(integrator_db):
    client = integrator_db.client("partner")
    response = client.get(f"{BASE}/students", params={"limit": "3"})
    ids = {u["sourcedId"] for u in response.json()["users"]}
    with Session(integrator_db.engine) as session:
        entry = session.execute(
            select(QueryLog).where(QueryLog.capability == "oneroster_read").order_by(QueryLog.seq.desc()).limit(1)
        ).scalar_one()
        count = session.execute(select(func.count()).select_from(QueryLog)).scalar_one()
    assert entry.arguments["channel"] == "oneroster" and entry.arguments["collection"] == "students"
    assert set(entry.student_ids_disclosed) == ids and entry.principal_email == "integration.partner@sis.example"
    assert count > 0


def test_guide_sees_only_assigned_students_and_their_classes(integrator_db):
    guide = integrator_db.client("guide_austin").get(f"{BASE}/students", params={"limit": "1000"})
    assert guide.status_code == 200
    assert 0 < int(guide.headers["x-total-count"]) <= 12


def test_links_and_hrefs_come_from_the_servers_public_address_not_the_host_header(integrator_db):
    """`Host: evil.example` gave links to evil.example (#15): they are built from SIS_PUBLIC_URL (default
    the address served on)."""
    reader = integrator_db.client("network_admin")
    # A foreign DNS name is now refused outright (mcp_server/web_guard.py); a name that passes the
    # Host check (an internal, single-label one) must still not leak into links.
    assert reader.get(f"{BASE}/users", headers={"Host": "evil.example"}).status_code == 400
    response = reader.get(f"{BASE}/users", params={"limit": 2}, headers={"Host": "internal-proxy:9000"})
    assert response.status_code == 200, response.text
    assert "internal-proxy" not in response.headers["link"] and "internal-proxy" not in response.text
    assert "http://127.0.0.1:8000" + BASE in response.headers["link"]
    assert '"href": "http://127.0.0.1:8000' in response.text.replace('":"', '": "')
