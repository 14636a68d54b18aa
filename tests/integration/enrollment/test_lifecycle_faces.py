"""Every face agrees on a stint's status as its dates pass: tools, OneRoster, run_sql's view and the outbox."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select, text

from db.demo.calendar import DEMO_TODAY
from db.models import DomainEvent, Enrollment, Organization, Student
from mcp_server.enrollment_job import advance_all
from policies.authorize import build_scope
from policies.enforcer import default_enforcer
from policies.sql_guard.guard import guard_sql
from tests.factories import create_offering
from tools.runner import ToolCallError, run_tool

START = DEMO_TODAY + dt.timedelta(days=30)
END = START + dt.timedelta(days=40)


def _call(deps, principal, tool, arguments):
    return run_tool(deps, principal, tool, arguments, channel="test").output.model_dump(mode="json")


def _future_offering(deps):
    with deps.session_factory.begin() as session:
        austin = session.execute(select(Organization).where(Organization.slug == "austin")).scalar_one()
        offering = create_offering(
            session, austin, start_on=START, end_on=END, capacity=None, session_label="Winter", grade_min=-1
        )
        student = session.execute(select(Student.id).where(Student.org_id == austin.id).limit(1)).scalar_one()
        return str(offering.id), str(student)


def _faces(deps, registrar, offering_id, as_of):
    """(roster status on as_of, OneRoster statuses, the view's statuses) of the offering's stints."""
    roster = _call(deps, registrar, "query_roster", {"offering_id": offering_id, "as_of": as_of.isoformat()})
    pending = _call(
        deps, registrar, "query_roster", {"offering_id": offering_id, "status": "pending", "as_of": as_of.isoformat()}
    )
    one = _call(
        deps, registrar, "oneroster_read", {"collection": "enrollments", "class_id": offering_id, "as_of": as_of}
    )
    return (
        sorted({i["status"] for i in roster["items"]} | {f"{i['status']}*" for i in pending["items"]}),
        sorted(r["status"] for r in one["items"] if r["role"] == "student"),
        _view_statuses(deps, registrar),
    )


def _view_statuses(deps, registrar):
    """run_sql's enrollments view, guarded for the registrar as run_sql does, on the test's own connection.

    run_sql itself reads on a dedicated connection, which cannot see this test's uncommitted rows.
    """
    with deps.session_factory() as session:
        dialect = "postgres" if session.get_bind().dialect.name == "postgresql" else "sqlite"
        sql = f"SELECT status FROM enrollments WHERE start_on = '{START.isoformat()}'"
        statement = guard_sql(sql, build_scope(session, default_enforcer(), registrar), dialect=dialect, limit=50)
        params = {f"p{i}": value for i, value in enumerate(statement.params, start=1)}
        rows = session.execute(text(re.sub(r"\$(\d+)", r":p\1", statement.sql)), params).all()
        return sorted(r[0] for r in rows)


def _count(deps, kind, enrollment_id):
    with deps.session_factory() as session:
        events = session.execute(select(DomainEvent.payload).where(DomainEvent.event_type == kind)).scalars()
        return sum(1 for p in events if p["enrollment_id"] == enrollment_id)


def test_a_future_stint_is_pending_everywhere_then_active_then_completed(demo_deps, persona):
    registrar = persona("registrar_austin")
    offering_id, student_id = _future_offering(demo_deps)
    stint = _call(demo_deps, registrar, "enroll_student", {"student_id": student_id, "offering_id": offering_id})
    assert stint["status"] == "pending" and stint["start_on"] == START.isoformat()

    # Before the first day: pending in the roster tool, absent from OneRoster, pending in the view.
    assert _faces(demo_deps, registrar, offering_id, DEMO_TODAY) == (["pending*"], [], ["pending"])
    assert _count(demo_deps, "enrollment.activated", stint["id"]) == 0

    advance_all(demo_deps.session_factory, as_of=START)
    assert _faces(demo_deps, registrar, offering_id, START) == (["active"], ["active"], ["active"])
    assert _count(demo_deps, "enrollment.activated", stint["id"]) == 1
    again = advance_all(demo_deps.session_factory, as_of=START)
    assert again.stints == 0 and _count(demo_deps, "enrollment.activated", stint["id"]) == 1

    after = END + dt.timedelta(days=1)
    advance_all(demo_deps.session_factory, as_of=after)
    assert _faces(demo_deps, registrar, offering_id, END) == (["completed"], ["tobedeleted"], ["completed"])
    advance_all(demo_deps.session_factory, as_of=after)
    assert _count(demo_deps, "enrollment.completed", stint["id"]) == 1


def _stints_in(deps, offering_id):
    with deps.session_factory() as session:
        return session.execute(select(Enrollment.id).where(Enrollment.offering_id == uuid.UUID(offering_id))).all()


@pytest.mark.parametrize(
    ("who", "read_only", "arguments", "code", "field"),
    [
        ("registrar_austin", True, {}, None, None),
        ("nurse_austin", False, {}, None, None),
        ("registrar_miami", False, {}, "not_found", "student_id"),
        ("registrar_austin", False, {"grade_level": 13}, "invalid_input", "grade_level"),
    ],
    ids=["read-only-key", "role-without-directory-write", "other-campus", "bad-grade"],
)
def test_a_future_enrollment_refused_writes_nothing(demo_deps, persona, who, read_only, arguments, code, field):
    offering_id, student_id = _future_offering(demo_deps)
    principal = persona(who)
    if read_only:
        principal = replace(principal, token_scopes=("sis.read",))
    with pytest.raises(ToolCallError) as refused:
        run_tool(
            demo_deps,
            principal,
            "enroll_student",
            {"student_id": student_id, "offering_id": offering_id, **arguments},
            channel="test",
        )
    if code is not None:
        assert (refused.value.code, refused.value.field) == (code, field)
    else:
        assert refused.value.status == 403
    assert _stints_in(demo_deps, offering_id) == []
