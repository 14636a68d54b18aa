"""`sis apikey create|list|revoke` and `sis audit verify`, run as a user would, against a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from db.models import Organization, OrgLevel, QueryLog
from mcp_server.auth import authenticate_api_key
from mcp_server.cli_security import apikey_app, audit_app
from mcp_server.settings import Settings
from tests.factories import create_org, create_user
from tests.integration.audit.conftest import fill_change_events, fill_query_log, triggers_off
from tests.integration.policies.conftest import grant

runner = CliRunner()


def sis(app, args, engine):
    """Run a `sis` sub-command as main() would with SIS_DATABASE_URL naming `engine`'s database."""
    url = engine.url.render_as_string(hide_password=False)
    return runner.invoke(app, args, obj=Settings.from_environ({"SIS_DATABASE_URL": url}))


@pytest.fixture()
def cli_db(fresh_engine):
    """The fresh database the CLI is pointed at, with a registrar to own keys."""
    with Session(fresh_engine, expire_on_commit=False) as session:
        root = create_org(session, slug="alpha", level=OrgLevel.NETWORK)
        campus = create_org(session, parent=root, slug="austin")
        user = create_user(session, email="registrar@alpha.example")
        grant(session, user, "registrar", campus)
        session.commit()
    return fresh_engine


def test_create_prints_the_key_on_its_last_line_and_it_authenticates(cli_db):
    result = sis(
        apikey_app,
        [
            "create",
            "--user",
            "Registrar@alpha.example",
            "--name",
            "sync",
            "--scope",
            "roster.readonly",
            "--org",
            "/alpha/austin/",
            "--expires-days",
            "30",
        ],
        cli_db,
    )
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip().splitlines()[-1]
    with Session(cli_db) as session:
        principal = authenticate_api_key(session, plaintext)
        assert principal.email == "registrar@alpha.example" and principal.org_limit_path == "/alpha/austin/"


def test_list_shows_prefix_name_owner_and_scopes_but_never_the_secret(cli_db):
    created = sis(apikey_app, ["create", "--user", "registrar@alpha.example", "--name", "nightly export"], cli_db)
    plaintext = created.stdout.strip().splitlines()[-1]
    prefix = "_".join(plaintext.split("_", 3)[:3])

    listed = sis(apikey_app, ["list"], cli_db)
    assert listed.exit_code == 0, listed.output
    assert prefix in listed.stdout and "nightly export" in listed.stdout and "sis.read" in listed.stdout
    assert "registrar@alpha.example" in listed.stdout
    assert plaintext.split("_", 3)[3] not in listed.stdout


def test_revoke_refuses_the_key_from_then_on(cli_db):
    created = sis(apikey_app, ["create", "--user", "registrar@alpha.example", "--name", "old"], cli_db)
    plaintext = created.stdout.strip().splitlines()[-1]
    prefix = "_".join(plaintext.split("_", 3)[:3])

    revoked = sis(apikey_app, ["revoke", prefix], cli_db)
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    with Session(cli_db) as session, pytest.raises(Exception, match="revoked"):
        authenticate_api_key(session, plaintext)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--user", "nobody@alpha.example", "--name", "x"], "no active user"),
        (["create", "--user", "registrar@alpha.example", "--name", "x", "--org", "/nowhere/"], "no organization"),
        (["create", "--user", "registrar@alpha.example", "--name", "x", "--scope", "sis.all"], "unknown scope"),
        (["revoke", "sis_live_00000000"], "no API key"),
    ],
)
def test_mistakes_print_one_clear_line_and_exit_non_zero(cli_db, args, message):
    result = sis(apikey_app, args, cli_db)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_verify_exits_zero_on_an_intact_trail(cli_db):
    with Session(cli_db) as session:
        fill_query_log(session, 3)
        fill_change_events(session, 1)
        session.commit()

    result = sis(audit_app, ["verify"], cli_db)
    assert result.exit_code == 0, result.output
    assert "query_log: intact, 3 entries" in result.stdout and "change_event: intact, 3 entries" in result.stdout


def test_verify_names_the_first_broken_entry_and_exits_one(cli_db):
    with Session(cli_db) as session:
        fill_query_log(session, 4)
        session.commit()
        triggers_off(session)
        session.execute(update(QueryLog).where(QueryLog.seq == 2).values(row_count=999))
        session.commit()

    result = sis(audit_app, ["verify"], cli_db)
    assert result.exit_code == 1
    assert "query_log: BROKEN at seq 2" in result.stderr and "altered" in result.stderr
    assert "change_event: intact" in result.stdout


def test_a_key_made_without_scopes_reads_what_its_owners_roles_read_and_writes_nothing(cli_db):
    """An auditor's default key reads the audit log (before: sis.read only, and a refusal blaming the role)."""
    with Session(cli_db, expire_on_commit=False) as session:
        root = session.query(Organization).filter_by(slug="alpha").one()
        auditor = create_user(session, email="auditor@alpha.example")
        grant(session, auditor, "auditor", root)
        session.commit()
    made = {}
    for email in ("auditor@alpha.example", "registrar@alpha.example"):
        result = sis(apikey_app, ["create", "--user", email, "--name", "default"], cli_db)
        assert result.exit_code == 0, result.output
        with Session(cli_db) as session:
            made[email] = authenticate_api_key(session, result.stdout.strip().splitlines()[-1]).token_scopes
    assert sorted(made["auditor@alpha.example"]) == ["audit.read", "sis.read"]
    assert list(made["registrar@alpha.example"]) == ["sis.read"], "write scopes stay opt-in"
