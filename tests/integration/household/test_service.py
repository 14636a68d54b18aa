"""Households: membership, contact and share visibility by scope, and the 100% billing-share rule."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from db.models import ChangeEvent, HouseholdGuardian, HouseholdStudent, Organization, OrgLevel, UserKind
from domain.errors import BillingSharesInvalid, DuplicateRecord, NotFound, PermissionDenied
from domain.household.schemas import AddStudentToHouseholdInput
from domain.household.service import (
    add_student_to_household,
    get_billing_shares,
    get_household,
    list_households_for_student,
    set_billing_shares,
)
from policies.scope import Action, Actor, DataClass, Scope
from tests.factories import assign_guide, create_household, create_org, create_student, create_user, scope_at


@dataclass
class Network:
    network: Organization
    austin: Organization
    miami: Organization


@pytest.fixture()
def net(session):
    network = create_org(session, level=OrgLevel.NETWORK)
    return Network(network, create_org(session, parent=network), create_org(session, parent=network))


def add_guardian(session, household, *, name, relationship, primary=False):
    user = create_user(session, kind=UserKind.GUARDIAN)
    user.display_name = name
    user.phone = "512-555-0100"
    taken = session.execute(
        select(HouseholdGuardian.contact_priority).where(HouseholdGuardian.household_id == household.id)
    ).scalars()
    session.add(
        HouseholdGuardian(
            id=uuid.uuid4(),
            household_id=household.id,
            user_id=user.id,
            relationship=relationship,
            is_primary=primary,
            contact_priority=1 if primary else max([1, *taken]) + 1,
        )
    )
    session.flush()
    return user


def shares_of(session, student):
    rows = session.execute(
        select(HouseholdStudent.household_id, HouseholdStudent.billing_share_bp).where(
            HouseholdStudent.student_id == student.id
        )
    ).all()
    return dict(rows)


def without(org: Organization, *hidden: DataClass, actions=tuple(Action)) -> Scope:
    """A scope at `org` for every data class except the hidden ones."""
    return scope_at(org, classes=[dc for dc in DataClass if dc not in hidden], actions=actions)


def only(org: Organization, grants: dict[DataClass, tuple[Action, ...]]) -> Scope:
    """A scope at `org` holding exactly the listed data classes and actions."""
    return Scope(
        actor=Actor(user_id=None, label="test"),
        grants={(dc, act): frozenset({org.id}) for dc, acts in grants.items() for act in acts},
    )


@pytest.fixture()
def split(session, net):
    """A student in split custody: 60% mother's household, 40% father's, both at Austin."""
    student = create_student(session, net.austin, first_name="Lia")
    mother = create_household(session, net.austin, {student: 6000})
    father = create_household(session, net.austin, {student: 4000})
    return student, mother, father


# -- reading a household -------------------------------------------------------------------------


def test_household_lists_guardians_and_students_with_shares(session, net):
    older = create_student(session, net.austin, last_name="Avila")
    younger = create_student(session, net.austin, last_name="Avila", first_name="Bo")
    household = create_household(session, net.austin, {older: 10000, younger: 10000})
    household.address = "1 Elm St"
    mom = add_guardian(session, household, name="Rosa Avila", relationship="mother", primary=True)
    add_guardian(session, household, name="Abuela Avila", relationship="grandparent")

    read = get_household(session, scope_at(net.austin), household.id)

    assert [(g.display_name, g.relationship, g.is_primary) for g in read.guardians] == [
        ("Rosa Avila", "mother", True),
        ("Abuela Avila", "grandparent", False),
    ]
    assert read.guardians[0].email == mom.email
    assert read.guardians[0].phone == "512-555-0100"
    assert read.address == "1 Elm St"
    assert {(s.student_id, s.billing_share_bp) for s in read.students} == {(older.id, 10000), (younger.id, 10000)}


def test_contact_fields_are_hidden_without_contact_access(session, net):
    student = create_student(session, net.austin)
    household = create_household(session, net.austin, {student: 10000})
    household.address = "1 Elm St"
    add_guardian(session, household, name="Rosa", relationship="mother")

    read = get_household(session, without(net.austin, DataClass.CONTACT), household.id)

    assert read.guardians[0].display_name == "Rosa"
    assert (read.guardians[0].email, read.guardians[0].phone, read.address) == (None, None, None)


def test_billing_shares_are_hidden_without_financial_access(session, net, split):
    student, mother, _ = split

    read = get_household(session, without(net.austin, DataClass.FINANCIAL), mother.id)

    assert [(s.student_id, s.billing_share_bp) for s in read.students] == [(student.id, None)]


def test_out_of_scope_household_is_not_found(session, net):
    household = create_household(session, net.miami, {create_student(session, net.miami): 10000})

    with pytest.raises(NotFound):
        get_household(session, scope_at(net.austin), household.id)
    with pytest.raises(NotFound):
        get_household(session, scope_at(net.austin), uuid.uuid4())


def test_guide_sees_a_household_only_through_an_assigned_student(session, net):
    guide = create_user(session)
    assigned, sibling = create_student(session, net.austin), create_student(session, net.austin)
    family = create_household(session, net.austin, {assigned: 10000, sibling: 10000})
    stranger = create_household(session, net.austin, {create_student(session, net.austin): 10000})
    assign_guide(session, guide, assigned, start_on=dt.date(2025, 8, 1))
    guide_scope = scope_at(net.austin, guide_user_id=guide.id)

    read = get_household(session, guide_scope, family.id)

    assert [s.student_id for s in read.students] == [assigned.id]
    with pytest.raises(NotFound):
        get_household(session, guide_scope, stranger.id)


def test_guide_who_is_also_registrar_elsewhere_sees_that_campus_in_full(session, net):
    guide = create_user(session)
    austin_family = create_household(session, net.austin, {create_student(session, net.austin): 10000})
    miami_family = create_household(session, net.miami, {create_student(session, net.miami): 10000})
    orgs = frozenset({net.austin.id, net.miami.id})
    scope = Scope(
        actor=Actor(user_id=guide.id, label="guide"),
        grants={(DataClass.DIRECTORY, Action.READ): orgs},
        guide_user_id=guide.id,
        guide_orgs={(DataClass.DIRECTORY, Action.READ): frozenset({net.miami.id})},
    )

    assert get_household(session, scope, austin_family.id).id == austin_family.id
    with pytest.raises(NotFound):
        get_household(session, scope, miami_family.id)


def test_list_households_for_student_in_split_custody(session, net, split):
    student, mother, father = split
    create_household(session, net.austin, {create_student(session, net.austin): 10000})  # someone else's

    households = list_households_for_student(session, scope_at(net.austin), student.id)

    assert {h.id for h in households} == {mother.id, father.id}
    assert sorted(s.billing_share_bp for h in households for s in h.students) == [4000, 6000]


def test_list_households_for_out_of_scope_student_is_not_found(session, net):
    in_miami = create_student(session, net.miami)
    create_household(session, net.miami, {in_miami: 10000})

    with pytest.raises(NotFound):
        list_households_for_student(session, scope_at(net.austin), in_miami.id)


def test_a_household_at_another_campus_is_listed_through_the_student_it_holds(session, net):
    student = create_student(session, net.austin)
    here = create_household(session, net.austin, {student: 5000})
    there = create_household(session, net.miami, {student: 5000})
    create_household(session, net.miami, {create_student(session, net.miami): 10000})  # no tie to Austin

    households = list_households_for_student(session, scope_at(net.austin), student.id)

    assert {h.id for h in households} == {here.id, there.id}


# -- setting billing shares ------------------------------------------------------------------------


def test_shares_not_summing_to_100_percent_are_rejected_with_the_sum(session, net, split):
    student, mother, father = split

    with pytest.raises(BillingSharesInvalid) as raised:
        set_billing_shares(session, scope_at(net.austin), student.id, {mother.id: 5000, father.id: 4000})

    assert "found 9000" in raised.value.message
    assert shares_of(session, student) == {mother.id: 6000, father.id: 4000}


def test_split_custody_shares_can_be_changed_and_are_logged(session, net, split):
    student, mother, father = split
    scope = scope_at(net.austin)

    result = set_billing_shares(
        session, scope, student.id, {mother.id: 5000, father.id: 5000}, reason="new custody order"
    )

    assert shares_of(session, student) == {mother.id: 5000, father.id: 5000}
    assert {s.household_id: s.billing_share_bp for s in result.shares} == {mother.id: 5000, father.id: 5000}
    events = session.execute(
        select(ChangeEvent.old_value, ChangeEvent.new_value, ChangeEvent.reason).where(
            ChangeEvent.operation_id == scope.actor.operation_id, ChangeEvent.field == "billing_share_bp"
        )
    ).all()
    assert sorted(events) == [("4000", "5000", "new custody order"), ("6000", "5000", "new custody order")]


def test_a_household_left_out_keeps_its_share_in_the_sum(session, net, split):
    student, mother, father = split

    with pytest.raises(BillingSharesInvalid) as raised:
        set_billing_shares(session, scope_at(net.austin), student.id, {mother.id: 7000})
    assert "found 11000" in raised.value.message

    set_billing_shares(session, scope_at(net.austin), student.id, {mother.id: 6000})
    assert shares_of(session, student) == {mother.id: 6000, father.id: 4000}


def test_share_for_a_household_without_the_student_is_rejected(session, net, split):
    student, mother, father = split
    unrelated = create_household(session, net.austin, {create_student(session, net.austin): 10000})

    with pytest.raises(BillingSharesInvalid):
        set_billing_shares(
            session, scope_at(net.austin), student.id, {mother.id: 5000, father.id: 4000, unrelated.id: 1000}
        )


def test_share_outside_0_to_10000_is_rejected(session, net, split):
    student, mother, father = split

    with pytest.raises(BillingSharesInvalid):
        set_billing_shares(session, scope_at(net.austin), student.id, {mother.id: 12000, father.id: -2000})


def test_shares_count_households_the_caller_cannot_see(session, net):
    student = create_student(session, net.austin)
    here = create_household(session, net.austin, {student: 5000})
    create_household(session, net.miami, {student: 5000})

    with pytest.raises(BillingSharesInvalid) as raised:
        set_billing_shares(session, scope_at(net.austin), student.id, {here.id: 10000})

    assert "found 15000" in raised.value.message


def test_setting_shares_without_financial_write_is_permission_denied(session, net, split):
    student, mother, father = split
    read_only_finance = only(
        net.austin, {DataClass.DIRECTORY: (Action.READ, Action.WRITE), DataClass.FINANCIAL: (Action.READ,)}
    )

    with pytest.raises(PermissionDenied):
        set_billing_shares(session, read_only_finance, student.id, {mother.id: 5000, father.id: 5000})
    assert shares_of(session, student) == {mother.id: 6000, father.id: 4000}


def test_out_of_scope_household_named_in_shares_is_not_found(session, net):
    student = create_student(session, net.austin)
    here = create_household(session, net.austin, {student: 10000})
    stranger = create_household(session, net.miami, {create_student(session, net.miami): 10000})

    with pytest.raises(NotFound):
        set_billing_shares(session, scope_at(net.austin), student.id, {here.id: 4000, stranger.id: 6000})


def test_a_students_share_in_another_campus_household_is_changed_by_the_students_campus(session, net):
    student = create_student(session, net.austin)
    here = create_household(session, net.austin, {student: 5000})
    there = create_household(session, net.miami, {student: 5000})

    set_billing_shares(session, scope_at(net.austin), student.id, {here.id: 4000, there.id: 6000})

    assert shares_of(session, student) == {here.id: 4000, there.id: 6000}


def test_setting_shares_for_an_out_of_scope_student_is_not_found(session, net):
    in_miami = create_student(session, net.miami)
    household = create_household(session, net.miami, {in_miami: 10000})

    with pytest.raises(NotFound):
        set_billing_shares(session, scope_at(net.austin), in_miami.id, {household.id: 10000})


def test_billing_shares_read_needs_financial_access(session, net, split):
    student, _, _ = split

    assert {s.billing_share_bp for s in get_billing_shares(session, scope_at(net.austin), student.id).shares} == {
        6000,
        4000,
    }
    assert get_billing_shares(session, without(net.austin, DataClass.FINANCIAL), student.id).shares == []


# -- adding a student to a household ---------------------------------------------------------------


def add(session, scope, household, student, shares=None):
    return add_student_to_household(
        session, scope, AddStudentToHouseholdInput(household_id=household.id, student_id=student.id, shares=shares)
    )


def empty_household(session, org):
    return create_household(session, org, {})


def test_first_household_takes_the_whole_share(session, net):
    student = create_student(session, net.austin)
    household = empty_household(session, net.austin)

    read = add(session, scope_at(net.austin), household, student)

    assert [(s.student_id, s.billing_share_bp) for s in read.students] == [(student.id, 10000)]


def test_first_household_needs_no_financial_access(session, net):
    student = create_student(session, net.austin)
    household = empty_household(session, net.austin)

    add(session, only(net.austin, {DataClass.DIRECTORY: (Action.READ, Action.WRITE)}), household, student)

    assert shares_of(session, student) == {household.id: 10000}


def test_second_household_requires_shares(session, net):
    student = create_student(session, net.austin)
    mother = create_household(session, net.austin, {student: 10000})
    father = empty_household(session, net.austin)

    with pytest.raises(BillingSharesInvalid, match="already belongs to 1 other household"):
        add(session, scope_at(net.austin), father, student)
    with pytest.raises(BillingSharesInvalid, match="must include household"):
        add(session, scope_at(net.austin), father, student, {mother.id: 10000})
    with pytest.raises(BillingSharesInvalid) as raised:
        add(session, scope_at(net.austin), father, student, {father.id: 5000})
    assert "found 15000" in raised.value.message
    assert shares_of(session, student) == {mother.id: 10000}


def test_second_household_with_shares_splits_billing(session, net):
    student = create_student(session, net.austin)
    mother = create_household(session, net.austin, {student: 10000})
    father = empty_household(session, net.austin)
    scope = scope_at(net.austin)

    add(session, scope, father, student, {mother.id: 7000, father.id: 3000})

    assert shares_of(session, student) == {mother.id: 7000, father.id: 3000}
    logged = session.execute(
        select(ChangeEvent.entity_type, ChangeEvent.field, ChangeEvent.new_value).where(
            ChangeEvent.operation_id == scope.actor.operation_id, ChangeEvent.field == "billing_share_bp"
        )
    ).all()
    assert sorted(logged) == [
        ("household_student", "billing_share_bp", "3000"),
        ("household_student", "billing_share_bp", "7000"),
    ]


def test_adding_a_student_twice_is_a_duplicate(session, net):
    student = create_student(session, net.austin)
    household = create_household(session, net.austin, {student: 10000})

    with pytest.raises(DuplicateRecord):
        add(session, scope_at(net.austin), household, student)


def test_adding_without_directory_write_is_permission_denied(session, net):
    student = create_student(session, net.austin)
    household = empty_household(session, net.austin)

    with pytest.raises(PermissionDenied):
        add(session, scope_at(net.austin, actions=(Action.READ,)), household, student)
    assert shares_of(session, student) == {}


def test_adding_to_an_out_of_scope_household_is_not_found(session, net):
    student = create_student(session, net.austin)
    household = empty_household(session, net.miami)

    with pytest.raises(NotFound):
        add(session, scope_at(net.austin), household, student)


def test_adding_an_out_of_scope_student_is_not_found(session, net):
    household = empty_household(session, net.austin)

    with pytest.raises(NotFound):
        add(session, scope_at(net.austin), household, create_student(session, net.miami))
