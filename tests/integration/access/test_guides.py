"""assign_guide / end_guide_assignment: a guide grant at the student's campus, no overlapping pair."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, text

from db.models import GuideAssignment, Student
from policies.authorize import build_scope
from policies.enforcer import default_enforcer
from policies.sql_guard.guard import guard_sql
from tests.integration.access.conftest import call, change_fields, count, keyed, refusal


def unassigned_student(deps, guide, org):
    with deps.session_factory() as session:
        mine = select(GuideAssignment.student_id).where(GuideAssignment.guide_user_id == guide.user_id)
        return (
            session.execute(
                select(Student.id)
                .where(Student.org_id == org, Student.id.not_in(mine))
                .order_by(Student.student_number)
            )
            .scalars()
            .first()
        )


def test_registrar_assigns_a_guide_who_then_sees_the_student(demo_deps, persona, places):
    guide = persona("guide_austin")
    student = unassigned_student(demo_deps, guide, places["austin"])
    assert refusal(demo_deps, guide, "get_student", student_id=str(student)).code == "not_found"

    assignment = call(
        demo_deps,
        persona("registrar_austin"),
        "assign_guide",
        guide_user_id=str(guide.user_id),
        student_id=str(student),
        start_on="2026-11-01",
        reason="new coaching pair",
    )

    assert assignment.org_id == places["austin"] and assignment.end_on is None
    assert {"guide_user_id", "student_id", "start_on", "org_id"} <= change_fields(demo_deps, assignment.assignment_id)
    assert call(demo_deps, guide, "get_student", student_id=str(student)).id == student


def test_overlapping_assignment_of_the_same_pair_is_refused(demo_deps, persona, places):
    guide, registrar = persona("guide_austin"), persona("registrar_austin")
    student = unassigned_student(demo_deps, guide, places["austin"])
    args = {"guide_user_id": str(guide.user_id), "student_id": str(student)}
    call(demo_deps, registrar, "assign_guide", start_on="2026-09-01", end_on="2026-12-31", **args)

    err = refusal(demo_deps, registrar, "assign_guide", start_on="2026-12-01", **args)

    assert err.code == "assignment_overlap"
    later = call(demo_deps, registrar, "assign_guide", start_on="2027-01-01", **args)
    assert later.start_on.isoformat() == "2027-01-01"


def test_assign_guide_refuses_bad_input_out_of_scope_and_roles_without_directory_write(demo_deps, persona, places):
    guide, registrar = persona("guide_austin"), persona("registrar_austin")
    student = unassigned_student(demo_deps, guide, places["austin"])
    before = count(demo_deps, GuideAssignment)
    args = {"guide_user_id": str(guide.user_id), "student_id": str(student), "start_on": "2026-11-01"}

    backwards = refusal(demo_deps, registrar, "assign_guide", **{**args, "end_on": "2026-10-01"})
    not_a_guide = refusal(demo_deps, registrar, "assign_guide", **{**args, "guide_user_id": str(registrar.user_id)})
    miami = refusal(demo_deps, persona("registrar_miami"), "assign_guide", **args)
    nurse = refusal(demo_deps, persona("nurse_austin"), "assign_guide", **args)
    read_only = refusal(demo_deps, keyed(registrar), "assign_guide", **args)

    assert (backwards.code, backwards.field) == ("invalid_input", "end_on")
    assert (not_a_guide.code, not_a_guide.field) == ("invalid_input", "guide_user_id")
    assert (miami.code, miami.field) == ("not_found", "student_id")
    assert nurse.code == read_only.code == "permission_denied"
    assert count(demo_deps, GuideAssignment) == before


def test_end_guide_assignment_sets_the_last_day_with_change_events(demo_deps, persona, places):
    guide, registrar = persona("guide_austin"), persona("registrar_austin")
    student = unassigned_student(demo_deps, guide, places["austin"])
    made = call(
        demo_deps,
        registrar,
        "assign_guide",
        guide_user_id=str(guide.user_id),
        student_id=str(student),
        start_on="2026-09-01",
    )

    ended = call(
        demo_deps, registrar, "end_guide_assignment", assignment_id=str(made.assignment_id), end_on="2026-11-30"
    )

    assert ended.end_on.isoformat() == "2026-11-30" and "end_on" in change_fields(demo_deps, made.assignment_id)
    again = refusal(
        demo_deps, registrar, "end_guide_assignment", assignment_id=str(made.assignment_id), end_on="2026-12-15"
    )
    early = refusal(
        demo_deps, registrar, "end_guide_assignment", assignment_id=str(made.assignment_id), end_on="2026-08-01"
    )
    other = refusal(
        demo_deps,
        persona("registrar_miami"),
        "end_guide_assignment",
        assignment_id=str(made.assignment_id),
        end_on="2026-11-01",
    )
    assert again.code == "assignment_ended"
    assert (early.code, early.field) == ("invalid_input", "end_on")
    assert (other.code, other.field) == ("not_found", "assignment_id")


def _guarded_student_ids(deps, guide, today):
    """run_sql's students view as the guard rewrites it for the guide on `today`, run on the test's connection."""
    with deps.session_factory() as session:
        dialect = "postgres" if session.get_bind().dialect.name == "postgresql" else "sqlite"
        scope = build_scope(session, default_enforcer(), guide, today=today)
        statement = guard_sql("SELECT student_id FROM students", scope, dialect=dialect, limit=500)
        params = {f"p{i}": value for i, value in enumerate(statement.params, start=1)}
        rows = session.execute(text(re.sub(r"\$(\d+)", r":p\1", statement.sql)), params).all()
        return {str(r[0]).replace("-", "") for r in rows}


def test_a_guide_stops_seeing_a_student_once_the_assignment_has_ended(demo_deps, persona, places):
    """Access follows the assignment's dates on every path: the tools (Scope) and run_sql (the SQL guard)."""
    guide, registrar = persona("guide_austin"), persona("registrar_austin")
    student = unassigned_student(demo_deps, guide, places["austin"])
    made = call(
        demo_deps, registrar, "assign_guide", guide_user_id=str(guide.user_id), student_id=str(student),
        start_on="2026-09-01",
    )  # fmt: skip
    assert call(demo_deps, guide, "get_student", student_id=str(student)).id == student
    assert student.hex in _guarded_student_ids(demo_deps, guide, dt.date(2026, 11, 20))

    call(demo_deps, registrar, "end_guide_assignment", assignment_id=str(made.assignment_id), end_on="2026-11-10")

    assert refusal(demo_deps, guide, "get_student", student_id=str(student)).code == "not_found"
    assert student.hex not in _guarded_student_ids(demo_deps, guide, dt.date(2026, 11, 20))
    assert student.hex in _guarded_student_ids(demo_deps, guide, dt.date(2026, 11, 5)), "in force on its own days"
