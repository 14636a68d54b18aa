"""A committed, demo-seeded database per engine with API keys, for tests that cross a process or HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select

from db.models import User
from mcp_server.auth import create_api_key
from tests.conftest import ENGINES, fresh_database
from tests.personas import PERSONAS


@dataclass
class ServedDatabase:
    engine: Engine
    url: str
    keys: dict[str, str]  # persona short name -> plaintext API key


@pytest.fixture(scope="session", params=ENGINES)
def served_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDatabase]:
    engine = fresh_database(request.param, request, tmp_path_factory, "served", demo=True)
    keys: dict[str, str] = {}
    from sqlalchemy.orm import Session

    with Session(engine) as session, session.begin():
        for short, email in PERSONAS.items():
            user = session.execute(select(User).where(User.email == email)).scalar_one()
            scopes = ["roster.readonly"] if short == "integration_lakeside" else ["sis.read", "sis.write", "audit.read"]
            _, plaintext = create_api_key(session, user, f"tests {short}", scopes)
            keys[short] = plaintext
    yield ServedDatabase(engine=engine, url=engine.url.render_as_string(hide_password=False), keys=keys)
    engine.dispose()
