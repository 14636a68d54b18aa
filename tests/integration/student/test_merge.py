"""merge_students: every row of the duplicate moves, conflicts resolve as documented, all or nothing."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select, text

from db.models import (
    AttendanceRecord,
    AttendanceStatus,
    BehaviorIncident,
    HouseholdStudent,
    ProgramOffering,
    Severity,
    Student,
    StudentIdentifier,
)
from domain.student import merge
from domain.student.merge import student_references
from policies.authorize import build_scope
from policies.enforcer import default_enforcer
from policies.sql_guard.guard import guard_sql
from tests.factories import create_dose, create_enrollment, create_household
from tests.integration.student.records_helpers import (
    call,
    changes_of,
    child,
    events_of,
    org_id,
    read_only,
    refused,
)

D1, D2 = dt.date(2026, 11, 2), dt.date(2026, 11, 3)


def _rows_naming(session, student_id: uuid.UUID) -> dict[str, int]:
    counts = {}
    for cls, column in student_references():
        n = session.execute(select(func.count()).select_from(cls).where(getattr(cls, column) == student_id)).scalar()
        if n:
            counts[cls.__tablename__] = n
    return counts


@pytest.fixture()
def pair(demo_deps, persona):
    """Two records of one child at Austin; the duplicate has a stint, attendance, households, a dose, an id."""
    registrar, austin = persona("registrar_austin"), org_id(demo_deps, "austin")
    survivor = call(demo_deps, registrar, "create_student", **child(austin, "Mia", "Merge-Test"))
    duplicate = call(
        demo_deps,
        registrar,
        "create_student",
        **child(austin, "Mia", "Merge-Test", middle_name="Rose"),
        identifiers={"partner:lakeside": f"m-{uuid.uuid4().hex[:6]}"},
        confirm_new_person=True,
    )
    with demo_deps.session_factory.begin() as session:
        kept, moving = (session.get_one(Student, uuid.UUID(s["id"])) for s in (survivor, duplicate))
        offering = (
            session.execute(
                select(ProgramOffering)
                .where(
                    ProgramOffering.org_id == kept.org_id,
                    ProgramOffering.grade_min <= 4,
                    ProgramOffering.grade_max >= 4,
                )
                .order_by(ProgramOffering.start_on.desc())
            )
            .scalars()
            .first()
        )
        stint = create_enrollment(session, moving, offering, start_on=offering.start_on)
        for student, day, status in [
            (kept, D1, AttendanceStatus.EXCUSED_ABSENCE),
            (moving, D1, AttendanceStatus.UNEXCUSED_ABSENCE),
            (moving, D2, AttendanceStatus.TARDY),
        ]:
            session.add(AttendanceRecord(student_id=student.id, org_id=student.org_id, day_on=day, status=status))
        shared = create_household(session, _org(session, kept), {kept: 10_000, moving: 6_000})
        other = create_household(session, _org(session, moving), {moving: 4_000})
        dose = create_dose(session, moving, group="MMR", on=dt.date(2017, 5, 1))
        session.add(
            BehaviorIncident(
                student_id=moving.id,
                org_id=moving.org_id,
                occurred_on=D1,
                category="disruption",
                severity=Severity.LOW,
                description="test",
            )
        )
        ids = {"stint": stint.id, "shared": shared.id, "other": other.id, "dose": dose.id}
    return survivor, duplicate, ids


def _org(session, student):
    from db.models import Organization

    return session.get_one(Organization, student.org_id)


def test_merge_moves_every_row_and_leaves_a_tombstone_that_resolves_to_the_survivor(demo_deps, persona, pair):
    survivor, duplicate, ids = pair
    registrar = persona("registrar_austin")
    result = call(
        demo_deps,
        registrar,
        "merge_students",
        survivor_id=survivor["id"],
        merged_id=duplicate["id"],
        reason="same child",
    )
    assert result["merged_student_number"] == duplicate["student_number"]
    assert result["moved"]["enrollment"] == 1 and result["moved"]["attendance_record"] == 1
    assert result["dropped"] == {"attendance_record": 1, "household_student": 1}
    assert result["survivor"]["middle_name"] == "Rose"  # a blank of the survivor is filled from the duplicate
    kept, gone = uuid.UUID(survivor["id"]), uuid.UUID(duplicate["id"])
    with demo_deps.session_factory() as session:
        assert _rows_naming(session, gone) == {}
        tombstone = session.get_one(Student, gone)
        assert (tombstone.is_active, tombstone.merged_into_id) == (False, kept)
        days = dict(
            session.execute(
                select(AttendanceRecord.day_on, AttendanceRecord.status).where(AttendanceRecord.student_id == kept)
            ).all()
        )
        assert days == {D1: AttendanceStatus.EXCUSED_ABSENCE, D2: AttendanceStatus.TARDY}
        shares = dict(
            session.execute(
                select(HouseholdStudent.household_id, HouseholdStudent.billing_share_bp).where(
                    HouseholdStudent.student_id == kept
                )
            ).all()
        )
        assert shares == {ids["shared"]: 10_000, ids["other"]: 0}
        assert session.execute(
            select(StudentIdentifier.student_id).where(
                StudentIdentifier.system == "partner:lakeside", StudentIdentifier.student_id == kept
            )
        ).first()
        moved = changes_of(session, "enrollment", ids["stint"])["student_id"]
        assert moved[:2] == (str(gone), str(kept)) and "same child" in moved[2]
        assert changes_of(session, "immunization_record", ids["dose"])["student_id"][1] == str(kept)
        assert changes_of(session, "student", gone)["merged_into_id"][1] == str(kept)
        (event,) = events_of(session, "student.merged", kept)
        assert event["merged_student_number"] == duplicate["student_number"]

    profile = call(demo_deps, registrar, "get_student", student_id=duplicate["id"])
    assert profile["id"] == survivor["id"] and profile["resolved_from"]["student_number"] == duplicate["student_number"]
    by_number = call(demo_deps, registrar, "search_students", text=str(duplicate["student_number"]))
    assert [s["id"] for s in by_number["items"]] == [survivor["id"]] and "merged" in by_number["items"][0]["note"]
    by_name = call(demo_deps, registrar, "search_students", text="Merge-Test", include_inactive=True)
    assert [s["id"] for s in by_name["items"]] == [survivor["id"]]


def test_a_failure_halfway_through_a_merge_leaves_nothing_changed(demo_deps, persona, pair, monkeypatch):
    survivor, duplicate, _ = pair
    real, calls = merge._move, []

    def failing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(merge, "_move", failing)
    error = refused(
        demo_deps,
        persona("registrar_austin"),
        "merge_students",
        survivor_id=survivor["id"],
        merged_id=duplicate["id"],
        reason="x",
    )
    assert error.code == "internal_error" and len(calls) == 3
    with demo_deps.session_factory() as session:
        gone = uuid.UUID(duplicate["id"])
        assert _rows_naming(session, gone) == {
            "attendance_record": 2,
            "behavior_incident": 1,
            "enrollment": 1,
            "household_student": 2,
            "immunization_record": 1,
            "student_identifier": 1,
        }
        assert session.get_one(Student, gone).merged_into_id is None
        assert "merged_into_id" not in changes_of(session, "student", gone)


def test_merge_refusals_write_nothing(demo_deps, persona, pair):
    survivor, duplicate, _ = pair
    registrar = persona("registrar_austin")
    miami = call(demo_deps, persona("registrar_miami"), "create_student", **child(org_id(demo_deps, "miami")))
    cases = [
        (registrar, survivor["id"], survivor["id"], "invalid_input", "merged_id"),
        (registrar, survivor["id"], miami["id"], "not_found", "merged_id"),
        (persona("nurse_austin"), survivor["id"], duplicate["id"], "permission_denied", None),
        (read_only(registrar), survivor["id"], duplicate["id"], "permission_denied", None),
        (persona("registrar_miami"), miami["id"], duplicate["id"], "not_found", "merged_id"),
    ]
    for principal, kept, gone, code, field in cases:
        error = refused(demo_deps, principal, "merge_students", survivor_id=kept, merged_id=gone, reason="r")
        assert (error.code, error.field if field else None) == (code, field), (kept, gone)
    with demo_deps.session_factory() as session:
        assert session.get_one(Student, uuid.UUID(duplicate["id"])).merged_into_id is None
        assert _rows_naming(session, uuid.UUID(duplicate["id"]))["enrollment"] == 1


def test_a_tombstone_cannot_be_merged_again(demo_deps, persona, pair):
    survivor, duplicate, _ = pair
    registrar = persona("registrar_austin")
    call(demo_deps, registrar, "merge_students", survivor_id=survivor["id"], merged_id=duplicate["id"], reason="one")
    other = call(demo_deps, registrar, "create_student", **child(org_id(demo_deps, "austin")))
    error = refused(
        demo_deps, registrar, "merge_students", survivor_id=other["id"], merged_id=duplicate["id"], reason="r"
    )
    assert (error.code, error.field) == ("invalid_transition", "merged_id") and "already merged" in error.message


def test_every_column_naming_a_student_is_moved_by_the_merge():
    # The merge finds the columns from the schema; this pins that the tables a child's record spans are all there.
    tables = {cls.__tablename__ for cls, _ in student_references()}
    assert {
        "enrollment",
        "attendance_record",
        "behavior_incident",
        "household_student",
        "immunization_record",
        "immunization_exemption",
        "immunity_evidence",
        "provisional_enrollment",
        "medication",
        "allergy",
        "billing_agreement",
        "ledger_entry",
        "discount_grant",
        "application",
        "guide_assignment",
        "student_identifier",
    } <= tables


def test_oneroster_marks_the_tombstone_tobedeleted_and_keeps_the_survivor_active(demo_deps, persona, pair):
    survivor, duplicate, _ = pair
    registrar = persona("registrar_austin")
    call(demo_deps, registrar, "merge_students", survivor_id=survivor["id"], merged_id=duplicate["id"], reason="one")
    admin = persona("network_admin")
    statuses = {
        sid: call(demo_deps, admin, "oneroster_read", collection="users", sourced_id=sid)["items"][0]["status"]
        for sid in (survivor["id"], duplicate["id"])
    }
    assert statuses == {survivor["id"]: "active", duplicate["id"]: "tobedeleted"}


def _guarded_ids(deps, who, sql):
    """run_sql's answer as the guard rewrites it for `who`, run on the test's own connection (run_sql
    reads on a dedicated one, which cannot see this test's uncommitted rows)."""
    with deps.session_factory() as session:
        dialect = "postgres" if session.get_bind().dialect.name == "postgresql" else "sqlite"
        statement = guard_sql(sql, build_scope(session, default_enforcer(), who), dialect=dialect, limit=1000)
        params = {f"p{i}": value for i, value in enumerate(statement.params, start=1)}
        rows = session.execute(text(re.sub(r"\$(\d+)", r":p\1", statement.sql)), params).all()
        return {str(r[0]).replace("-", "") for r in rows}


def test_run_sql_counts_a_merged_child_once(demo_deps, persona, pair):
    survivor, duplicate, _ = pair
    registrar = persona("registrar_austin")
    before = _guarded_ids(demo_deps, registrar, "SELECT student_id FROM students WHERE last_name = 'Merge-Test'")
    assert {uuid.UUID(survivor["id"]).hex, uuid.UUID(duplicate["id"]).hex} <= before
    call(demo_deps, registrar, "merge_students", survivor_id=survivor["id"], merged_id=duplicate["id"], reason="same")
    after = _guarded_ids(demo_deps, registrar, "SELECT student_id FROM students WHERE last_name = 'Merge-Test'")
    assert after == before - {uuid.UUID(duplicate["id"]).hex}
