"""A committed demo database per engine with integrator API keys, and an app over it (loopback, in process)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.models import Organization, User
from mcp_server.app import create_app
from mcp_server.auth import create_api_key
from tests.conftest import ENGINES, fresh_database

BASE = "/ims/oneroster/rostering/v1p2"
# persona -> (email, key scopes)
KEYS = {
    "partner": ("integration.partner@sis.example", ["roster.readonly", "sis.write"]),
    "partner_readonly": ("integration.partner@sis.example", ["roster.readonly"]),
    "network_admin": ("admin@sis.example", ["sis.read", "sis.write", "audit.read"]),
    "registrar_austin": ("registrar.austin@sis.example", ["sis.read", "sis.write"]),
    "nurse_austin": ("nurse.austin@sis.example", ["sis.read", "sis.write"]),
    "guide_austin": ("guide.austin@sis.example", ["sis.read", "sis.write"]),
}


@dataclass
class IntegratorDatabase:
    engine: Engine
    app: FastAPI
    keys: dict[str, str]
    orgs: dict[str, str]  # slug -> org id

    def client(self, key: str | None = None) -> TestClient:
        """A loopback client, authenticated with the named key when given."""
        client = TestClient(self.app, raise_server_exceptions=False)
        if key is not None:
            client.headers["Authorization"] = f"Bearer {self.keys[key]}"
        return client


@pytest.fixture(scope="session", params=ENGINES)
def integrator_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IntegratorDatabase]:
    engine = fresh_database(request.param, request, tmp_path_factory, "integrators", demo=True)
    keys: dict[str, str] = {}
    with Session(engine) as session, session.begin():
        for name, (email, scopes) in KEYS.items():
            user = session.execute(select(User).where(User.email == email)).scalar_one()
            _, keys[name] = create_api_key(session, user, f"tests {name}", scopes)
        orgs = {slug: str(org_id) for slug, org_id in session.execute(select(Organization.slug, Organization.id))}
    yield IntegratorDatabase(engine=engine, app=create_app(engine), keys=keys, orgs=orgs)
    engine.dispose()
