"""Every OneRoster response validates against the official 1EdTech OpenAPI document (strict schemas)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mcp_server.oneroster.routes import ROUTES
from tests.e2e.integrators import BASE

# Vendored, byte for byte (see tests/data/README.md).
SPEC_PATH = Path(__file__).resolve().parents[2] / "data/oneroster/onerosterv1p2rostersservice_openapi3_v1p0.json"


@cache
def spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def validator(schema_ref: str) -> Draft202012Validator:
    document = spec()
    return Draft202012Validator(
        {"$ref": schema_ref, "components": document["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def response_ref(path: str, status: str) -> str:
    responses = spec()["paths"][path]["get"]["responses"]
    return responses.get(status, responses["default"])["content"]["application/json"]["schema"]["$ref"]


def assert_valid(path: str, status: str, body: dict) -> None:
    errors = sorted(validator(response_ref(path, status)).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{path} {status}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_route_table_is_the_documents_paths_with_its_scopes():
    document = spec()
    ours = {r.path: (r.operation_id, sorted(r.scopes)) for r in ROUTES}
    theirs = {
        path: (item["get"]["operationId"], sorted(item["get"]["security"][0]["OAuth2CC"]))
        for path, item in document["paths"].items()
    }
    assert ours == theirs


def _ids(client) -> dict[str, str]:
    """Real ids to fill path templates with, read through the API itself."""

    def first(path: str, key: str, **params: str) -> str:
        body = client.get(BASE + path, params={"limit": "1", **params}).json()
        return body[key][0]["sourcedId"]

    school = first("/schools", "orgs", filter="identifier='austin'")
    klass = first(f"/schools/{school}/classes", "classes", filter="title~'Regular Year'")
    term = client.get(BASE + f"/classes/{klass}").json()["class"]["terms"][0]["sourcedId"]
    return {
        "schoolSourcedId": school,
        "classSourcedId": klass,
        "courseSourcedId": first("/courses", "courses"),
        "termSourcedId": term,
        "studentSourcedId": first(f"/classes/{klass}/students", "users"),
        "teacherSourcedId": first("/teachers", "users"),
        "userSourcedId": first("/users", "users"),
    }


SINGLE_SOURCE = {
    "academicSessions": "/academicSessions",
    "classes": "/classes",
    "courses": "/courses",
    "demographics": "/demographics",
    "enrollments": "/enrollments",
    "orgs": "/orgs",
    "schools": "/schools",
    "students": "/students",
    "teachers": "/teachers",
    "terms": "/terms",
    "users": "/users",
}


def test_every_path_answers_with_a_body_the_official_schema_accepts(integrator_db):
    client = integrator_db.client("network_admin")
    ids = _ids(client)
    checked = 0
    for path in spec()["paths"]:
        top = path.split("/")[1]
        url = path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", value)
        if "{sourcedId}" in url:
            if top == "gradingPeriods":
                # The SIS has no grading periods: a single read is an unknown object, in the standard's error form.
                response = client.get(BASE + url.replace("{sourcedId}", ids["termSourcedId"]))
                assert response.status_code == 404
                assert_valid(path, "404", response.json())
                continue
            listing = client.get(BASE + SINGLE_SOURCE[top], params={"limit": "1"}).json()
            url = url.replace("{sourcedId}", next(iter(listing.values()))[0]["sourcedId"])
        assert "{" not in url, url
        response = client.get(BASE + url, params={} if re.search(r"/[0-9a-f-]{36}$", url) else {"limit": "25"})
        assert response.status_code == 200, (url, response.text[:300])
        assert_valid(path, "200", response.json())
        checked += 1
    assert checked >= 39


@pytest.mark.parametrize("collection", ["users", "enrollments", "classes", "orgs", "courses", "academicSessions"])
def test_whole_collections_validate_page_by_page(integrator_db, collection):
    client = integrator_db.client("network_admin")
    offset, seen = 0, 0
    while True:
        response = client.get(f"{BASE}/{collection}", params={"limit": "500", "offset": str(offset)})
        assert response.status_code == 200
        assert_valid(f"/{collection}", "200", response.json())
        seen += len(response.json()[collection])
        if 'rel="next"' not in response.headers["link"]:
            break
        offset += 500
    assert seen == int(response.headers["x-total-count"])


@pytest.mark.parametrize(
    ("url", "headers", "status", "minor"),
    [
        ("/users", {}, 401, "unauthorisedrequest"),
        ("/users", {"Authorization": "Bearer sis_live_deadbeef_notarealkeynotarealkeynotarealkey"}, 401, None),
        ("/users?filter=shoeSize='9'", None, 400, "invalid_filter_field"),
        ("/users?filter=givenName=='x'", None, 400, "invalid_filter_field"),
        ("/users?fields=sourcedId,shoeSize", None, 400, "invalid_selection_field"),
        ("/users?sort=shoeSize", None, 400, "invalid_selection_field"),
        ("/users?limit=0", None, 400, "invaliddata"),
        ("/users/not-a-real-id", None, 404, "unknownobject"),
        ("/demographics", "partner_readonly", 403, "forbidden"),
    ],
)
def test_failures_use_the_standard_status_payload(integrator_db, url, headers, status, minor):
    client = integrator_db.client(headers if isinstance(headers, str) else "network_admin")
    if isinstance(headers, dict):
        client.headers.pop("Authorization", None)
        client.headers.update(headers)
    response = client.get(BASE + url)
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid("/users", str(status), body)
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    if minor:
        assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == minor


def test_fields_projects_and_still_fits_the_schema_properties(integrator_db):
    client = integrator_db.client("network_admin")
    response = client.get(f"{BASE}/users", params={"fields": "sourcedId,givenName", "limit": "5"})
    assert response.status_code == 200
    assert all(set(u) <= {"sourcedId", "givenName"} and "sourcedId" in u for u in response.json()["users"])
