"""The FastAPI application: the composition root for every HTTP face."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.migrate import current_revision
from db.models import Organization, Student


def create_app(engine: Engine, *, demo_mode: bool = False) -> FastAPI:
    """Build the app over one engine; later faces (MCP, REST, chat) mount here."""
    app = FastAPI(
        title="SIS server",
        version="0.1.0",
        description="MCP-first Student Information System: one permission-aware tool catalog, many faces.",
    )
    app.state.engine = engine
    app.state.demo_mode = demo_mode

    @app.get("/healthz", tags=["system"])
    def healthz() -> dict[str, Any]:
        """Liveness and schema revision; no student data."""
        with Session(engine) as session:
            orgs = session.execute(select(func.count()).select_from(Organization)).scalar_one()
            students = session.execute(select(func.count()).select_from(Student)).scalar_one()
        return {
            "status": "ok",
            "database": engine.dialect.name,
            "schema_revision": current_revision(engine),
            "organizations": orgs,
            "students": students,
            "demo_mode": demo_mode,
        }

    return app
