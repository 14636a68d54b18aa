"""Year rollover is data entry: cloned offerings, continuing students one grade up, idempotent, all or nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import (
    ChangeEvent,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    Organization,
    OrgKind,
    OrgLevel,
    ProgramOffering,
    SchoolDay,
)
from domain.enrollment import rollover
from domain.enrollment.offering_schemas import RolloverInput
from domain.enrollment.rollover import new_tuition, plan_rollover, shifted
from domain.errors import InvalidInput, NotFound, OfferingFull
from tests.factories import create_enrollment, create_offering, create_org, create_student, scope_at
from tools.runner import ToolCallError, run_tool

YEAR = {"from_year": "2025-26", "to_year": "2026-27"}


@pytest.fixture()
def campus(session):
    network = create_org(session, level=OrgLevel.NETWORK)
    austin = create_org(session, parent=network, slug="austin")
    return network, austin, scope_at(network, descendants=[austin])


def stints_in(session, offering_id) -> list[Enrollment]:
    return list(session.execute(select(Enrollment).where(Enrollment.offering_id == offering_id)).scalars())


def test_rollover_clones_offerings_and_continues_students_one_grade_up(session, campus):
    network, austin, scope = campus
    old = create_offering(session, austin, grade_min=0, grade_max=8, tuition_cents=1_000_000)
    staying = create_student(session, austin, grade=4, last_name="Staying")
    top = create_student(session, austin, grade=8, last_name="Top")
    leaving = create_student(session, austin, grade=7, last_name="Leaving")
    for student in (staying, top):
        create_enrollment(session, student, old)
    create_enrollment(session, leaving, old, end_on=dt.date(2026, 1, 15), status=EnrollmentStatus.WITHDRAWN)
    data = RolloverInput(org_id=network.id, tuition_change_bp=350, **YEAR)

    preview = plan_rollover(session, scope, data, apply=False)
    assert preview.dry_run and session.execute(select(func.count()).select_from(ProgramOffering)).scalar_one() == 1
    assert [(s.name, s.grade_level) for s in preview.stints] == [(f"Test {staying.last_name}", 5)]
    assert {(n.student_id, n.reason) for n in preview.not_continuing} == {
        (top.id, "graduating"),
        (leaving.id, "withdrawn"),
    }

    done = plan_rollover(session, scope, data, apply=True)
    assert (done.offerings_created, done.stints_created) == (1, 1)
    clone = session.execute(select(ProgramOffering).where(ProgramOffering.previous_offering_id == old.id)).scalar_one()
    assert (clone.session_label, clone.tuition_cents, clone.start_on, clone.end_on) == (
        "2026-27",
        1_035_000,
        dt.date(2026, 8, 17),  # a Monday a year on stays a Monday
        dt.date(2027, 5, 28),
    )
    [new] = stints_in(session, clone.id)
    assert (new.student_id, new.grade_level, new.start_on) == (staying.id, 5, clone.start_on)
    assert new.previous_enrollment_id is not None
    fields = set(session.execute(select(ChangeEvent.field).where(ChangeEvent.entity_id == str(clone.id))).scalars())
    assert {"session_label", "tuition_cents", "previous_offering_id"} <= fields
    event = session.execute(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == new.id)).scalar_one()
    assert event.event_type == "rolled_over"
    assert [s.exists for s in preview.stints] == [False] and [p.name for p in done.offerings] == [clone.name]


def test_running_a_rollover_twice_creates_nothing_new(session, campus):
    network, austin, scope = campus
    old = create_offering(session, austin)
    create_enrollment(session, create_student(session, austin, grade=3), old)
    data = RolloverInput(org_id=network.id, **YEAR)
    plan_rollover(session, scope, data, apply=True)
    again = plan_rollover(session, scope, data, apply=True)
    assert (again.offerings_created, again.stints_created) == (0, 0)
    assert [o.exists for o in again.offerings] == [True] and [s.exists for s in again.stints] == [True]
    assert session.execute(select(func.count()).select_from(ProgramOffering)).scalar_one() == 2
    assert session.execute(select(func.count()).select_from(Enrollment)).scalar_one() == 2


def test_students_already_enrolled_next_year_or_in_a_grade_not_offered_do_not_continue(session, campus):
    network, austin, scope = campus
    old = create_offering(session, austin, grade_min=0, grade_max=8)
    ahead = create_student(session, austin, grade=2)
    create_enrollment(session, ahead, old)
    later = create_offering(
        session, austin, session_label="2026-27", start_on=dt.date(2026, 8, 17), end_on=dt.date(2027, 5, 28)
    )
    later.program_id = old.program_id
    create_enrollment(session, ahead, later)
    squeezed = create_student(session, austin, grade=5)
    create_enrollment(session, squeezed, old)
    clone = create_offering(
        session,
        austin,
        session_label="2026-27",
        grade_min=0,
        grade_max=5,
        start_on=dt.date(2026, 8, 17),
        end_on=dt.date(2027, 5, 28),
    )
    clone.program_id, clone.previous_offering_id = old.program_id, old.id
    session.flush()
    plan = plan_rollover(session, scope, RolloverInput(org_id=network.id, **YEAR), apply=True)
    assert {(n.student_id, n.reason) for n in plan.not_continuing} == {
        (ahead.id, "already_enrolled"),
        (squeezed.id, "grade_not_offered"),
    }
    assert plan.offerings_created == 0 and plan.stints_created == 0


def test_next_years_dates_come_from_the_campus_calendar_when_it_has_one(session, campus):
    network, austin, scope = campus
    create_offering(session, austin)
    for day in (dt.date(2026, 8, 12), dt.date(2027, 5, 21)):
        session.add(SchoolDay(org_id=austin.id, day_on=day))
    session.flush()
    [offering] = plan_rollover(session, scope, RolloverInput(org_id=network.id, **YEAR), apply=False).offerings
    assert (offering.start_on, offering.end_on, offering.dates_from) == (
        dt.date(2026, 8, 12),
        dt.date(2027, 5, 21),
        "calendar",
    )


def test_continuous_offerings_are_not_rolled_over(session, campus):
    network, austin, scope = campus
    create_offering(session, austin, end_on=None).name = "Rolling"
    create_offering(session, austin)
    plan = plan_rollover(session, scope, RolloverInput(org_id=network.id, **YEAR), apply=False)
    assert len(plan.offerings) == 1
    assert plan.skipped_offerings == ["Rolling: continuous (no fixed end; students stay enrolled)"]


def test_a_roster_only_campus_keeps_its_price_of_zero(session, campus):
    network, _, _ = campus
    partner = create_org(session, parent=network, kind=OrgKind.ROSTER_ONLY)
    create_offering(session, partner, tuition_cents=0)
    scope = scope_at(network, descendants=[partner])
    plan = plan_rollover(session, scope, RolloverInput(org_id=network.id, tuition_change_bp=500, **YEAR), apply=True)
    assert plan.offerings[0].tuition_cents == 0


def test_rollover_with_nothing_to_clone_or_backwards_years_says_so(session, campus):
    network, _, scope = campus
    with pytest.raises(InvalidInput, match="2019-20") as err:
        plan_rollover(
            session, scope, RolloverInput(org_id=network.id, from_year="2019-20", to_year="2020-21"), apply=True
        )
    assert err.value.field == "from_year"
    with pytest.raises(InvalidInput) as err:
        plan_rollover(
            session, scope, RolloverInput(org_id=network.id, from_year="2026-27", to_year="2025-26"), apply=True
        )
    assert err.value.field == "to_year"
    with pytest.raises(ValueError, match="school year"):
        RolloverInput(org_id=network.id, from_year="2026-28", to_year="2027-28")


def test_rollover_outside_scope_is_not_found(session):
    austin, miami = create_org(session), create_org(session)
    create_offering(session, miami)
    with pytest.raises(NotFound):
        plan_rollover(session, scope_at(austin), RolloverInput(org_id=miami.id, **YEAR), apply=True)


def test_tuition_change_rounds_half_up_to_the_cent():
    assert new_tuition(999, 500) == 1049  # 1048.95 -> 1049
    assert new_tuition(10, 500) == 11  # 10.5 -> 11
    assert new_tuition(1_000_000, 0) == 1_000_000


def test_a_year_on_keeps_the_weekday():
    assert shifted(dt.date(2026, 8, 10), 1) == dt.date(2027, 8, 9)
    assert shifted(dt.date(2026, 5, 29), 1).weekday() == dt.date(2026, 5, 29).weekday()


# -- through the runner, on the demo network ------------------------------------------------------------


def org_id(deps: Any, path: str) -> str:
    with deps.session_factory() as session:
        return str(session.execute(select(Organization.id).where(Organization.path == path)).scalar_one())


def next_year_rows(deps: Any) -> tuple[int, int]:
    with deps.session_factory() as session:
        offerings = session.execute(select(func.count()).where(ProgramOffering.session_label == "2027-28")).scalar_one()
        stints = session.execute(
            select(func.count())
            .select_from(Enrollment)
            .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
            .where(ProgramOffering.session_label == "2027-28")
        ).scalar_one()
    return offerings, stints


DEMO_YEAR = {"from_year": "2026-27", "to_year": "2027-28"}


def test_network_admin_rolls_the_roster_only_brand_over_once(demo_deps, persona):
    admin, connect = persona("network_admin"), org_id(demo_deps, "/alpha/connect/")
    before = next_year_rows(demo_deps)
    preview = run_tool(demo_deps, admin, "preview_rollover", {"org_id": connect, **DEMO_YEAR}).output
    assert next_year_rows(demo_deps) == before and len(preview.offerings) == 2 and preview.stints
    done = run_tool(demo_deps, admin, "run_rollover", {"org_id": connect, **DEMO_YEAR}).output
    assert (done.offerings_created, done.stints_created) == (2, len(preview.stints))
    assert next_year_rows(demo_deps) == (before[0] + 2, before[1] + len(preview.stints))
    assert [s.student_id for s in done.stints] == [s.student_id for s in preview.stints]
    again = run_tool(demo_deps, admin, "run_rollover", {"org_id": connect, **DEMO_YEAR}).output
    assert (again.offerings_created, again.stints_created) == (0, 0)
    assert next_year_rows(demo_deps) == (before[0] + 2, before[1] + len(preview.stints))


def test_a_failure_halfway_through_a_rollover_leaves_nothing(demo_deps, persona, monkeypatch):
    calls = {"n": 0}
    real = rollover.create_stint

    def failing(*args: Any, **kwargs: Any) -> Enrollment:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OfferingFull("injected failure", field="offering_id")
        return real(*args, **kwargs)

    monkeypatch.setattr(rollover, "create_stint", failing)
    before = next_year_rows(demo_deps)
    with pytest.raises(ToolCallError) as err:
        run_tool(
            demo_deps, persona("network_admin"), "run_rollover", {"org_id": org_id(demo_deps, "/alpha/"), **DEMO_YEAR}
        )
    assert err.value.code == "offering_full" and calls["n"] == 5
    assert next_year_rows(demo_deps) == before


def test_a_director_rolls_over_her_campus_but_may_not_raise_its_price(demo_deps, persona):
    director, miami = persona("director_miami"), org_id(demo_deps, "/alpha/academy/miami/")
    with pytest.raises(ToolCallError) as caught:
        run_tool(demo_deps, director, "run_rollover", {"org_id": miami, "tuition_change_bp": 300, **DEMO_YEAR})
    err = caught.value
    assert (err.code, err.field) == ("permission_denied", "tuition_change_bp")
    done = run_tool(demo_deps, director, "run_rollover", {"org_id": miami, **DEMO_YEAR}).output
    assert done.offerings_created == 0 and done.stints_created > 0  # the demo already has Miami's 2027-28 offering
    assert {o.org_id for o in done.offerings} == {uuid.UUID(miami)}


@pytest.mark.parametrize("tool", ["preview_rollover", "run_rollover"])
def test_rollover_refusals_look_like_the_rules(demo_deps, persona, tool):
    austin = org_id(demo_deps, "/alpha/academy/austin/")
    before = next_year_rows(demo_deps)
    cases = [
        (persona("registrar_austin"), {"org_id": austin, **DEMO_YEAR}, "permission_denied", None),
        (persona("director_miami"), {"org_id": austin, **DEMO_YEAR}, "not_found", "org_id"),
        (
            persona("network_admin"),
            {"org_id": austin, "from_year": "2026", "to_year": "2027-28"},
            "invalid_input",
            "from_year",
        ),
        (
            persona("network_admin"),
            {"org_id": austin, "from_year": "2027-28", "to_year": "2026-27"},
            "invalid_input",
            "to_year",
        ),
    ]
    if tool == "run_rollover":
        cases.append(
            (
                replace(persona("network_admin"), token_scopes=("sis.read",)),
                {"org_id": austin, **DEMO_YEAR},
                "permission_denied",
                None,
            )
        )
    for who, arguments, code, field in cases:
        with pytest.raises(ToolCallError) as err:
            run_tool(demo_deps, who, tool, arguments)
        assert err.value.code == code and (field is None or err.value.field == field), (who.email, arguments)
    assert next_year_rows(demo_deps) == before
