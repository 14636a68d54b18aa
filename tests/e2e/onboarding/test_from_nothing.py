"""A school network started from an empty database: `sis init`, then only calls through one face.

Every key but the first is made by `create_api_key`; every id comes back from a call. The
scenario builds a brand, a Florida campus (FULL_SIS) and a roster-only partner school, their
calendars, programs and offerings with fees, staff with grants and keys, students (one refused as
a duplicate, then created with confirm_new_person), two households sharing a split-custody
student, guardians, enrollments, immunization records and an exemption, attendance and a payment
plan. Then each persona asks the three headline questions in its scope, and the year rolls over.
It runs over MCP (streamable HTTP) and over REST, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from db.engine import make_engine
from tests.conftest import ENGINES, _fresh_postgres_database
from tests.e2e.onboarding.harness import Face, face, key_from, sis_init, unique

pytestmark = pytest.mark.anyio

FIRST_DAY, LAST_DAY = dt.date(2026, 8, 17), dt.date(2027, 5, 28)
OFF = {dt.date(2026, 11, 26)} | {dt.date(2026, 12, 21) + dt.timedelta(days=n) for n in range(12)}
SCHOOL_DAYS = sum(
    1
    for n in range((LAST_DAY - FIRST_DAY).days + 1)
    if (day := FIRST_DAY + dt.timedelta(days=n)).weekday() < 5 and day not in OFF
)


def ident(output: dict[str, Any], *names: str) -> str:
    """The id a create answered with, under the first of `names` it carries."""
    for name in (*names, "id"):
        if output.get(name):
            return str(output[name])
    raise AssertionError(f"no id among {names} in {output}")


@pytest.fixture(params=ENGINES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database with nothing in it, not even the schema: what an operator starts from."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'network.db'}"
    server = request.getfixturevalue("postgres_server_url")
    return _fresh_postgres_database(server, unique("sis_onboard").replace("-", "_"))


@pytest.mark.parametrize("kind", ["mcp", "rest"])
async def test_a_network_started_from_nothing_runs_through_one_face(empty_database_url, kind):
    done = sis_init(empty_database_url, "--network", "Sunrise Schools", "--admin", "ops@sunrise.example")
    assert done.returncode == 0, done.stderr + done.stdout
    admin = key_from(done.stdout)
    again = sis_init(empty_database_url, "--network", "Another", "--admin", "x@sunrise.example")
    assert again.returncode != 0 and len((again.stderr + again.stdout).strip().splitlines()) == 1

    engine = make_engine(empty_database_url)
    try:
        async with face(kind, engine) as f:
            await _scenario(f, admin)
    finally:
        engine.dispose()


async def _scenario(f: Face, admin: str) -> None:
    me = await f.call(admin, "whoami")
    assert me["email"] == "ops@sunrise.example"
    assert [(r["role"], r["org_path"]) for r in me["roles"]] == [("network_admin", "/sunrise-schools/")]
    orgs = await f.call(admin, "list_organizations")
    (root,) = [o for o in orgs["items"] if o["level"] == "network"]
    root_id = ident(root, "org_id")

    # -- organizations and calendars --------------------------------------------------------
    brand = ident(
        await f.call(admin, "create_organization", {"parent_id": root_id, "name": "Sunrise Academy",
                                                    "slug": "academy", "level": "brand", "kind": "FULL_SIS"}),
        "org_id",
    )  # fmt: skip
    bayside = ident(
        await f.call(admin, "create_organization", {"parent_id": brand, "name": "Bayside", "slug": "bayside",
                                                    "level": "campus", "kind": "FULL_SIS", "jurisdiction": "US-FL",
                                                    "timezone": "America/New_York"}),
        "org_id",
    )  # fmt: skip
    partner = ident(
        await f.call(admin, "create_organization", {"parent_id": root_id, "name": "Lakeview Partner School",
                                                    "slug": "lakeview", "level": "campus", "kind": "ROSTER_ONLY",
                                                    "jurisdiction": "US-TX", "timezone": "America/Chicago"}),
        "org_id",
    )  # fmt: skip
    for campus in (bayside, partner):
        calendar = await f.call(
            admin,
            "set_school_calendar",
            {"org_id": campus, "school_year": "2026-27", "first_day": FIRST_DAY, "last_day": LAST_DAY,
             "closures": ["2026-11-26", {"start": "2026-12-21", "end": "2027-01-01", "label": "Winter break"}]},
        )  # fmt: skip
        assert calendar["school_days"] == SCHOOL_DAYS

    # -- staff, grants and their keys -------------------------------------------------------
    keys: dict[str, str] = {}
    users: dict[str, str] = {}
    for role, campus in (("registrar", bayside), ("nurse", bayside), ("finance", bayside), ("guide", bayside),
                         ("integration", partner)):  # fmt: skip
        user = await f.call(
            admin,
            "create_user",
            {"email": f"{role}@sunrise.example", "display_name": f"The {role}", "org_id": campus, "kind": "staff"},
        )
        users[role] = ident(user, "user_id")
        await f.call(admin, "grant_role", {"user_id": users[role], "role": role, "org_id": campus})
        scopes = ["sis.read", "sis.write"]
        created = await f.call(admin, "create_api_key", {"name": f"{role} laptop", "scopes": scopes,
                                                         "user_id": users[role]})  # fmt: skip
        keys[role] = created["api_key"]
    registrar, nurse, finance, guide, integration = (keys[r] for r in
                                                     ("registrar", "nurse", "finance", "guide", "integration"))  # fmt: skip
    assert [r["role"] for r in (await f.call(registrar, "whoami"))["roles"]] == ["registrar"]
    refused = await f.refused(registrar, "grant_role", {"user_id": users["nurse"], "role": "network_admin",
                                                        "org_id": root_id})  # fmt: skip
    assert refused.code in {"permission_denied", "not_found"}

    # -- programs and offerings with fees ---------------------------------------------------
    program = ident(await f.call(admin, "create_program", {"org_id": bayside, "code": "K8", "name": "Bayside K-8",
                                                           "kind": "regular_year"}), "program_id")  # fmt: skip
    year = await f.call(
        admin,
        "create_offering",
        {"program_id": program, "name": "Bayside K-8 2026-27", "session_label": "2026-27", "start_on": FIRST_DAY,
         "end_on": LAST_DAY, "grade_min": 0, "grade_max": 8, "capacity": 60, "tuition_cents": 1_200_000},
    )  # fmt: skip
    offering = ident(year, "offering_id")
    await f.call(finance, "define_fee", {"org_id": bayside, "code": "registration", "name": "Registration",
                                         "kind": "registration", "amount_cents": 25_000,
                                         "effective_from": "2026-01-01"})  # fmt: skip
    await f.call(finance, "define_payment_plan", {"org_id": bayside, "code": "ten", "name": "Ten installments",
                                                  "installment_count": 10, "effective_from": "2026-01-01"})  # fmt: skip
    online = ident(await f.call(admin, "create_program", {"org_id": partner, "code": "ONL", "name": "Online",
                                                          "kind": "online"}), "program_id")  # fmt: skip
    rolling = ident(
        await f.call(admin, "create_offering", {"program_id": online, "name": "Online, rolling", "session_label":
                                                "rolling", "start_on": FIRST_DAY, "continuous": True,
                                                "grade_min": 0, "grade_max": 12}),
        "offering_id",
    )  # fmt: skip
    priced = await f.refused(admin, "create_offering", {"program_id": online, "name": "Priced", "session_label":
                                                        "2026-27", "start_on": FIRST_DAY, "end_on": LAST_DAY,
                                                        "tuition_cents": 100})  # fmt: skip
    assert priced.code in {"invalid_input", "not_applicable"}

    # -- students: one refused as a duplicate, then created with confirm_new_person ----------
    def child(first: str, last: str, born: str, grade: int, **more: Any) -> dict[str, Any]:
        return {"first_name": first, "last_name": last, "birth_on": born, "org_id": bayside, "grade_level": grade,
                "sex": "female", **more}  # fmt: skip

    students: dict[str, dict[str, Any]] = {}
    for name, args in {
        "ana": child("Ana", "Rivera", "2015-03-02", 5),
        "ben": child("Ben", "Okafor", "2015-07-19", 5, sex="male"),
        "cleo": child("Cleo", "Nguyen", "2017-01-11", 3),
    }.items():
        students[name] = await f.call(registrar, "create_student", args)
    duplicate = await f.refused(registrar, "create_student", child("ana", " RIVERA ", "2015-03-02", 5))
    assert duplicate.code == "duplicate_record"
    assert str(students["ana"]["student_number"]) in duplicate.error["message"]
    students["ana2"] = await f.call(registrar, "create_student",
                                    child("Ana", "Rivera", "2015-03-02", 5, confirm_new_person=True))  # fmt: skip
    assert students["ana2"]["student_number"] != students["ana"]["student_number"]
    future = await f.refused(registrar, "create_student", child("Zed", "Future", "2099-01-01", 5))
    assert future.code == "invalid_input" and future.error["field"] in {"birth_on", "input"}
    partner_child = await f.call(integration, "create_student", {
        "first_name": "Pat", "last_name": "Lee", "birth_on": "2013-05-05", "org_id": partner, "grade_level": 7,
        "identifiers": {"partner": "LV-1001"}})  # fmt: skip
    sid = {name: ident(s, "student_id") for name, s in students.items()}
    assert (await f.refused(registrar, "get_student", {"student_id": ident(partner_child, "student_id")})).code == (
        "not_found"
    )

    # -- enrollments ------------------------------------------------------------------------
    stints: dict[str, str] = {}
    for name, grade in (("ana", 5), ("ben", 5), ("cleo", 3), ("ana2", 5)):
        stint = await f.call(registrar, "enroll_student", {"student_id": sid[name], "offering_id": offering,
                                                           "start_on": FIRST_DAY, "grade_level": grade})  # fmt: skip
        stints[name] = ident(stint, "enrollment_id")
    await f.call(integration, "enroll_student", {"student_id": ident(partner_child, "student_id"),
                                                 "offering_id": rolling, "start_on": FIRST_DAY, "grade_level": 7})  # fmt: skip

    # -- households: Ana lives in two (split custody), with guardians -----------------------
    mother = ident(await f.call(registrar, "create_household", {"org_id": bayside, "name": "Rivera (mother)"}),
                   "household_id")  # fmt: skip
    father = ident(await f.call(registrar, "create_household", {"org_id": bayside, "name": "Rivera (father)"}),
                   "household_id")  # fmt: skip
    await f.call(registrar, "add_guardian", {"household_id": mother, "name": "Maria Rivera", "relationship": "mother",
                                             "email": "maria.rivera@family.example", "phone": "+1 305 555 0101"})  # fmt: skip
    await f.call(registrar, "add_guardian", {"household_id": father, "name": "Luis Rivera", "relationship": "father",
                                             "email": "luis.rivera@family.example", "may_pick_up": True})  # fmt: skip
    await f.call(registrar, "add_student_to_household", {"household_id": mother, "student_id": sid["ana"]})
    await f.call(registrar, "add_student_to_household", {"household_id": father, "student_id": sid["ana"],
                                                         "shares": {mother: 10_000, father: 0}})  # fmt: skip
    uneven = await f.refused(finance, "set_billing_shares", {"student_id": sid["ana"],
                                                             "shares": {mother: 6_000, father: 3_000}})  # fmt: skip
    assert uneven.code in {"invalid_input", "billing_shares_invalid"}
    await f.call(finance, "set_billing_shares", {"student_id": sid["ana"], "shares": {mother: 5_000, father: 5_000}})

    # -- immunizations, an exemption, attendance, a payment plan ----------------------------
    for dose_on in ("2016-03-10", "2019-04-01"):
        await f.call(nurse, "record_immunization", {"student_id": sid["ben"], "administered_on": dose_on,
                                                    "vaccine_group": "MMR"})  # fmt: skip
    await f.call(registrar, "record_exemption", {"student_id": sid["cleo"], "kind": "religious",
                                                 "signed_on": "2026-08-01", "note": "DH 681 on file"})  # fmt: skip
    await f.call(registrar, "assign_guide", {"guide_user_id": users["guide"], "student_id": sid["ana"],
                                             "start_on": FIRST_DAY})  # fmt: skip
    school_day = "2026-12-01"
    await f.call(
        guide, "record_attendance", {"student_id": sid["ana"], "day_on": school_day, "status": "unexcused_absence"}
    )
    assert (await f.refused(guide, "record_attendance", {"student_id": sid["ben"], "day_on": school_day,
                                                         "status": "unexcused_absence"})).code == "not_found"  # fmt: skip
    await f.call(finance, "set_payment_plan", {"enrollment_id": stints["ana"], "plan_code": "ten"})
    assert (await f.refused(nurse, "set_payment_plan", {"enrollment_id": stints["ben"], "plan_code": "ten"})).code == (
        "permission_denied"
    )

    # -- the three headline questions, each persona in its scope ----------------------------
    gaps = await f.call(registrar, "find_missing_immunizations", {"grade": 5})
    listed = {row["student_id"] for row in gaps["items"]}
    assert {sid["ana"], sid["ana2"], sid["ben"]} <= listed, "no 5th grader has a complete Florida record"
    assert gaps["summary"]["students_evaluated"] == 3
    assert not gaps.get("warnings"), "Florida rules apply to a US-FL campus"
    assert (await f.call(nurse, "find_missing_immunizations", {"grade": 5}))["summary"]["students_evaluated"] == 3
    assert (await f.refused(finance, "find_missing_immunizations", {"grade": 5})).code == "permission_denied"
    assert (await f.refused(registrar, "find_missing_immunizations", {"org_id": partner})).code == "not_found"

    balances = await f.call(finance, "list_outstanding_balances", {"over_dollars": 1000, "as_of": "2027-06-30"})
    owing = {row["household_id"]: row for row in balances["items"]}
    assert set(owing) == {mother, father}, "the split-custody student's two households each owe their half"
    halves = sorted(int(row["balance_cents"]) for row in owing.values())
    assert halves[0] == halves[1] or halves[1] - halves[0] == 1
    assert sum(halves) == 1_200_000 + 25_000
    assert (await f.refused(registrar, "list_outstanding_balances", {})).code == "permission_denied"

    trend = await f.call(registrar, "enrollment_trend", {"start_month": "2026-08-01", "end_month": "2026-12-01",
                                                         "org_id": bayside})  # fmt: skip
    counts = [point["active_students"] for point in trend["points"]]
    assert counts == [4, 4, 4, 4, 4], trend
    assert (await f.call(integration, "enrollment_trend", {"start_month": "2026-08-01", "end_month": "2026-12-01"}))[
        "points"
    ][-1]["active_students"] == 1
    roster = await f.call(registrar, "query_roster", {"org_id": bayside, "as_of": "2026-12-01"})
    assert roster["total_students"] == 4
    mine = await f.call(guide, "query_roster", {"as_of": "2026-12-01"})
    assert [row["student_id"] for row in mine["items"]] == [sid["ana"]], "a guide sees only her assigned student"
    theirs = await f.call(integration, "query_roster", {"as_of": "2026-12-01"})
    assert theirs["total_students"] == 1 and theirs["items"][0]["student_id"] == ident(partner_child, "student_id")

    # -- year rollover ----------------------------------------------------------------------
    preview = await f.call(admin, "preview_rollover", {"from_year": "2026-27", "to_year": "2027-28",
                                                       "org_id": bayside})  # fmt: skip
    rolled = await f.call(admin, "run_rollover", {"from_year": "2026-27", "to_year": "2027-28", "org_id": bayside})
    assert rolled != {} and preview != {}
    await f.call(admin, "run_rollover", {"from_year": "2026-27", "to_year": "2027-28", "org_id": bayside})
    next_year = await f.call(registrar, "query_roster", {"org_id": bayside, "as_of": "2027-09-01", "status": "pending"})
    grades = sorted(row["grade_level"] for row in next_year["items"])
    assert grades == [4, 6, 6, 6], next_year
    again_next = await f.call(registrar, "query_roster", {"org_id": bayside, "as_of": "2027-09-01",
                                                          "status": "pending"})  # fmt: skip
    assert again_next["total"] == next_year["total"], "a second rollover creates nothing new"
