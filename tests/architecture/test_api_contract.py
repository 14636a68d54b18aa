"""#20 "Versioning": /api/v1 is a contract. The live OpenAPI document may only add to the committed snapshot.

On a failure: a breaking change needs /api/v2 (docs/api/versioning.md); an additive change that the
check mistakes for a breaking one is a bug in mcp_server/rest/contract.py. After an additive change,
`sis api snapshot` refreshes docs/api/openapi-v1.json.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from fastapi.testclient import TestClient

from db.engine import make_engine
from mcp_server.app import create_app
from mcp_server.rest import versioning
from mcp_server.rest.contract import breaking_changes, contract_of, load_snapshot


@pytest.fixture(scope="module")
def live() -> dict:
    return contract_of(create_app(make_engine("sqlite:///:memory:")).openapi())


@pytest.fixture(scope="module")
def snapshot() -> dict:
    return load_snapshot()


def test_the_live_document_breaks_nothing_in_the_committed_snapshot(live, snapshot):
    assert breaking_changes(snapshot, live) == []


def test_the_snapshot_is_current_so_additions_are_reviewed_with_the_change(live, snapshot):
    missing = sorted(
        f"{m.upper()} {p}" for p, ops in live["paths"].items() for m in ops if m not in snapshot["paths"].get(p, {})
    )
    assert missing == [], "new operations: run `sis api snapshot` and commit docs/api/openapi-v1.json"


def _schema(doc: dict, name: str) -> dict:
    return doc["components"]["schemas"][name]


def test_each_kind_of_breaking_change_is_caught(snapshot):
    cases = []

    gone = copy.deepcopy(snapshot)
    del gone["paths"]["/api/v1/me"]
    cases.append((gone, "/api/v1/me: removed"))

    method = copy.deepcopy(snapshot)
    del method["paths"]["/api/v1/students"]["post"]
    cases.append((method, "POST /api/v1/students: removed"))

    field = copy.deepcopy(snapshot)
    page = _schema(field, "StudentPage")
    del page["properties"]["total"]
    cases.append((field, "GET /api/v1/students response 200.total: removed"))

    param = copy.deepcopy(snapshot)
    get = param["paths"]["/api/v1/students"]["get"]
    get["parameters"] = [p for p in get["parameters"] if p["name"] != "grade"]
    cases.append((param, "GET /api/v1/students query parameter 'grade': removed"))

    required = copy.deepcopy(snapshot)
    body = _schema(required, "RecordPaymentToolInputBody")
    body["required"] = sorted({*body.get("required", []), "memo"})
    cases.append((required, "POST /api/v1/households/{household_id}/payments body.memo: newly required"))

    narrowed = copy.deepcopy(snapshot)
    narrowed_body = _schema(narrowed, "RecordPaymentToolInputBody")
    narrowed_body["properties"]["memo"] = {"type": "integer"}
    cases.append((narrowed, "payments body.memo: type no longer accepts null, string"))

    for doc, expected in cases:
        found = breaking_changes(snapshot, doc)
        assert any(expected in problem for problem in found), (expected, found)


def test_additions_are_not_breaking(snapshot):
    grown = copy.deepcopy(snapshot)
    grown["paths"]["/api/v1/new-thing"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    _schema(grown, "StudentPage")["properties"]["next_cursor"] = {"type": "string"}
    body = _schema(grown, "RecordPaymentToolInputBody")
    body["properties"]["note_to_family"] = {"type": "string"}
    assert breaking_changes(snapshot, grown) == []


def test_a_deprecated_operation_says_so_in_its_headers_and_in_the_document():
    app = create_app(make_engine("sqlite:///:memory:"))
    deprecated = versioning.Deprecated(since=dt.date(2026, 12, 1), sunset=dt.date(2027, 6, 30), successor="/api/v2/me")
    versioning.install(app, {("GET", "/api/v1/me"): deprecated})
    answer = TestClient(app).get("/api/v1/me")
    assert answer.status_code == 401, "the operation still answers as before"
    assert answer.headers["deprecation"] == "@1796083200"
    assert answer.headers["sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    assert answer.headers["link"] == '</api/v2/me>; rel="successor-version"'
    assert app.openapi()["paths"]["/api/v1/me"]["get"]["deprecated"] is True
    assert "deprecation" not in TestClient(app).get("/api/v1/tools").headers
    with pytest.raises(ValueError, match="GET /api/v1/no-such"):
        versioning.install(app, {("GET", "/api/v1/no-such"): deprecated})
