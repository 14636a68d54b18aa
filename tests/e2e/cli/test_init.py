"""`sis init` as a real process on an empty database of each engine; then its key runs the network over MCP and REST."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mcp import Client
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import ApiKey, ChangeEvent, Organization, RoleGrant, SchoolDay, User
from mcp_server.app import create_app
from mcp_server.auth import authenticate_api_key
from mcp_server.mcp_face import fixed_principal_server
from mcp_server.settings import Settings
from mcp_server.wiring import build_deps
from tests.conftest import ENGINES, _fresh_postgres_database

SIS = shutil.which("sis", path=str(Path(sys.executable).parent)) or "sis"


@pytest.fixture(params=ENGINES)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database that does not exist yet (SQLite) or holds nothing (PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server = request.getfixturevalue("postgres_server_url")
    name = f"sis_init_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    yield _fresh_postgres_database(server, name)
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def sis_init(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIS_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run([SIS, "init", *args], env=env, capture_output=True, text=True, timeout=300)


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with Session(engine) as s:
        found = {
            model.__tablename__: s.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Organization, User, RoleGrant, ApiKey, ChangeEvent)
        }
    engine.dispose()
    return found


async def call(server, name, args=None):
    async with Client(server, raise_exceptions=True) as client:
        result = await client.call_tool(name, args or {})
    assert not result.is_error, result.content[0].text
    return result.structured_content


@pytest.mark.anyio
async def test_init_starts_a_network_whose_admin_key_builds_brands_campuses_and_calendars(empty_url):
    done = sis_init(
        empty_url, "--network", "Sunrise Schools", "--admin", "Founder@Sunrise.example", "--slug", "sunrise"
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("sis_live_")
    found = counts(empty_url)
    assert [found[t] for t in ("organization", "user_account", "role_grant", "api_key")] == [1, 1, 1, 1]

    engine = make_engine(empty_url)
    with Session(engine) as s:
        root = s.execute(select(Organization)).scalar_one()
        root_id = str(root.id)
        assert (root.path, root.level.value, root.kind.value, root.parent_id) == (
            "/sunrise/",
            "network",
            "FULL_SIS",
            None,
        )
        events = s.execute(select(ChangeEvent.entity_type, ChangeEvent.field, ChangeEvent.actor_label)).all()
        assert {label for _, _, label in events} == {"sis init"}
        assert {table for table, _, _ in events} == {"organization", "user_account", "role_grant", "api_key"}
        assert ("api_key", "scopes") in {(t, f) for t, f, _ in events}
        assert "secret_hash" not in {f for _, f, _ in events}
        principal = authenticate_api_key(s, key)
        s.commit()
    deps = build_deps(Settings(), engine)
    server = fixed_principal_server(deps, principal)

    me = await call(server, "whoami")
    assert me["email"] == "founder@sunrise.example"
    assert me["roles"] == [{"role": "network_admin", "org_path": "/sunrise/"}]
    assert me["writable"]["administration"] == ["/sunrise/"]
    assert sorted(me["token_scopes"]) == ["audit.read", "sis.read", "sis.write"]

    brand = await call(
        server, "create_organization", {"parent_id": root_id, "name": "Sunrise Academy", "level": "brand"}
    )
    florida = await call(
        server,
        "create_organization",
        {
            "parent_id": brand["id"],
            "name": "Sunrise Miami",
            "slug": "miami",
            "level": "campus",
            "kind": "FULL_SIS",
            "jurisdiction": "US-FL",
            "timezone": "America/New_York",
        },
    )
    partner = await call(
        server,
        "create_organization",
        {"parent_id": brand["id"], "name": "Harbor Partner School", "level": "campus", "kind": "ROSTER_ONLY"},
    )
    assert (florida["path"], florida["jurisdiction"], partner["kind"]) == (
        "/sunrise/sunrise-academy/miami/",
        "FL",
        "ROSTER_ONLY",
    )
    calendar = await call(
        server,
        "set_school_calendar",
        {
            "org_id": florida["id"],
            "school_year": "2026-27",
            "first_day": "2026-08-10",
            "last_day": "2027-05-27",
            "closures": [{"start": "2026-11-23", "end": "2026-11-27", "label": "Thanksgiving"}],
        },
    )
    assert calendar["school_days"] > 150
    me = await call(server, "whoami")
    assert {c["path"] for c in me["campuses"]} == {florida["path"], partner["path"]}

    # The same key over REST.
    client = TestClient(create_app(engine), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {key}"
    made = client.post("/api/v1/orgs", json={"parent_id": brand["id"], "name": "Sunrise Tampa", "level": "campus"})
    assert made.status_code == 201, made.text
    tampa = made.json()
    put = client.put(
        f"/api/v1/orgs/{tampa['id']}/calendars/2026-27", json={"first_day": "2026-08-10", "last_day": "2027-05-27"}
    )
    assert put.status_code == 200, put.text
    got = client.get(f"/api/v1/orgs/{tampa['id']}/calendars/2026-27")
    assert got.json()["school_days"] == put.json()["school_days"]
    listed = client.get("/api/v1/orgs", params={"level": "campus"})
    assert {o["slug"] for o in listed.json()["items"]} == {"miami", "harbor-partner-school", "sunrise-tampa"}
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(SchoolDay)).scalar_one() == 2 * calendar["school_days"] + 5
    engine.dispose()


def test_init_refuses_a_database_that_already_has_a_root_and_writes_nothing(empty_url):
    assert sis_init(empty_url, "--network", "First", "--admin", "one@first.example").returncode == 0
    before = counts(empty_url)
    again = sis_init(empty_url, "--network", "Second", "--admin", "two@second.example")
    assert again.returncode != 0
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "already has a root organization (/first/)" in lines[0], again.stderr
    assert "Traceback" not in again.stderr and not again.stdout.strip()
    assert counts(empty_url) == before


def test_init_refuses_a_malformed_admin_email_with_one_line(empty_url):
    failed = sis_init(empty_url, "--network", "First", "--admin", "not-an-email")
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines() == ["error: 'not-an-email' is not an email address (--admin)"]
    assert counts(empty_url)["organization"] == 0
