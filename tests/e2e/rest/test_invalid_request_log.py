"""Issue #15, Audit, "Calls that leave no entry": a request FastAPI refuses before the runner (a malformed
body, a query parameter of the wrong type) is on the query log too, with the caller, rate-limited per address."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import QueryLog, QueryOutcome
from mcp_server.request_log import WINDOW_SECONDS, RequestLogLimit
from tests.e2e.integrators import BASE


def _head(integrator_db) -> int:
    with Session(integrator_db.engine) as session:
        return session.execute(select(func.coalesce(func.max(QueryLog.seq), 0))).scalar_one()


def _entries_after(integrator_db, seq: int) -> list[QueryLog]:
    with Session(integrator_db.engine) as session:
        return list(session.execute(select(QueryLog).where(QueryLog.seq > seq).order_by(QueryLog.seq)).scalars())


def test_a_malformed_json_body_to_a_tool_route_is_logged_as_invalid_with_the_caller(integrator_db):
    start = _head(integrator_db)
    response = integrator_db.client("nurse_austin").post(
        "/api/v1/behavior-incidents", content=b'{"student_id": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    (entry,) = _entries_after(integrator_db, start)
    assert entry.outcome is QueryOutcome.INVALID and entry.error_code == "invalid_input"
    assert entry.capability == "record_behavior_incident"
    assert entry.principal_email == "nurse.austin@sis.example" and entry.api_key_prefix


def test_a_wrong_type_in_a_query_parameter_is_logged_on_rest_and_oneroster(integrator_db):
    start = _head(integrator_db)
    rest = integrator_db.client("registrar_austin").get("/api/v1/students", params={"limit": "many"})
    assert rest.status_code == 422
    roster = integrator_db.client("partner").get(f"{BASE}/students", params={"limit": "many"})
    assert roster.status_code == 400
    rest_entry, roster_entry = _entries_after(integrator_db, start)
    assert (rest_entry.capability, rest_entry.principal_email) == ("search_students", "registrar.austin@sis.example")
    assert rest_entry.arguments["fields"] == ["query.limit"] and rest_entry.outcome is QueryOutcome.INVALID
    assert roster_entry.principal_email == "integration.partner@sis.example"
    assert roster_entry.arguments["channel"] == "oneroster" and roster_entry.outcome is QueryOutcome.INVALID


def test_an_unknown_key_is_logged_as_anonymous_with_its_prefix_only(integrator_db):
    start = _head(integrator_db)
    secret = "S" * 40
    client = integrator_db.client()
    client.headers["Authorization"] = f"Bearer sis_live_0123abcd_{secret}"
    assert client.post("/api/v1/behavior-incidents", content=b"[", headers={"Content-Type": "application/json"})
    failure, entry = _entries_after(integrator_db, start)
    assert failure.capability == "auth:rest" and failure.api_key_prefix == "sis_live_0123abcd", "a failed sign-in"
    assert entry.principal_email == "anonymous" and entry.api_key_prefix == "sis_live_0123abcd"
    assert entry.outcome is QueryOutcome.INVALID
    for logged in (failure, entry):
        assert secret not in repr(logged.arguments) and secret not in (logged.error_message or "")


def test_the_rate_limit_drops_entries_beyond_n_per_address_and_says_so_in_the_next(integrator_db):
    now = [0.0]
    saved = integrator_db.app.state.request_log_limit
    integrator_db.app.state.request_log_limit = RequestLogLimit(2, clock=lambda: now[0])
    try:
        start = _head(integrator_db)
        client = integrator_db.client("registrar_austin")
        for _ in range(5):
            assert client.get("/api/v1/students", params={"limit": "x"}).status_code == 422
        assert len(_entries_after(integrator_db, start)) == 2
        now[0] += WINDOW_SECONDS
        assert client.get("/api/v1/students", params={"limit": "x"}).status_code == 422
        entries = _entries_after(integrator_db, start)
        assert len(entries) == 3 and entries[-1].arguments["dropped_before"] == 3
        assert "dropped_before" not in entries[0].arguments
    finally:
        integrator_db.app.state.request_log_limit = saved
