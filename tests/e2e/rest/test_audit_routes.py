"""Auditors read the audit trails over REST: search, verify, CSV export; nobody else can."""

from __future__ import annotations

import csv
import io


def test_auditor_searches_verifies_and_exports_the_query_log(integrator_db):
    client = integrator_db.client("network_admin")
    client.get("/api/v1/students", params={"text": "a", "limit": 2, "purpose": "audit export test"})
    page = client.get("/api/v1/audit/log", params={"capability": "search_students", "limit": 5})
    assert page.status_code == 200, page.text
    entries = page.json()["query_log"]
    assert entries and all(e["capability"] == "search_students" for e in entries)
    assert client.get("/api/v1/audit/verify").json()["ok"] is True
    exported = client.get("/api/v1/audit/log.csv", params={"capability": "search_students"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows and {"seq", "principal_email", "purpose", "student_ids_disclosed"} <= set(rows[0])
    assert any(r["purpose"] == "audit export test" for r in rows)


def test_change_events_export_as_csv(integrator_db):
    exported = integrator_db.client("network_admin").get("/api/v1/audit/log.csv", params={"trail": "change_events"})
    assert exported.status_code == 200
    assert exported.text.splitlines()[0].startswith("seq,occurred_at,actor_label,entity_type")


def test_roles_without_the_audit_class_are_refused(integrator_db):
    for route in ("/api/v1/audit/log", "/api/v1/audit/verify", "/api/v1/audit/log.csv"):
        response = integrator_db.client("registrar_austin").get(route)
        assert response.status_code == 403, (route, response.text)
        assert response.json()["error"]["message"] == "the audit log is not visible to your role"


def test_caller_text_that_a_spreadsheet_would_run_is_exported_inert(integrator_db):
    """OWASP CSV injection: a purpose such as =HYPERLINK(...) must not arrive as a formula."""
    client = integrator_db.client("network_admin")
    planted = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB"]
    for purpose in planted:
        client.get("/api/v1/students", params={"text": "a", "limit": 1, "purpose": purpose})
    exported = client.get("/api/v1/audit/log.csv", params={"capability": "search_students"})
    purposes = {r["purpose"] for r in csv.DictReader(io.StringIO(exported.text))}
    assert {"'" + p for p in planted} <= purposes
    assert not any(p and p[0] in "=+-@\t" for p in purposes)
