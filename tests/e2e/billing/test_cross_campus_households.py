"""A household whose students attend several campuses: each campus's staff see it, and only their part.

The demo's transfers leave such households (a sibling moved, and the household with them; the
stints and ledger left behind stay at the sending campus). For a finance officer and a registrar
of every campus involved, `list_outstanding_balances`, `compute_balance` and `get_household`
agree, and each shows the campus's own students and money. Both engines.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from db.demo.calendar import DEMO_TODAY
from db.models import Household, HouseholdStudent, LedgerEntry, Organization, RoleGrant, Student, User, UserKind
from policies.principal import load_principal
from tools.runner import ToolCallError, run_tool


def staff(deps, role, org_id):
    """A new staff user holding `role` at one campus, as a Principal."""
    with deps.session_factory.begin() as s:
        user = User(
            id=uuid.uuid4(), email=f"{role}.{uuid.uuid4().hex[:8]}@test.example", display_name=role, kind=UserKind.STAFF
        )
        s.add(user)
        s.flush()
        s.add(RoleGrant(id=uuid.uuid4(), user_id=user.id, role=role, org_id=org_id))
    with deps.session_factory() as s:
        return load_principal(s, user_id=user.id)


def data(deps, who, tool, /, **args):
    return run_tool(deps, who, tool, args).data


def not_found(deps, who, tool, /, **args):
    with pytest.raises(ToolCallError) as raised:
        run_tool(deps, who, tool, args)
    return raised.value.code == "not_found"


def cross_campus_household(deps):
    """The first demo household (by name) with money at a campus other than its own, and its campuses."""
    with deps.session_factory() as s:
        row = s.execute(
            select(Household.id, Household.org_id)
            .join(LedgerEntry, LedgerEntry.household_id == Household.id)
            .where(LedgerEntry.org_id != Household.org_id)
            .order_by(Household.name, Household.id)
            .limit(1)
        ).one()
        ledger_orgs = set(
            s.execute(select(LedgerEntry.org_id).where(LedgerEntry.household_id == row.id).distinct()).scalars()
        )
        homes: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for student_id, org_id in s.execute(
            select(Student.id, Student.org_id)
            .join(HouseholdStudent, HouseholdStudent.student_id == Student.id)
            .where(HouseholdStudent.household_id == row.id)
        ):
            homes[org_id].add(student_id)
    return row.id, row.org_id, ledger_orgs, homes


def ledger_balance(deps, household_id, org_id):
    with deps.session_factory() as s:
        return s.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
                LedgerEntry.household_id == household_id,
                LedgerEntry.org_id == org_id,
                LedgerEntry.posted_on <= DEMO_TODAY,
            )
        ).scalar_one()


def test_the_demo_has_households_whose_money_sits_at_several_campuses(billing_deps):
    _, own_org, ledger_orgs, _ = cross_campus_household(billing_deps)

    assert ledger_orgs - {own_org}


def test_each_campuss_finance_officer_finds_the_household_and_sees_the_campuss_part(billing_deps):
    household_id, own_org, ledger_orgs, homes = cross_campus_household(billing_deps)
    for campus in sorted(ledger_orgs | {own_org} | set(homes)):
        finance = staff(billing_deps, "finance", campus)
        listed = {
            item["household_id"]: item
            for item in data(billing_deps, finance, "list_outstanding_balances", org_id=str(campus), limit=500)["items"]
        }
        balance = data(billing_deps, finance, "compute_balance", household_id=str(household_id))
        detail = data(billing_deps, finance, "get_household", household_id=str(household_id))

        expected = ledger_balance(billing_deps, household_id, campus)
        assert balance["balance_cents"] == expected
        if expected > 0:
            assert listed[str(household_id)]["balance_cents"] == expected
        assert {s["student_id"] for s in detail["students"]} == {str(i) for i in homes.get(campus, set())}
        assert all(s["billing_share_bp"] is not None for s in detail["students"])


def test_every_household_a_campus_lists_has_a_balance_and_a_detail_that_agree(billing_deps):
    _, own_org, ledger_orgs, _ = cross_campus_household(billing_deps)
    for campus in sorted(ledger_orgs - {own_org}):
        finance = staff(billing_deps, "finance", campus)
        page = data(billing_deps, finance, "list_outstanding_balances", org_id=str(campus), limit=500)
        for item in page["items"]:
            balance = data(billing_deps, finance, "compute_balance", household_id=item["household_id"])
            assert balance["balance_cents"] == item["balance_cents"]
            assert (
                data(billing_deps, finance, "get_household", household_id=item["household_id"])["id"]
                == (item["household_id"])
            )


def test_each_campuss_registrar_sees_the_household_with_the_campuss_students_only(billing_deps):
    household_id, own_org, _, homes = cross_campus_household(billing_deps)
    for campus in sorted(set(homes) | {own_org}):
        registrar = staff(billing_deps, "registrar", campus)

        detail = data(billing_deps, registrar, "get_household", household_id=str(household_id))

        assert {s["student_id"] for s in detail["students"]} == {str(i) for i in homes.get(campus, set())}
        assert all(s["billing_share_bp"] is None for s in detail["students"])
        assert all(g["phone"] is not None for g in detail["guardians"])


def test_a_campus_with_no_tie_to_the_household_does_not_find_it(billing_deps):
    household_id, own_org, ledger_orgs, homes = cross_campus_household(billing_deps)
    with billing_deps.session_factory() as s:
        stranger = s.execute(
            select(Organization.id)
            .where(Organization.level == "campus", Organization.id.not_in(ledger_orgs | {own_org} | set(homes)))
            .order_by(Organization.slug)
            .limit(1)
        ).scalar_one()
    finance, registrar = staff(billing_deps, "finance", stranger), staff(billing_deps, "registrar", stranger)

    assert not_found(billing_deps, finance, "compute_balance", household_id=str(household_id))
    assert not_found(billing_deps, finance, "get_household", household_id=str(household_id))
    assert not_found(billing_deps, registrar, "get_household", household_id=str(household_id))
    listed = data(billing_deps, finance, "list_outstanding_balances", org_id=str(stranger), limit=500)["items"]
    assert str(household_id) not in {i["household_id"] for i in listed}
