"""The household record tools through the runner, as the demo personas, on both engines."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from db.models import (
    ChangeEvent,
    DomainEvent,
    EmergencyContact,
    Household,
    HouseholdGuardian,
    HouseholdStudent,
    Organization,
    User,
    UserKind,
)
from tests.factories import create_student
from tools.runner import ToolCallError, run_tool


def org_of(deps, slug):
    with deps.session_factory() as s:
        return s.execute(select(Organization).where(Organization.slug == slug)).scalar_one()


def new_student(deps, slug):
    """A student at the campus who belongs to no household yet (as create_student would leave them)."""
    with deps.session_factory.begin() as s:
        return create_student(s, s.get(Organization, org_of(deps, slug).id)).id


def call(deps, who, tool, /, **args):
    return run_tool(deps, who, tool, args).data


def refused(deps, who, tool, /, **args):
    with pytest.raises(ToolCallError) as raised:
        run_tool(deps, who, tool, args)
    return raised.value


def count(deps, model, *where):
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def changes(deps, entity_type, entity_id):
    with deps.session_factory() as s:
        rows = s.execute(
            select(ChangeEvent.field, ChangeEvent.old_value, ChangeEvent.new_value, ChangeEvent.org_id).where(
                ChangeEvent.entity_type == entity_type, ChangeEvent.entity_id == str(entity_id)
            )
        ).all()
    return {field: (old, new, org) for field, old, new, org in rows}


def events(deps, event_type):
    with deps.session_factory() as s:
        return list(s.execute(select(DomainEvent.payload).where(DomainEvent.event_type == event_type)).scalars())


def family(deps, registrar, slug="austin", name="Test Household"):
    return call(deps, registrar, "create_household", org_id=str(org_of(deps, slug).id), name=name)


def mother(deps, registrar, household_id, email="rosa.test@example.org", **extra):
    args = {"name": "Rosa Test", "email": email, "phone": "512-555-0199", "relationship": "mother"} | extra
    return call(deps, registrar, "add_guardian", household_id=household_id, **args)


def readonly(principal):
    return replace(principal, token_scopes=("sis.read",))


# -- the happy path: a split-custody family ------------------------------------------------------------


def test_registrar_and_finance_set_up_a_split_custody_family(demo_deps, persona):
    registrar, finance = persona("registrar_austin"), persona("finance_academy")
    student = new_student(demo_deps, "austin")
    moms = call(
        demo_deps,
        registrar,
        "create_household",
        org_id=str(org_of(demo_deps, "austin").id),
        name="Vega Household",
        address="1 Elm St, Austin TX",
    )
    dads = family(demo_deps, registrar, name="Vega Household (father)")
    added = mother(demo_deps, registrar, moms["id"], custody_notes="Joint custody, order 2025-114")
    father = call(
        demo_deps,
        registrar,
        "add_guardian",
        household_id=dads["id"],
        name="Luis Vega",
        email="luis.vega@example.org",
        relationship="father",
        may_pick_up=True,
        lives_with_student=False,
    )
    call(demo_deps, registrar, "add_student_to_household", household_id=moms["id"], student_id=str(student))
    # A registrar adds the second home without deciding who pays; finance sets the split.
    call(
        demo_deps,
        registrar,
        "add_student_to_household",
        household_id=dads["id"],
        student_id=str(student),
        shares={dads["id"]: 0},
    )
    call(demo_deps, finance, "set_billing_shares", student_id=str(student), shares={moms["id"]: 5000, dads["id"]: 5000})

    with demo_deps.session_factory() as s:
        shares = dict(
            s.execute(
                select(HouseholdStudent.household_id, HouseholdStudent.billing_share_bp).where(
                    HouseholdStudent.student_id == student
                )
            ).all()
        )
        link = s.execute(
            select(HouseholdGuardian).where(HouseholdGuardian.user_id == uuid.UUID(added["user_id"]))
        ).one()[0]
        user = s.get(User, uuid.UUID(added["user_id"]))
    assert shares == {uuid.UUID(moms["id"]): 5000, uuid.UUID(dads["id"]): 5000}
    assert (user.kind, user.email, user.phone) == (UserKind.GUARDIAN, "rosa.test@example.org", "512-555-0199")
    assert (link.contact_priority, link.is_primary, link.custody_notes) == (1, True, "Joint custody, order 2025-114")
    assert added["created_user"] is True and father["created_user"] is True

    austin = org_of(demo_deps, "austin").id
    assert changes(demo_deps, "household", moms["id"])["address"][1:] == ("1 Elm St, Austin TX", austin)
    assert changes(demo_deps, "household_guardian", link.id)["contact_priority"][1:] == ("1", austin)
    assert changes(demo_deps, "user_account", user.id)["email"][1] == "rosa.test@example.org"
    assert {p["household_id"] for p in events(demo_deps, "household.created")} >= {moms["id"], dads["id"]}
    assert [p["student_id"] for p in events(demo_deps, "household.student_added")].count(str(student)) == 2
    assert {p["user_id"] for p in events(demo_deps, "household.guardian_added")} >= {
        added["user_id"],
        father["user_id"],
    }

    read = call(demo_deps, registrar, "get_household", household_id=dads["id"])
    assert [(g["display_name"], g["lives_with_student"], g["email"]) for g in read["guardians"]] == [
        ("Luis Vega", False, "luis.vega@example.org")
    ]


def test_the_other_parent_is_linked_by_id_not_created_twice(demo_deps, persona):
    registrar = persona("registrar_austin")
    first, second = family(demo_deps, registrar), family(demo_deps, registrar)
    added = mother(demo_deps, registrar, first["id"])

    dup = refused(
        demo_deps,
        registrar,
        "add_guardian",
        household_id=second["id"],
        name="Rosa Test",
        email="ROSA.test@example.org",
        relationship="mother",
    )
    linked = call(
        demo_deps,
        registrar,
        "add_guardian",
        household_id=second["id"],
        guardian_user_id=added["user_id"],
        relationship="mother",
        contact_priority=2,
    )

    assert (dup.code, dup.field) == ("duplicate_record", "email") and added["user_id"] in dup.message
    assert linked["created_user"] is False
    assert [g["contact_priority"] for g in linked["household"]["guardians"]] == [2]
    assert count(demo_deps, User, func.lower(User.email) == "rosa.test@example.org") == 1


def test_removing_a_guardian_records_the_removal_and_keeps_the_account(demo_deps, persona):
    registrar = persona("registrar_austin")
    household = family(demo_deps, registrar)
    added = mother(demo_deps, registrar, household["id"])
    with demo_deps.session_factory() as s:
        link_id = s.execute(
            select(HouseholdGuardian.id).where(HouseholdGuardian.user_id == uuid.UUID(added["user_id"]))
        ).scalar_one()

    after = call(
        demo_deps,
        registrar,
        "remove_guardian",
        household_id=household["id"],
        user_id=added["user_id"],
        reason="moved away",
    )

    assert after["guardians"] == []
    assert count(demo_deps, User, User.id == uuid.UUID(added["user_id"])) == 1
    removed = changes(demo_deps, "household_guardian", link_id)
    assert removed["relationship"][:2] == ("mother", None) and removed["user_id"][1] is None
    assert events(demo_deps, "household.guardian_removed")[-1]["user_id"] == added["user_id"]
    gone = refused(demo_deps, registrar, "remove_guardian", household_id=household["id"], user_id=added["user_id"])
    assert (gone.code, gone.field) == ("not_found", "user_id")


def test_removing_a_student_who_keeps_a_paying_household_takes_the_new_shares(demo_deps, persona):
    registrar, admin = persona("registrar_austin"), persona("network_admin")
    student = new_student(demo_deps, "austin")
    first, second = family(demo_deps, registrar), family(demo_deps, registrar)
    call(demo_deps, registrar, "add_student_to_household", household_id=first["id"], student_id=str(student))
    call(
        demo_deps,
        admin,
        "add_student_to_household",
        household_id=second["id"],
        student_id=str(student),
        shares={first["id"]: 6000, second["id"]: 4000},
    )

    missing = refused(
        demo_deps, registrar, "remove_student_from_household", household_id=second["id"], student_id=str(student)
    )
    denied = refused(
        demo_deps,
        registrar,
        "remove_student_from_household",
        household_id=second["id"],
        student_id=str(student),
        shares={first["id"]: 10000},
    )
    wrong = refused(
        demo_deps,
        admin,
        "remove_student_from_household",
        household_id=second["id"],
        student_id=str(student),
        shares={first["id"]: 9000},
    )
    assert (missing.code, missing.field) == ("billing_shares_invalid", "shares")
    assert (denied.code, denied.field) == ("permission_denied", "shares")
    assert wrong.code == "billing_shares_invalid" and "found 9000" in wrong.message
    assert count(demo_deps, HouseholdStudent, HouseholdStudent.student_id == student) == 2

    call(
        demo_deps,
        admin,
        "remove_student_from_household",
        household_id=second["id"],
        student_id=str(student),
        shares={first["id"]: 10000},
        reason="custody order changed",
    )

    with demo_deps.session_factory() as s:
        rows = s.execute(
            select(HouseholdStudent.household_id, HouseholdStudent.billing_share_bp).where(
                HouseholdStudent.student_id == student
            )
        ).all()
    assert rows == [(uuid.UUID(first["id"]), 10000)]
    assert [p["household_id"] for p in events(demo_deps, "household.student_removed")] == [second["id"]]


def test_a_registrar_removes_a_household_that_paid_nothing(demo_deps, persona):
    registrar = persona("registrar_austin")
    student = new_student(demo_deps, "austin")
    first, second = family(demo_deps, registrar), family(demo_deps, registrar)
    call(demo_deps, registrar, "add_student_to_household", household_id=first["id"], student_id=str(student))
    call(
        demo_deps,
        registrar,
        "add_student_to_household",
        household_id=second["id"],
        student_id=str(student),
        shares={second["id"]: 0},
    )

    after = call(
        demo_deps, registrar, "remove_student_from_household", household_id=second["id"], student_id=str(student)
    )

    assert after["students"] == []
    assert count(demo_deps, HouseholdStudent, HouseholdStudent.student_id == student) == 1


def test_emergency_contacts_are_replaced_as_a_list_and_audited(demo_deps, persona):
    registrar, nurse = persona("registrar_austin"), persona("nurse_austin")
    student = str(new_student(demo_deps, "austin"))
    contacts = [
        {"name": "Ana Ruiz", "relationship": "aunt", "phone": "512-555-0101", "priority": 2},
        {"name": "Tom Lee", "relationship": "neighbor", "phone": "(512) 555-0102", "priority": 1, "may_pick_up": True},
    ]
    call(demo_deps, registrar, "set_emergency_contacts", student_id=student, contacts=contacts)
    first_ids = [c["id"] for c in call(demo_deps, nurse, "get_emergency_contacts", student_id=student)["contacts"]]

    replaced = call(
        demo_deps,
        registrar,
        "set_emergency_contacts",
        student_id=student,
        contacts=[{"name": "Ana Ruiz", "relationship": "aunt", "phone": "512-555-0101", "priority": 1}],
    )

    assert [(c["name"], c["priority"]) for c in replaced["contacts"]] == [("Ana Ruiz", 1)]
    assert count(demo_deps, EmergencyContact, EmergencyContact.student_id == uuid.UUID(student)) == 1
    austin = org_of(demo_deps, "austin").id
    assert changes(demo_deps, "emergency_contact", first_ids[0])["name"] == ("Tom Lee", None, austin)
    assert changes(demo_deps, "emergency_contact", replaced["contacts"][0]["id"])["phone"][1] == "512-555-0101"


# -- bad input: a clear error naming the field, nothing written -------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "field"),
    [
        ({"name": "A B", "email": "not-an-email", "relationship": "mother"}, "invalid_input", "email"),
        (
            {"name": "A B", "email": "a.b@example.org", "phone": "12", "relationship": "mother"},
            "invalid_input",
            "phone",
        ),
        ({"email": "a.b@example.org", "relationship": "mother"}, "invalid_input", "name"),
        ({"name": "A B", "email": "a.b@example.org", "relationship": "cousin"}, "invalid_input", "relationship"),
        (
            {"name": "A B", "email": "a.b@example.org", "relationship": "mother", "contact_priority": 0},
            "invalid_input",
            "contact_priority",
        ),
        (
            {"name": "A B", "email": "registrar.austin@sis.example", "relationship": "mother"},
            "duplicate_record",
            "email",
        ),
    ],
)
def test_bad_guardian_input_is_refused_with_its_field(demo_deps, persona, args, code, field):
    registrar = persona("registrar_austin")
    household = family(demo_deps, registrar)

    err = refused(demo_deps, registrar, "add_guardian", household_id=household["id"], **args)

    assert (err.code, err.field) == (code, field)
    assert count(demo_deps, HouseholdGuardian, HouseholdGuardian.household_id == uuid.UUID(household["id"])) == 0


def test_a_taken_contact_priority_is_refused(demo_deps, persona):
    registrar = persona("registrar_austin")
    household = family(demo_deps, registrar)
    mother(demo_deps, registrar, household["id"])

    err = refused(
        demo_deps,
        registrar,
        "add_guardian",
        household_id=household["id"],
        name="B C",
        email="b.c@example.org",
        relationship="father",
        contact_priority=1,
    )

    assert (err.code, err.field) == ("invalid_input", "contact_priority")
    assert count(demo_deps, User, User.email == "b.c@example.org") == 0


def test_shares_not_summing_to_100_percent_are_refused_and_nothing_is_written(demo_deps, persona):
    admin = persona("network_admin")
    student = new_student(demo_deps, "austin")
    first, second = family(demo_deps, admin), family(demo_deps, admin)
    call(demo_deps, admin, "add_student_to_household", household_id=first["id"], student_id=str(student))

    err = refused(
        demo_deps,
        admin,
        "add_student_to_household",
        household_id=second["id"],
        student_id=str(student),
        shares={first["id"]: 5000, second["id"]: 4000},
    )

    assert err.code == "billing_shares_invalid" and "found 9000" in err.message
    with demo_deps.session_factory() as s:
        rows = s.execute(
            select(HouseholdStudent.household_id, HouseholdStudent.billing_share_bp).where(
                HouseholdStudent.student_id == student
            )
        ).all()
    assert rows == [(uuid.UUID(first["id"]), 10000)]


def test_a_registrar_may_not_change_an_existing_split(demo_deps, persona):
    registrar = persona("registrar_austin")
    student = new_student(demo_deps, "austin")
    first, second = family(demo_deps, registrar), family(demo_deps, registrar)
    call(demo_deps, registrar, "add_student_to_household", household_id=first["id"], student_id=str(student))

    err = refused(
        demo_deps,
        registrar,
        "add_student_to_household",
        household_id=second["id"],
        student_id=str(student),
        shares={first["id"]: 5000, second["id"]: 5000},
    )

    assert (err.code, err.field) == ("permission_denied", "shares")
    assert count(demo_deps, HouseholdStudent, HouseholdStudent.student_id == student) == 1


@pytest.mark.parametrize(
    "contacts",
    [
        [{"name": "A", "relationship": "aunt", "phone": "555", "priority": 1}],
        [{"name": "A", "relationship": "aunt", "phone": "512-555-0101", "priority": 0}],
        [
            {"name": "A", "relationship": "aunt", "phone": "512-555-0101", "priority": 1},
            {"name": "B", "relationship": "uncle", "phone": "512-555-0102", "priority": 1},
        ],
        [{"name": "  ", "relationship": "aunt", "phone": "512-555-0101", "priority": 1}],
    ],
)
def test_bad_emergency_contacts_are_refused_and_nothing_is_written(demo_deps, persona, contacts):
    student = str(new_student(demo_deps, "austin"))

    err = refused(
        demo_deps, persona("registrar_austin"), "set_emergency_contacts", student_id=student, contacts=contacts
    )

    assert err.code == "invalid_input" and err.field.startswith("contacts")
    assert count(demo_deps, EmergencyContact, EmergencyContact.student_id == uuid.UUID(student)) == 0


def test_an_address_needs_contact_write(demo_deps, persona):
    director = persona("director_miami")
    miami = str(org_of(demo_deps, "miami").id)

    err = refused(demo_deps, director, "create_household", org_id=miami, name="X Household", address="1 Main St")
    made = call(demo_deps, director, "create_household", org_id=miami, name="X Household")

    assert (err.code, err.field) == ("permission_denied", "address")
    assert made["address"] is None


# -- who may: out of scope is not found, roles without the class and read-only keys are refused --------


def test_out_of_scope_households_and_students_look_like_not_found(demo_deps, persona):
    austin_registrar, miami_registrar = persona("registrar_austin"), persona("registrar_miami")
    household = family(demo_deps, austin_registrar)
    added = mother(demo_deps, austin_registrar, household["id"])
    student = str(new_student(demo_deps, "austin"))
    call(demo_deps, austin_registrar, "add_student_to_household", household_id=household["id"], student_id=student)
    miami_student = str(new_student(demo_deps, "miami"))
    hid = household["id"]
    attempts = [
        ("get_household", {"household_id": hid}, "household_id"),
        ("create_household", {"org_id": str(org_of(demo_deps, "austin").id), "name": "X"}, "org_id"),
        (
            "add_guardian",
            {"household_id": hid, "name": "A B", "email": "ab@example.org", "relationship": "aunt"},
            "household_id",
        ),
        ("remove_guardian", {"household_id": hid, "user_id": added["user_id"]}, "household_id"),
        ("add_student_to_household", {"household_id": hid, "student_id": miami_student}, "household_id"),
        ("remove_student_from_household", {"household_id": hid, "student_id": student}, "household_id"),
        ("set_emergency_contacts", {"student_id": student, "contacts": []}, "student_id"),
        ("get_emergency_contacts", {"student_id": student}, "student_id"),
    ]
    for name, args, field in attempts:
        err = refused(demo_deps, miami_registrar, name, **args)
        assert (name, err.code, err.field) == (name, "not_found", field)
    # A Miami household cannot take an Austin student the Miami registrar cannot see.
    theirs = family(demo_deps, miami_registrar, "miami")
    err = refused(demo_deps, miami_registrar, "add_student_to_household", household_id=theirs["id"], student_id=student)
    assert (err.code, err.field) == ("not_found", "student_id")
    assert count(demo_deps, HouseholdStudent, HouseholdStudent.household_id == uuid.UUID(theirs["id"])) == 0


@pytest.mark.parametrize("who", ["nurse_austin", "guide_austin", "finance_academy"])
def test_roles_without_contact_write_cannot_add_guardians_or_emergency_contacts(demo_deps, persona, who):
    household = family(demo_deps, persona("registrar_austin"))
    student = str(new_student(demo_deps, "austin"))

    guardian = refused(
        demo_deps,
        persona(who),
        "add_guardian",
        household_id=household["id"],
        name="A B",
        email="ab@example.org",
        relationship="aunt",
    )
    contacts = refused(demo_deps, persona(who), "set_emergency_contacts", student_id=student, contacts=[])

    assert guardian.code == contacts.code == "permission_denied"
    assert "contact details" in guardian.message
    assert count(demo_deps, User, User.email == "ab@example.org") == 0


@pytest.mark.parametrize("who", ["nurse_austin", "guide_austin", "finance_academy"])
def test_roles_without_directory_write_cannot_create_households_or_move_students(demo_deps, persona, who):
    household = family(demo_deps, persona("registrar_austin"))
    student = str(new_student(demo_deps, "austin"))
    austin = str(org_of(demo_deps, "austin").id)

    for name, args in [
        ("create_household", {"org_id": austin, "name": "X"}),
        ("add_student_to_household", {"household_id": household["id"], "student_id": student}),
        ("remove_student_from_household", {"household_id": household["id"], "student_id": student}),
    ]:
        assert refused(demo_deps, persona(who), name, **args).code == "permission_denied"
    assert count(demo_deps, HouseholdStudent, HouseholdStudent.household_id == uuid.UUID(household["id"])) == 0


def test_a_guide_cannot_read_emergency_contacts(demo_deps, persona):
    student = str(new_student(demo_deps, "austin"))

    assert refused(demo_deps, persona("guide_austin"), "get_emergency_contacts", student_id=student).code == (
        "permission_denied"
    )


def test_a_read_only_key_cannot_write_household_records(demo_deps, persona):
    registrar = persona("registrar_austin")
    household = family(demo_deps, registrar)
    added = mother(demo_deps, registrar, household["id"])
    student = str(new_student(demo_deps, "austin"))
    key = readonly(registrar)
    before = count(demo_deps, Household)

    for name, args in [
        ("create_household", {"org_id": str(org_of(demo_deps, "austin").id), "name": "X"}),
        (
            "add_guardian",
            {"household_id": household["id"], "name": "A B", "email": "ab@example.org", "relationship": "aunt"},
        ),
        ("remove_guardian", {"household_id": household["id"], "user_id": added["user_id"]}),
        ("add_student_to_household", {"household_id": household["id"], "student_id": student}),
        ("remove_student_from_household", {"household_id": household["id"], "student_id": student}),
        ("set_emergency_contacts", {"student_id": student, "contacts": []}),
    ]:
        assert (name, refused(demo_deps, key, name, **args).code) == (name, "permission_denied")
    assert count(demo_deps, Household) == before
    assert call(demo_deps, key, "get_emergency_contacts", student_id=student)["contacts"] == []
