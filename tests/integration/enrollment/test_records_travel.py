"""Records that follow the student: after a transfer the receiving campus sees the cumulative record.

Prior stints (directory), attendance and behavior from the sending campus travel, marked
transferred_from; the sending campus keeps its own rows; a third campus sees nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import and_, func, select

from db.demo.calendar import DEMO_TODAY
from db.models import (
    AttendanceRecord,
    BehaviorIncident,
    Enrollment,
    EnrollmentStatus,
    Organization,
    Program,
    ProgramKind,
    ProgramOffering,
    Student,
)
from domain.calendar import school_year_start
from tests.integration.policies.conftest import persona as staff_with
from tools.runner import ToolCallError, run_tool

YEAR = {"start_on": school_year_start(DEMO_TODAY).isoformat(), "end_on": DEMO_TODAY.isoformat()}


def _call(deps: Any, principal: Any, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return run_tool(deps, principal, tool, arguments, channel="test").output.model_dump(mode="json")


def _org(session, slug):
    return session.execute(select(Organization).where(Organization.slug == slug)).scalar_one()


@pytest.fixture()
def moved(demo_deps, persona):
    """A Miami student with attendance and behavior history, transferred to Austin today by the network admin."""
    with demo_deps.session_factory() as s:
        miami, austin = _org(s, "miami"), _org(s, "austin")
        stint, student = s.execute(
            select(Enrollment, Student)
            .join(Student, Student.id == Enrollment.student_id)
            .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
            .join(Program, Program.id == ProgramOffering.program_id)
            .where(
                Student.org_id == miami.id,
                Enrollment.org_id == miami.id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
                Program.kind == ProgramKind.REGULAR_YEAR,
                Enrollment.start_on < DEMO_TODAY - dt.timedelta(days=30),
                Student.id.in_(select(BehaviorIncident.student_id).where(BehaviorIncident.org_id == miami.id)),
                Student.id.in_(select(AttendanceRecord.student_id).where(AttendanceRecord.org_id == miami.id)),
            )
            .order_by(Student.student_number)
            .limit(1)
        ).one()
        target = s.execute(
            select(ProgramOffering.id)
            .join(Program, Program.id == ProgramOffering.program_id)
            .where(
                ProgramOffering.org_id == austin.id,
                Program.kind == ProgramKind.REGULAR_YEAR,
                ProgramOffering.start_on <= DEMO_TODAY,
                ProgramOffering.end_on >= DEMO_TODAY,
                and_(ProgramOffering.grade_min <= stint.grade_level, ProgramOffering.grade_max >= stint.grade_level),
            )
        ).scalar_one()
        incidents = s.execute(
            select(func.count()).where(BehaviorIncident.student_id == student.id, BehaviorIncident.org_id == miami.id)
        ).scalar_one()
        names = {"miami": miami.name, "austin": austin.name}
        ids = {"miami": str(miami.id), "austin": str(austin.id), "brownsville": str(_org(s, "brownsville").id)}
    with demo_deps.session_factory.begin() as s:
        # Make room: the test is about the record, not capacity.
        s.get_one(ProgramOffering, target).capacity = None
    result = _call(
        demo_deps,
        persona("network_admin"),
        "transfer_student",
        {"enrollment_id": str(stint.id), "to_offering_id": str(target), "effective_on": DEMO_TODAY.isoformat()},
    )
    return {
        "student_id": str(student.id),
        "old": str(stint.id),
        "new": result["started"]["id"],
        "incidents": incidents,
        "names": names,
        "orgs": ids,
    }


def test_the_receiving_registrar_sees_the_prior_stint_marked_with_the_sending_campus(demo_deps, persona, moved):
    profile = _call(demo_deps, persona("registrar_austin"), "get_student", {"student_id": moved["student_id"]})
    by_id = {e["id"]: e for e in profile["enrollments"]}
    assert by_id[moved["old"]]["status"] == "transferred"
    assert by_id[moved["old"]]["transferred_from"] == moved["names"]["miami"]
    assert by_id[moved["old"]]["campus"] == moved["names"]["miami"]
    assert by_id[moved["new"]]["transferred_from"] is None and by_id[moved["new"]]["campus"] == moved["names"]["austin"]


def test_the_receiving_registrar_sees_attendance_and_behavior_from_the_sending_campus(demo_deps, persona, moved):
    registrar = persona("registrar_austin")
    summary = _call(demo_deps, registrar, "attendance_summary", {"student_id": moved["student_id"], **YEAR})
    (part,) = summary["transferred_from"]
    assert part["org_id"] == moved["orgs"]["miami"] and part["campus"] == moved["names"]["miami"]
    assert part["last_day"] == (DEMO_TODAY - dt.timedelta(days=1)).isoformat()
    assert 0 < part["membership_days"] <= summary["items"][0]["membership_days"]
    incidents = _call(demo_deps, registrar, "list_behavior_incidents", {"student_id": moved["student_id"]})
    travelled = [i for i in incidents["items"] if i["org_id"] == moved["orgs"]["miami"]]
    assert len(travelled) == moved["incidents"] > 0
    assert {i["transferred_from"] for i in travelled} == {moved["names"]["miami"]}


def test_campus_wide_lists_of_the_receiving_campus_count_only_its_own_rows(demo_deps, persona, moved):
    registrar = persona("registrar_austin")
    incidents = _call(demo_deps, registrar, "list_behavior_incidents", {"limit": 500})
    assert all(i["org_id"] == moved["orgs"]["austin"] for i in incidents["items"])
    roster = _call(demo_deps, registrar, "query_roster", {"status": "transferred", "as_of": DEMO_TODAY.isoformat()})
    assert moved["old"] not in {i["enrollment_id"] for i in roster["items"]}


def test_the_sending_campus_keeps_its_own_rows(demo_deps, persona, moved):
    miami = persona("registrar_miami")
    roster = _call(demo_deps, miami, "query_roster", {"status": "transferred", "as_of": DEMO_TODAY.isoformat()})
    assert moved["old"] in {i["enrollment_id"] for i in roster["items"]}
    assert moved["new"] not in {i["enrollment_id"] for i in roster["items"]}
    incidents = _call(demo_deps, miami, "list_behavior_incidents", {"org_id": moved["orgs"]["miami"], "limit": 500})
    assert sum(i["student_id"] == moved["student_id"] for i in incidents["items"]) == moved["incidents"]
    summary = _call(demo_deps, miami, "attendance_summary", {"org_id": moved["orgs"]["miami"], "limit": 500, **YEAR})
    assert moved["student_id"] in {i["student_id"] for i in summary["items"]}


def test_the_sending_campus_no_longer_opens_the_student_by_id(demo_deps, persona, moved):
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona("registrar_miami"), "get_student", {"student_id": moved["student_id"]}, channel="t")
    assert (refused.value.code, refused.value.field) == ("not_found", "student_id")


def test_a_third_campus_sees_nothing_of_the_student(demo_deps, moved):
    with demo_deps.session_factory.begin() as s:
        _, third = staff_with(s, ("registrar", s.get_one(Organization, uuid.UUID(moved["orgs"]["brownsville"]))))
    for tool in ("get_student", "attendance_summary", "list_behavior_incidents"):
        with pytest.raises(ToolCallError) as refused:
            run_tool(demo_deps, third, tool, {"student_id": moved["student_id"]}, channel="test")
        assert (refused.value.code, refused.value.field) == ("not_found", "student_id")


def test_demo_chains_of_transfers_bring_every_earlier_campus_to_the_current_one(demo_deps, persona):
    with demo_deps.session_factory() as s:
        austin = _org(s, "austin")
        rows = s.execute(
            select(Student.id, Enrollment.id, Organization.name)
            .join(Enrollment, Enrollment.student_id == Student.id)
            .join(Organization, Organization.id == Enrollment.org_id)
            .where(
                Student.org_id == austin.id,
                Enrollment.status == EnrollmentStatus.TRANSFERRED,
                Enrollment.org_id != austin.id,
            )
        ).all()
    assert rows, "the demo seeds students transferred into Austin"
    registrar = persona("registrar_austin")
    for student_id, enrollment_id, campus in rows:
        profile = _call(demo_deps, registrar, "get_student", {"student_id": str(student_id)})
        marks = {e["id"]: e["transferred_from"] for e in profile["enrollments"]}
        assert marks[str(enrollment_id)] == campus
