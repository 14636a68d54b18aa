"""The organization tools through the runner, as the demo personas, on both engines."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from db.demo.calendar import DEMO_TODAY
from db.models import ChangeEvent, DomainEvent, EnrollmentStatus, Organization, OrgKind, Student
from db.models.enrollment import OfferingStatus
from policies.orgtree import org_index
from tests import factories
from tests.integration.org.conftest import read_only, with_grant
from tests.personas import email_of

ROOT, ACADEMY, CONNECT = "/alpha/", "/alpha/academy/", "/alpha/connect/"
AUSTIN, MIAMI = "/alpha/academy/austin/", "/alpha/academy/miami/"


def _org(demo_deps, org_id):
    with demo_deps.session_factory() as s:
        return s.get_one(Organization, uuid.UUID(str(org_id)))


def _changes(demo_deps, entity_id):
    with demo_deps.session_factory() as s:
        rows = s.execute(select(ChangeEvent).where(ChangeEvent.entity_id == str(entity_id))).scalars().all()
        return {(e.field, e.old_value, e.new_value, e.actor_label) for e in rows}


def _events(demo_deps, org_id, event_type):
    with demo_deps.session_factory() as s:
        return (
            s.execute(
                select(DomainEvent).where(
                    DomainEvent.org_id == uuid.UUID(str(org_id)), DomainEvent.event_type == event_type
                )
            )
            .scalars()
            .all()
        )


def _brand(call, org_id, slug="sunshine", **extra):
    args = {"parent_id": org_id(ROOT), "name": "Sunshine Schools", "slug": slug, "level": "brand"} | extra
    return call("network_admin", "create_organization", args)


# -- create --------------------------------------------------------------------------------------


def test_network_admin_builds_a_brand_a_florida_campus_and_a_program_with_paths_and_change_events(
    call, org_id, demo_deps
):
    brand = _brand(call, org_id)
    campus = call(
        "network_admin",
        "create_organization",
        {
            "parent_id": brand["id"],
            "name": "Sunshine Miami",
            "level": "campus",
            "kind": "FULL_SIS",
            "jurisdiction": "US-FL",
            "timezone": "America/New_York",
        },
    )
    program = call(
        "network_admin", "create_organization", {"parent_id": campus["id"], "name": "Robotics", "level": "program"}
    )
    assert (brand["path"], brand["kind"], brand["timezone"]) == ("/alpha/sunshine/", "FULL_SIS", "America/Chicago")
    assert (campus["path"], campus["slug"], campus["jurisdiction"]) == (
        "/alpha/sunshine/sunshine-miami/",
        "sunshine-miami",
        "FL",
    )
    assert (program["path"], program["timezone"], program["jurisdiction"]) == (
        "/alpha/sunshine/sunshine-miami/robotics/",
        "America/New_York",
        None,
    )
    row = _org(demo_deps, campus["id"])
    assert (row.parent_id, row.level.value, row.is_active, row.closed_on) == (
        uuid.UUID(brand["id"]),
        "campus",
        True,
        None,
    )
    admin = "admin@sis.example"
    assert {
        ("name", None, "Sunshine Miami", admin),
        ("jurisdiction", None, "FL", admin),
        ("path", None, "/alpha/sunshine/sunshine-miami/", admin),
        ("kind", None, "FULL_SIS", admin),
    } <= _changes(demo_deps, campus["id"])
    [created] = _events(demo_deps, campus["id"], "organization.created")
    assert created.data_class == "administration" and created.payload["path"] == campus["path"]


def test_a_child_of_a_roster_only_org_is_roster_only_and_full_sis_there_is_refused(call, refused, org_id, counts):
    campus = call(
        "network_admin", "create_organization", {"parent_id": org_id(CONNECT), "name": "Partner", "level": "campus"}
    )
    assert campus["kind"] == OrgKind.ROSTER_ONLY.value
    before = counts()
    error = refused(
        "network_admin",
        "create_organization",
        {"parent_id": org_id(CONNECT), "name": "Full", "level": "campus", "kind": "FULL_SIS"},
    )
    assert (error.code, error.field) == ("invalid_input", "kind")
    assert counts() == before


def test_levels_must_nest(call, refused, org_id, counts):
    before = counts()
    program_under_brand = refused(
        "network_admin", "create_organization", {"parent_id": org_id(ACADEMY), "name": "P", "level": "program"}
    )
    brand_under_campus = refused(
        "network_admin", "create_organization", {"parent_id": org_id(AUSTIN), "name": "B", "level": "brand"}
    )
    second_network = refused(
        "network_admin", "create_organization", {"parent_id": org_id(ROOT), "name": "N", "level": "network"}
    )
    assert (program_under_brand.code, program_under_brand.field) == ("invalid_input", "level")
    assert "brand holds: campus" in program_under_brand.message
    assert (brand_under_campus.code, brand_under_campus.field) == ("invalid_input", "level")
    assert (second_network.code, second_network.field) == ("invalid_input", "level")
    assert "sis init" in second_network.message
    assert counts() == before
    # A campus directly under the network is allowed.
    assert (
        call("network_admin", "create_organization", {"parent_id": org_id(ROOT), "name": "Solo", "level": "campus"})[
            "path"
        ]
        == "/alpha/solo/"
    )


def test_bad_slug_timezone_jurisdiction_and_a_taken_slug_are_refused_with_their_field(refused, org_id, counts):
    before = counts()
    base = {"parent_id": org_id(ACADEMY), "name": "New Campus", "level": "campus"}
    cases = {
        "slug": base | {"slug": "Bad Slug!"},
        "timezone": base | {"timezone": "Mars/Olympus"},
        "jurisdiction": base | {"jurisdiction": "US-ZZ"},
        "name": base | {"name": "   "},
    }
    for field, args in cases.items():
        error = refused("network_admin", "create_organization", args)
        assert (error.code, error.field) == ("invalid_input", field), args
    taken = refused("network_admin", "create_organization", base | {"slug": "austin"})
    assert (taken.code, taken.field) == ("invalid_input", "slug")
    assert "already has an organization with slug 'austin'" in taken.message
    assert counts() == before


def test_jurisdiction_is_stored_as_the_two_letters_the_health_rules_use(call, org_id):
    for n, given in enumerate(("US-TX", "tx", "TX")):
        campus = call(
            "network_admin",
            "create_organization",
            {"parent_id": org_id(ACADEMY), "name": f"Texan {n}", "level": "campus", "jurisdiction": given},
        )
        assert campus["jurisdiction"] == "TX"


def test_campus_director_creates_a_program_at_her_campus_but_the_brand_is_not_found(call, refused, org_id):
    program = call(
        "director_miami", "create_organization", {"parent_id": org_id(MIAMI), "name": "Chess Club", "level": "program"}
    )
    assert program["path"] == "/alpha/academy/miami/chess-club/"
    outside = refused(
        "director_miami", "create_organization", {"parent_id": org_id(ACADEMY), "name": "X", "level": "campus"}
    )
    assert (outside.code, outside.field) == ("not_found", "parent_id")


def test_only_a_network_admin_at_the_root_creates_right_under_it(refused, org_id, persona):
    director_at_root = with_grant(persona("director_miami"), "campus_director", uuid.UUID(org_id(ROOT)), ROOT)
    error = refused(
        director_at_root, "create_organization", {"parent_id": org_id(ROOT), "name": "Brand", "level": "brand"}
    )
    assert (error.code, error.field) == ("permission_denied", "parent_id")


def test_registrar_reads_organizations_of_her_campus_and_may_not_create_any(call, refused, org_id, counts):
    listed = call("registrar_austin", "list_organizations", {})
    assert [o["path"] for o in listed["items"]] == [AUSTIN]
    before = counts()
    error = refused(
        "registrar_austin", "create_organization", {"parent_id": org_id(AUSTIN), "name": "P", "level": "program"}
    )
    assert error.code == "permission_denied"
    assert counts() == before


def test_a_read_only_key_cannot_create_update_or_close(refused, org_id, persona, counts):
    key = read_only(persona("network_admin"))
    before = counts()
    for tool, args in (
        ("create_organization", {"parent_id": org_id(ROOT), "name": "B", "level": "brand"}),
        ("update_organization", {"org_id": org_id(AUSTIN), "name": "Renamed"}),
        ("close_organization", {"org_id": org_id(AUSTIN), "reason": "test"}),
    ):
        assert refused(key, tool, args).code == "permission_denied", tool
    assert counts() == before


def test_nurse_cannot_read_organizations_and_an_out_of_scope_org_is_not_found(refused, org_id):
    assert refused("nurse_austin", "list_organizations", {}).code == "permission_denied"
    hidden = refused("registrar_austin", "get_organization", {"org_id": org_id(MIAMI)})
    assert (hidden.code, hidden.field) == ("not_found", "org_id")
    unknown = refused("network_admin", "get_organization", {"org_id": str(uuid.uuid4())})
    assert (unknown.code, unknown.field) == ("not_found", "org_id")


def test_list_organizations_filters_by_subtree_and_level(call, org_id):
    campuses = call("network_admin", "list_organizations", {"org_id": org_id(ACADEMY), "level": "campus"})
    assert [o["slug"] for o in campuses["items"]] == ["austin", "brownsville", "miami"]
    assert campuses["total"] == 3


# -- update and move -------------------------------------------------------------------------------


def test_update_changes_name_timezone_and_jurisdiction_with_change_events(call, org_id, demo_deps):
    updated = call(
        "director_miami",
        "update_organization",
        {
            "org_id": org_id(MIAMI),
            "name": "Miami Beach",
            "timezone": "America/Chicago",
            "jurisdiction": "US-FL",
            "reason": "renamed",
        },
    )
    assert (updated["name"], updated["timezone"], updated["jurisdiction"], updated["path"]) == (
        "Miami Beach",
        "America/Chicago",
        "FL",
        MIAMI,
    )
    events = _changes(demo_deps, updated["id"])
    assert ("name", "Miami", "Miami Beach", email_of("director_miami")) in events
    assert ("timezone", "America/New_York", "America/Chicago") in {(f, o, n) for f, o, n, _ in events}
    assert len(_events(demo_deps, updated["id"], "organization.updated")) == 1


def test_moving_a_campus_rewrites_its_subtree_paths_and_the_tree_index_follows(call, refused, org_id, demo_deps):
    program = call(
        "network_admin", "create_organization", {"parent_id": org_id(MIAMI), "name": "Robotics", "level": "program"}
    )
    miami = org_id(MIAMI)
    roster = call("finance_academy", "query_roster", {"org_id": miami})
    assert roster["total"] > 0
    with demo_deps.session_factory() as s:
        version_before = org_index(s).version
    moved = call(
        "network_admin",
        "update_organization",
        {"org_id": miami, "parent_id": org_id("/alpha/prep/"), "reason": "Miami joins Prep"},
    )
    assert moved["path"] == "/alpha/prep/miami/"
    assert _org(demo_deps, program["id"]).path == "/alpha/prep/miami/robotics/"
    assert ("path", program["path"], "/alpha/prep/miami/robotics/") in {
        (f, o, n) for f, o, n, _ in _changes(demo_deps, program["id"])
    }
    with demo_deps.session_factory() as s:
        index = org_index(s)
        assert index.version != version_before
        assert uuid.UUID(miami) in index.subtree(uuid.UUID(org_id("/alpha/prep/")))
        assert uuid.UUID(miami) not in index.subtree(uuid.UUID(org_id(ACADEMY)))
    # The Academy finance officer's grant no longer reaches Miami; Miami's own staff keep it.
    assert refused("finance_academy", "query_roster", {"org_id": miami}).code == "not_found"
    assert call("registrar_miami", "query_roster", {"org_id": miami})["total"] == roster["total"]


def test_a_new_slug_renames_the_path_of_everything_below(call, org_id, demo_deps):
    renamed = call("network_admin", "update_organization", {"org_id": org_id(ACADEMY), "slug": "academies"})
    assert renamed["path"] == "/alpha/academies/"
    assert _org(demo_deps, org_id("/alpha/academies/austin/")).slug == "austin"


def test_bad_moves_are_refused_and_write_nothing(refused, org_id, counts):
    before = counts()
    under_itself = refused(
        "network_admin", "update_organization", {"org_id": org_id(ACADEMY), "parent_id": org_id(AUSTIN)}
    )
    campus_under_campus = refused(
        "network_admin", "update_organization", {"org_id": org_id(MIAMI), "parent_id": org_id(AUSTIN)}
    )
    full_under_roster = refused(
        "network_admin", "update_organization", {"org_id": org_id(MIAMI), "parent_id": org_id(CONNECT)}
    )
    taken = refused("network_admin", "update_organization", {"org_id": org_id(MIAMI), "slug": "austin"})
    root = refused("network_admin", "update_organization", {"org_id": org_id(ROOT), "parent_id": org_id(ACADEMY)})
    assert (under_itself.code, under_itself.field) == ("invalid_input", "parent_id")
    assert (campus_under_campus.code, campus_under_campus.field) == ("invalid_input", "level")
    assert (full_under_roster.code, full_under_roster.field) == ("invalid_input", "parent_id")
    assert (taken.code, taken.field) == ("invalid_input", "slug")
    assert root.code == "invalid_input"
    assert counts() == before


def test_a_director_may_rename_her_campus_but_not_move_it(call, refused, org_id):
    assert call("director_miami", "update_organization", {"org_id": org_id(MIAMI), "name": "MIA"})["name"] == "MIA"
    error = refused("director_miami", "update_organization", {"org_id": org_id(MIAMI), "slug": "mia"})
    assert (error.code, error.field) == ("permission_denied", "org_id")


def test_kind_cannot_change_once_anyone_was_enrolled(refused, org_id, counts):
    before = counts()
    error = refused("network_admin", "update_organization", {"org_id": org_id(AUSTIN), "kind": "ROSTER_ONLY"})
    assert (error.code, error.field) == ("invalid_input", "kind")
    assert counts() == before


def test_a_brand_turned_roster_only_takes_its_campuses_along(call, org_id, demo_deps):
    brand = _brand(call, org_id)
    campus = call("network_admin", "create_organization", {"parent_id": brand["id"], "name": "C", "level": "campus"})
    call("network_admin", "update_organization", {"org_id": brand["id"], "kind": "ROSTER_ONLY"})
    assert _org(demo_deps, campus["id"]).kind is OrgKind.ROSTER_ONLY


# -- close ---------------------------------------------------------------------------------------


def test_closing_is_refused_while_the_campus_has_active_stints(refused, org_id, counts):
    before = counts()
    error = refused("network_admin", "close_organization", {"org_id": org_id(AUSTIN), "reason": "merger"})
    assert (error.code, error.status, error.field) == ("organization_in_use", 409, "org_id")
    assert "withdraw or transfer" in error.message
    brand = refused("network_admin", "close_organization", {"org_id": org_id(ACADEMY), "reason": "merger"})
    assert brand.code == "organization_in_use"
    assert counts() == before


def test_a_closed_campus_and_its_programs_keep_their_rows_stay_readable_and_take_nothing_new(
    call, refused, org_id, demo_deps
):
    campus = call(
        "network_admin", "create_organization", {"parent_id": org_id(ACADEMY), "name": "Tampa", "level": "campus"}
    )
    program = call(
        "network_admin", "create_organization", {"parent_id": campus["id"], "name": "Camp", "level": "program"}
    )
    with demo_deps.session_factory.begin() as s:
        offering = factories.create_offering(
            s,
            s.get_one(Organization, uuid.UUID(campus["id"])),
            start_on=DEMO_TODAY - dt.timedelta(days=30),
            end_on=DEMO_TODAY + dt.timedelta(days=150),
            status=OfferingStatus.OPEN,
        )
        ended = factories.create_student(s, s.get_one(Organization, uuid.UUID(campus["id"])))
        factories.create_enrollment(
            s,
            ended,
            offering,
            start_on=DEMO_TODAY - dt.timedelta(days=30),
            end_on=DEMO_TODAY - dt.timedelta(days=2),
            status=EnrollmentStatus.WITHDRAWN,
        )
        offering_id, student_id = (
            str(offering.id),
            str(s.execute(select(Student.id).where(Student.org_id == uuid.UUID(org_id(AUSTIN))).limit(1)).scalar_one()),
        )
    closed = call(
        "network_admin",
        "close_organization",
        {"org_id": campus["id"], "closed_on": DEMO_TODAY.isoformat(), "reason": "lease ended"},
    )
    assert {o["id"] for o in closed["closed"]} == {campus["id"], program["id"]}
    row = _org(demo_deps, program["id"])
    assert (row.is_active, row.closed_on) == (False, DEMO_TODAY)
    assert ("is_active", "True", "False") in {(f, o, n) for f, o, n, _ in _changes(demo_deps, campus["id"])}
    assert len(_events(demo_deps, campus["id"], "organization.closed")) == 1
    assert call("registrar_austin", "whoami", {})  # unaffected
    assert call("network_admin", "get_organization", {"org_id": campus["id"]})["is_active"] is False
    again = refused("network_admin", "close_organization", {"org_id": campus["id"], "reason": "again"})
    assert again.code == "organization_closed"
    child = refused(
        "network_admin", "create_organization", {"parent_id": campus["id"], "name": "X", "level": "program"}
    )
    assert (child.code, child.field) == ("organization_closed", "parent_id")
    enroll = refused("network_admin", "enroll_student", {"student_id": student_id, "offering_id": offering_id})
    assert (enroll.code, enroll.field) == ("organization_closed", "offering_id")


def test_closing_needs_rights_above_the_org_and_never_applies_to_the_root(refused, org_id, counts):
    before = counts()
    director = refused("director_miami", "close_organization", {"org_id": org_id(MIAMI), "reason": "x"})
    root = refused("network_admin", "close_organization", {"org_id": org_id(ROOT), "reason": "x"})
    future = refused(
        "network_admin",
        "close_organization",
        {"org_id": org_id(MIAMI), "reason": "x", "closed_on": (DEMO_TODAY + dt.timedelta(days=1)).isoformat()},
    )
    hidden = refused("director_miami", "close_organization", {"org_id": org_id(AUSTIN), "reason": "x"})
    assert (director.code, director.field) == ("permission_denied", "org_id")
    assert (root.code, root.field) == ("invalid_input", "org_id")
    assert (future.code, future.field) == ("invalid_input", "closed_on")
    assert (hidden.code, hidden.field) == ("not_found", "org_id")
    assert counts() == before


def test_a_campus_created_as_us_tx_is_evaluated_against_the_texas_immunization_rules(call, org_id, demo_deps):
    campus = call(
        "network_admin",
        "create_organization",
        {"parent_id": org_id(ACADEMY), "name": "El Paso", "level": "campus", "jurisdiction": "US-TX"},
    )
    with demo_deps.session_factory.begin() as s:
        org = s.get_one(Organization, uuid.UUID(campus["id"]))
        offering = factories.create_offering(
            s, org, start_on=DEMO_TODAY - dt.timedelta(days=60), end_on=DEMO_TODAY + dt.timedelta(days=150)
        )
        factories.create_enrollment(s, factories.create_student(s, org, grade=5), offering)
    report = call("network_admin", "find_missing_immunizations", {"org_id": campus["id"]})
    assert report["summary"]["students_evaluated"] == 1
    assert report["summary"]["not_evaluated"] == 0
    assert [row["jurisdiction"] for row in report["items"]] == ["TX"]
