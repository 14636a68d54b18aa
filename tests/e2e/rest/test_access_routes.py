"""The access routes over HTTP: a network admin onboards a registrar, gives her a key, and takes it away."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.demo.personas import MIAMI_PATH
from db.models import Organization, User
from mcp_server.app import create_app
from mcp_server.auth import create_api_key
from tests.conftest import ENGINES, fresh_database

API = "/api/v1"


@pytest.fixture(scope="module", params=ENGINES)
def onboarding(request, tmp_path_factory) -> Iterator[tuple[TestClient, str]]:
    """A committed demo database of this module's own, the app over it, and the network admin's full key."""
    engine = fresh_database(request.param, request, tmp_path_factory, f"access_{request.param}", demo=True)
    with Session(engine) as session, session.begin():
        admin = session.execute(select(User).where(User.email == "admin@sis.example")).scalar_one()
        _, key = create_api_key(session, admin, "onboarding", ["sis.read", "sis.write", "audit.read"])
        miami = str(session.execute(select(Organization.id).where(Organization.path == MIAMI_PATH)).scalar_one())
    client = TestClient(create_app(engine), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {key}"
    yield client, miami
    engine.dispose()


def as_key(client: TestClient, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_admin_creates_a_user_grants_a_role_and_a_key_that_works_until_deactivation(onboarding):
    client, miami = onboarding
    user = client.post(
        f"{API}/users", json={"email": "Rita.Nurse@sis.example", "display_name": "Rita", "org_id": miami}
    )
    assert user.status_code == 201, user.text
    user_id = user.json()["user_id"]

    grant = client.post(f"{API}/grants", json={"user_id": user_id, "role": "nurse", "org_id": miami})
    assert grant.status_code == 201, grant.text
    key = client.post(f"{API}/api-keys", json={"name": "rita", "scopes": ["sis.read", "sis.write"], "user_id": user_id})
    assert key.status_code == 201, key.text
    plaintext = key.json()["api_key"]

    me = client.post(f"{API}/tools/whoami", json={}, headers=as_key(client, plaintext))
    assert me.status_code == 200 and me.json()["output"]["email"] == "rita.nurse@sis.example"
    listed = client.get(f"{API}/grants", params={"user_id": user_id})
    assert [g["role"] for g in listed.json()["items"]] == ["nurse"]

    gone = client.post(f"{API}/users/{user_id}/deactivate", json={"reason": "left"})
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    refused = client.post(f"{API}/tools/whoami", json={}, headers=as_key(client, plaintext))
    assert refused.status_code == 401


def test_grant_revoke_and_key_revocation_routes(onboarding):
    client, miami = onboarding
    user_id = client.post(
        f"{API}/users", json={"email": "temp.guide@sis.example", "display_name": "Temp", "org_id": miami}
    ).json()["user_id"]
    grant = client.post(f"{API}/grants", json={"user_id": user_id, "role": "guide", "org_id": miami}).json()

    revoked = client.post(f"{API}/grants/{grant['grant_id']}/revoke", json={"reason": "season over"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"

    key = client.post(f"{API}/api-keys", json={"name": "mine", "scopes": ["sis.read"]}).json()
    assert client.delete(f"{API}/api-keys/{key['key_id']}").status_code == 200
    assert client.post(f"{API}/tools/whoami", json={}, headers=as_key(client, key["api_key"])).status_code == 401
    keys = client.get(f"{API}/api-keys").json()["items"]
    assert all("api_key" not in k and "secret_hash" not in k for k in keys)


def test_bad_input_and_duplicates_answer_4xx_with_the_field(onboarding):
    client, miami = onboarding
    bad = client.post(f"{API}/users", json={"email": "nope", "display_name": "X", "org_id": miami})
    client.post(f"{API}/users", json={"email": "twice@sis.example", "display_name": "X", "org_id": miami})
    twice = client.post(f"{API}/users", json={"email": "TWICE@sis.example", "display_name": "X", "org_id": miami})
    role = client.post(f"{API}/grants", json={"user_id": miami, "role": "wizard", "org_id": miami})

    assert bad.status_code == 422 and bad.json()["error"]["field"] == "email"
    assert twice.status_code == 409 and twice.json()["error"]["field"] == "email"
    assert role.status_code == 422 and role.json()["error"]["field"].startswith("role")
