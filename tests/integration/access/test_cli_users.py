"""`sis users list` stays true after the access tools: grants in force only, deactivated users marked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from db.base import utcnow
from db.models import OrgLevel, RoleGrant
from mcp_server.cli import app
from mcp_server.settings import Settings
from tests.factories import create_org, create_user
from tests.integration.audit.conftest import fresh_engine  # noqa: F401  (the committed database fixture)
from tests.integration.policies.conftest import grant


def test_users_list_shows_grants_in_force_and_marks_deactivated_users(fresh_engine):  # noqa: F811
    with Session(fresh_engine, expire_on_commit=False) as session:
        root = create_org(session, slug="alpha", level=OrgLevel.NETWORK)
        campus = create_org(session, parent=root, slug="austin")
        current = create_user(session, email="current@alpha.example")
        grant(session, current, "registrar", campus)
        gone = create_user(session, email="gone@alpha.example")
        grant(session, gone, "nurse", campus)
        gone.is_active = False
        revoked = create_user(session, email="revoked@alpha.example")
        grant(session, revoked, "finance", campus)
        expired = create_user(session, email="expired@alpha.example")
        grant(session, expired, "guide", campus, expires_on=dt.date.today() - dt.timedelta(days=1))
        session.flush()
        session.execute(update(RoleGrant).where(RoleGrant.user_id == revoked.id).values(revoked_at=utcnow()))
        session.commit()

    url = fresh_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["users", "list"], obj=Settings.from_environ({"SIS_DATABASE_URL": url}))

    assert result.exit_code == 0, result.output
    lines = {
        email: [line for line in result.stdout.splitlines() if email in line]
        for email in ("current@", "gone@", "revoked@", "expired@")
    }
    assert lines["revoked@"] == [] and lines["expired@"] == []
    assert len(lines["current@"]) == len(lines["gone@"]) == 1
    lines = {email: found[0] for email, found in lines.items() if found}
    assert "active" in lines["current@"] and "deactivated" not in lines["current@"]
    assert "deactivated" in lines["gone@"]
