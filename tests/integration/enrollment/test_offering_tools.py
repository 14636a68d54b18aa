"""Programs and offerings through the runner: who may create, change and close them, and what is refused."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select, update

from db.models import (
    ChangeEvent,
    DomainEvent,
    Enrollment,
    FeeDefinition,
    OfferingStatus,
    Organization,
    Program,
    ProgramOffering,
)
from tools.runner import ToolCallError, run_tool

MIAMI, AUSTIN, ACADEMY = "/alpha/academy/miami/", "/alpha/academy/austin/", "/alpha/academy/"
LAKESIDE, ONLINE = "/alpha/connect/lakeside/", "/alpha/connect/online/"


def org_id(deps: Any, path: str) -> str:
    with deps.session_factory() as session:
        return str(session.execute(select(Organization.id).where(Organization.path == path)).scalar_one())


def call(deps: Any, who: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    return run_tool(deps, who, tool, arguments, channel="test").data


def refusal(deps: Any, who: Any, tool: str, **arguments: Any) -> ToolCallError:
    with pytest.raises(ToolCallError) as caught:
        run_tool(deps, who, tool, arguments, channel="test")
    return caught.value


def count(deps: Any, model: Any, *where: Any) -> int:
    with deps.session_factory() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def changes(deps: Any, entity_id: str) -> dict[str, str | None]:
    with deps.session_factory() as session:
        rows = session.execute(
            select(ChangeEvent.field, ChangeEvent.new_value).where(ChangeEvent.entity_id == entity_id)
        ).all()
    return dict(rows)


def program(deps: Any, who: Any, path: str, code: str = "MATH-CAMP") -> dict[str, Any]:
    return call(deps, who, "create_program", org_id=org_id(deps, path), code=code, name="Math Camp", kind="camp")


def offering_args(deps: Any, program_id: str, path: str, **extra: Any) -> dict[str, Any]:
    return {
        "program_id": program_id,
        "org_id": org_id(deps, path),
        "name": "Math Camp, Summer 2027",
        "session_label": "Summer 2027",
        "start_on": "2027-06-14",
        "end_on": "2027-07-16",
        "grade_min": 3,
        "grade_max": 8,
        "capacity": 20,
        **extra,
    }


def current_offering(deps: Any, path: str) -> ProgramOffering:
    with deps.session_factory() as session:
        return (
            session.execute(
                select(ProgramOffering)
                .join(Organization, Organization.id == ProgramOffering.org_id)
                .where(Organization.path == path, ProgramOffering.session_label == "2026-27")
                .order_by(ProgramOffering.name)
            )
            .scalars()
            .first()
        )


def test_network_admin_creates_a_priced_offering_with_fee_lines_and_their_change_events(demo_deps, persona):
    admin = persona("network_admin")
    made = program(demo_deps, admin, ACADEMY)
    assert changes(demo_deps, made["id"])["code"] == "MATH-CAMP"
    fees = [
        {"code": "DEPOSIT", "name": "Deposit", "kind": "deposit", "amount_cents": 20_000, "timing": "upfront"},
        {"code": "KIT", "name": "Materials kit", "kind": "materials", "amount_cents": 4_500},
    ]
    out = call(
        demo_deps,
        admin,
        "create_offering",
        **offering_args(demo_deps, made["id"], MIAMI, tuition_cents=95_000, fees=fees),
    )
    assert (out["tuition_cents"], out["continuous"], out["seats_taken"]) == (95_000, False, 0)
    assert [f["code"] for f in out["fees"]] == ["deposit", "kit"]  # stored in the billing rules' lower-case form
    with demo_deps.session_factory() as session:
        row = session.get_one(ProgramOffering, uuid.UUID(out["id"]))
        assert (row.org_id, row.capacity, row.status) == (uuid.UUID(org_id(demo_deps, MIAMI)), 20, OfferingStatus.OPEN)
        fee_ids = session.execute(select(FeeDefinition.id).where(FeeDefinition.offering_id == row.id)).scalars().all()
        event = session.execute(
            select(DomainEvent).where(DomainEvent.event_type == "offering.created", DomainEvent.org_id == row.org_id)
        ).scalar_one()
    assert event.payload["offering_id"] == out["id"] and "tuition_cents" not in event.payload
    logged = changes(demo_deps, out["id"])
    assert (logged["tuition_cents"], logged["end_on"], logged["grade_max"]) == ("95000", "2027-07-16", "8")
    assert len(fee_ids) == 2 and all(changes(demo_deps, str(f))["amount_cents"] for f in fee_ids)


def test_director_offers_her_brands_program_at_her_campus_but_may_not_price_it(demo_deps, persona):
    made = program(demo_deps, persona("network_admin"), ACADEMY)
    director = persona("director_miami")
    out = call(demo_deps, director, "create_offering", **offering_args(demo_deps, made["id"], MIAMI))
    assert out["tuition_cents"] == 0
    before = count(demo_deps, ProgramOffering)
    err = refusal(
        demo_deps, director, "create_offering", **offering_args(demo_deps, made["id"], MIAMI, tuition_cents=10_000)
    )
    assert (err.code, err.field) == ("permission_denied", "tuition_cents")
    assert count(demo_deps, ProgramOffering) == before


def test_a_roster_only_campus_offering_has_no_price(demo_deps, persona):
    admin = persona("network_admin")
    made = program(demo_deps, admin, LAKESIDE, code="LAKE-CAMP")
    before = count(demo_deps, ProgramOffering)
    err = refusal(
        demo_deps, admin, "create_offering", **offering_args(demo_deps, made["id"], LAKESIDE, tuition_cents=5_000)
    )
    assert (err.code, err.field) == ("invalid_input", "tuition_cents") and "roster-only" in err.message
    fee = {"code": "LUNCH", "name": "Lunch", "kind": "lunch", "amount_cents": 100}
    err = refusal(demo_deps, admin, "create_offering", **offering_args(demo_deps, made["id"], LAKESIDE, fees=[fee]))
    assert (err.code, err.field) == ("invalid_input", "fees")
    assert count(demo_deps, ProgramOffering) == before
    assert call(demo_deps, admin, "create_offering", **offering_args(demo_deps, made["id"], LAKESIDE))["fees"] is None


def test_a_continuous_offering_has_no_end_and_takes_students_any_day_after_its_start(demo_deps, persona):
    admin = persona("network_admin")
    made = program(demo_deps, admin, ONLINE, code="ROLLING")
    args = offering_args(demo_deps, made["id"], ONLINE, session_label="Rolling", continuous=True, capacity=None)
    del args["end_on"]
    out = call(demo_deps, admin, "create_offering", **args)
    assert (out["end_on"], out["continuous"]) == (None, True)
    listed = call(demo_deps, admin, "list_offerings", org_id=org_id(demo_deps, ONLINE), session_label="Rolling")
    assert listed["items"][0]["end_on"] is None
    with demo_deps.session_factory() as session:
        student = (
            session.execute(
                select(Enrollment.student_id).where(Enrollment.org_id == uuid.UUID(org_id(demo_deps, ONLINE)))
            )
            .scalars()
            .first()
        )
    stint = call(
        demo_deps, admin, "enroll_student", student_id=str(student), offering_id=out["id"], start_on="2029-02-05",
        grade_level=5,
    )  # fmt: skip
    assert stint["start_on"] == "2029-02-05"
    err = refusal(demo_deps, admin, "create_offering", **{**args, "end_on": "2027-07-16"})
    assert (err.code, err.field) == ("invalid_input", "end_on")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_on": "2027-06-01"}, "end_on"),
        ({"capacity": -1}, "capacity"),
        ({"grade_min": 9}, "grade_max"),
        ({"grade_max": 13}, "grade_max"),
        ({"grade_min": -2}, "grade_min"),
        ({"status": "closed"}, "status"),
        ({"end_on": None}, "end_on"),
        ({"name": "x\x00"}, "name"),
    ],
)
def test_bad_offering_input_is_refused_with_its_field_and_writes_nothing(demo_deps, persona, change, field):
    admin = persona("network_admin")
    made = program(demo_deps, admin, ACADEMY)
    before = count(demo_deps, ProgramOffering)
    err = refusal(demo_deps, admin, "create_offering", **offering_args(demo_deps, made["id"], MIAMI, **change))
    assert err.code == "invalid_input" and err.field == field
    assert count(demo_deps, ProgramOffering) == before


def test_an_offering_runs_at_a_campus_under_the_programs_org_that_is_open(demo_deps, persona):
    admin = persona("network_admin")
    made = program(demo_deps, admin, MIAMI)
    for path in (AUSTIN, ACADEMY):  # a sibling campus; a brand above the program
        err = refusal(demo_deps, admin, "create_offering", **offering_args(demo_deps, made["id"], path))
        assert (err.code, err.field) == ("invalid_input", "org_id")
    brand_program = program(demo_deps, admin, ACADEMY, code="BRAND")
    err = refusal(demo_deps, admin, "create_offering", **offering_args(demo_deps, brand_program["id"], ACADEMY))
    assert (err.code, err.field) == ("invalid_input", "org_id") and "campus" in err.message
    with demo_deps.session_factory.begin() as session:
        session.execute(update(Organization).where(Organization.path == MIAMI).values(is_active=False))
    err = refusal(demo_deps, admin, "create_offering", **offering_args(demo_deps, made["id"], MIAMI))
    assert (err.code, err.field) == ("invalid_input", "org_id") and "closed" in err.message


def test_a_program_code_is_unique_within_its_org(demo_deps, persona):
    admin = persona("network_admin")
    program(demo_deps, admin, ACADEMY)
    err = refusal(
        demo_deps, admin, "create_program", org_id=org_id(demo_deps, ACADEMY), code="math-camp", name="x", kind="camp"
    )
    assert (err.code, err.field) == ("duplicate_record", "code")
    err = refusal(demo_deps, admin, "create_program", org_id=org_id(demo_deps, ACADEMY), code="", name="x", kind="camp")
    assert (err.code, err.field) == ("invalid_input", "code")
    assert count(demo_deps, Program, Program.code.ilike("math-camp")) == 1


def test_out_of_scope_programs_offerings_and_orgs_look_like_not_found(demo_deps, persona):
    director = persona("director_miami")
    austin_program = program(demo_deps, persona("network_admin"), AUSTIN)
    err = refusal(
        demo_deps, director, "create_program", org_id=org_id(demo_deps, AUSTIN), code="X", name="X", kind="camp"
    )
    assert (err.code, err.field) == ("not_found", "org_id")
    err = refusal(demo_deps, director, "create_offering", **offering_args(demo_deps, austin_program["id"], MIAMI))
    assert (err.code, err.field) == ("not_found", "program_id")
    austin = current_offering(demo_deps, AUSTIN)
    for tool, extra in (("update_offering", {"capacity": 500}), ("close_offering", {})):
        err = refusal(demo_deps, director, tool, offering_id=str(austin.id), reason="test", **extra)
        assert (err.code, err.field) == ("not_found", "offering_id")


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("create_program", {"code": "X", "name": "X", "kind": "camp"}),
        ("create_offering", {}),
        ("update_offering", {"capacity": 500, "reason": "more seats"}),
        ("close_offering", {"reason": "done"}),
    ],
)
def test_registrars_and_read_only_keys_may_not_write_offerings(demo_deps, persona, tool, arguments):
    admin = persona("network_admin")
    austin = current_offering(demo_deps, AUSTIN)
    made = program(demo_deps, admin, ACADEMY, code="P" + uuid.uuid4().hex[:6])
    full = {
        "create_program": {"org_id": org_id(demo_deps, AUSTIN)},
        "create_offering": offering_args(demo_deps, made["id"], AUSTIN),
        "update_offering": {"offering_id": str(austin.id)},
        "close_offering": {"offering_id": str(austin.id)},
    }[tool] | arguments
    read_only_admin = replace(admin, token_scopes=("sis.read",))
    before = count(demo_deps, ProgramOffering), count(demo_deps, Program)
    for who in (persona("registrar_austin"), read_only_admin, persona("auditor_network")):
        err = refusal(demo_deps, who, tool, **full)
        assert err.code == "permission_denied"
    assert (count(demo_deps, ProgramOffering), count(demo_deps, Program)) == before
    assert changes(demo_deps, str(austin.id)) == {}
    with demo_deps.session_factory() as session:
        assert session.get_one(ProgramOffering, austin.id).capacity == austin.capacity


def test_update_offering_changes_only_the_fields_given_with_a_reason(demo_deps, persona):
    admin = persona("network_admin")
    austin = current_offering(demo_deps, AUSTIN)
    out = call(
        demo_deps, admin, "update_offering", offering_id=str(austin.id), capacity=austin.capacity + 10,
        name="Austin Regular Year 2026-27 (expanded)", reason="new classroom",
    )  # fmt: skip
    assert (out["capacity"], out["grade_max"], out["start_on"]) == (
        austin.capacity + 10,
        austin.grade_max,
        austin.start_on.isoformat(),
    )
    with demo_deps.session_factory() as session:
        rows = session.execute(
            select(ChangeEvent.field, ChangeEvent.old_value, ChangeEvent.reason).where(
                ChangeEvent.entity_id == str(austin.id)
            )
        ).all()
        updated = session.execute(
            select(func.count()).where(
                DomainEvent.event_type == "offering.updated", DomainEvent.org_id == austin.org_id
            )
        ).scalar_one()
    assert {(f, old) for f, old, _ in rows} == {("capacity", str(austin.capacity)), ("name", austin.name)}
    assert {r for _, _, r in rows} == {"new classroom"} and updated == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": 1}, "capacity"),
        ({"grade_max": 3}, "grade_max"),
        ({"grade_min": 5}, "grade_min"),
        ({"start_on": "2026-12-01"}, "start_on"),
        ({"end_on": "2026-08-01"}, "end_on"),
        ({"status": "archived"}, "status"),
        ({"start_on": None}, "start_on"),
    ],
)
def test_update_offering_keeps_enrolled_students_valid(demo_deps, persona, change, field):
    austin = current_offering(demo_deps, AUSTIN)
    err = refusal(
        demo_deps, persona("network_admin"), "update_offering", offering_id=str(austin.id), reason="x" * 3, **change
    )
    assert (err.code, err.field) == ("invalid_input", field)
    assert changes(demo_deps, str(austin.id)) == {}


def test_tuition_changes_need_financial_write_and_a_full_sis_campus(demo_deps, persona):
    miami, lakeside = current_offering(demo_deps, MIAMI), current_offering(demo_deps, LAKESIDE)
    err = refusal(
        demo_deps,
        persona("director_miami"),
        "update_offering",
        offering_id=str(miami.id),
        tuition_cents=1,
        reason="raise",
    )
    assert (err.code, err.field) == ("permission_denied", "tuition_cents")
    admin = persona("network_admin")
    err = refusal(demo_deps, admin, "update_offering", offering_id=str(lakeside.id), tuition_cents=1, reason="price")
    assert (err.code, err.field) == ("invalid_input", "tuition_cents")
    out = call(demo_deps, admin, "update_offering", offering_id=str(miami.id), tuition_cents=4_100_000, reason="raise")
    assert out["tuition_cents"] == 4_100_000


def test_a_closed_offering_takes_no_new_students_and_keeps_its_stints(demo_deps, persona):
    admin = persona("network_admin")
    miami = current_offering(demo_deps, MIAMI)
    stints = count(demo_deps, Enrollment, Enrollment.offering_id == miami.id)
    active = count(demo_deps, Enrollment, Enrollment.offering_id == miami.id, Enrollment.end_on.is_(None))
    out = call(demo_deps, admin, "close_offering", offering_id=str(miami.id), reason="year full")
    assert out["status"] == "closed"
    assert changes(demo_deps, str(miami.id)) == {"status": "closed"}
    assert count(demo_deps, Enrollment, Enrollment.offering_id == miami.id) == stints
    assert count(demo_deps, Enrollment, Enrollment.offering_id == miami.id, Enrollment.end_on.is_(None)) == active
    with demo_deps.session_factory() as session:
        newcomer = (
            session.execute(
                select(Enrollment.student_id).where(
                    Enrollment.org_id == miami.org_id, Enrollment.offering_id != miami.id
                )
            )
            .scalars()
            .first()
        )
    err = refusal(demo_deps, admin, "enroll_student", student_id=str(newcomer), offering_id=str(miami.id))
    assert err.code == "offering_closed"
    err = refusal(demo_deps, admin, "close_offering", offering_id=str(miami.id), reason="again")
    assert (err.code, err.field) == ("invalid_transition", "offering_id")


def test_list_offerings_shows_tuition_only_to_callers_who_read_financial_records(demo_deps, persona):
    """Tuition is a financial record (policies/columns.py): the Austin registrar, without financial read,
    saw every offering's tuition in list_offerings; she now sees the offerings with tuition blank."""
    austin = org_id(demo_deps, AUSTIN)
    registrar = call(demo_deps, persona("registrar_austin"), "list_offerings", org_id=austin)["items"]
    admin = call(demo_deps, persona("network_admin"), "list_offerings", org_id=austin)["items"]
    assert registrar and [o["id"] for o in registrar] == [o["id"] for o in admin]
    assert all(o["tuition_cents"] is None for o in registrar)
    assert any(o["tuition_cents"] for o in admin), "the network admin still sees the prices"
