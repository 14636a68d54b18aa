"""Helpers for audit tests: filling the chains and switching the append-only triggers off to tamper."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import QueryOutcome
from domain.audit.changes import record_changes
from domain.audit.querylog import record_query
from policies.scope import Actor, Scope, scope_for_orgs
from tests.conftest import fresh_database
from tests.factories import create_org, create_student

APPEND_ONLY_TRIGGERS = {
    "change_event": ("change_event_no_update", "change_event_no_delete"),
    "query_log": ("query_log_no_update", "query_log_no_delete"),
}


def triggers_off(session: Session) -> None:
    """Act as a privileged attacker for the rest of this (rolled-back) transaction.

    PostgreSQL: SET LOCAL session_replication_role = replica (superuser) skips user triggers.
    SQLite: the triggers are dropped; DDL is transactional there, so the rollback restores them.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
        return
    for names in APPEND_ONLY_TRIGGERS.values():
        for name in names:
            session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def audit_actor() -> Actor:
    return Actor(user_id=None, label="auditor-test@example.org", kind="user", auth_method="api_key")


def fill_query_log(session: Session, count: int = 5, *, scope: Scope | None = None) -> list[int]:
    """Append `count` entries; returns their seqs."""
    seqs = []
    for i in range(count):
        entry = record_query(
            session,
            audit_actor(),
            capability=f"capability_{i}",
            scope=scope,
            arguments={"i": i},
            student_ids=[uuid.uuid4()],
            row_count=1,
            outcome=QueryOutcome.OK,
            duration_us=100 + i,
        )
        seqs.append(entry.seq)
    return seqs


def fill_change_events(session: Session, students: int = 2) -> Scope:
    """Change three fields of `students` new students (three chained events each); returns the scope used."""
    campus = create_org(session)
    scope = scope_for_orgs(Actor(user_id=None, label="writer@example.org"), [campus.id])
    for _ in range(students):
        student = create_student(session, campus)
        student.preferred_name, student.phone, student.email = "Changed", "555-0100", "s@example.org"
        record_changes(session, scope, student, reason="test")
    session.flush()
    return scope


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A new migrated database whose writes really commit (CLI runs and concurrent writers).

    Cloned from the run's migrated template (tests/conftest.py), not migrated per test.
    """
    engine = fresh_database(request.param, request, tmp_path_factory, f"fresh_{uuid.uuid4().hex[:8]}")
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        admin = make_engine(request.getfixturevalue("postgres_server_url"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)'))
        admin.dispose()
