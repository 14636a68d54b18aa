"""Billing through the real MCP client on the demo data (with billing seeded), per persona, on both databases."""

from __future__ import annotations

import json
import uuid

import pytest
from mcp import Client
from sqlalchemy import func, select, text

from db.demo.calendar import DEMO_TODAY
from db.models import HouseholdStudent, Installment, InstallmentStatus, LedgerEntry, Organization
from mcp_server.mcp_face import fixed_principal_server

pytestmark = pytest.mark.anyio


async def call(server, name, args=None):
    async with Client(server, raise_exceptions=True) as client:
        return await client.call_tool(name, args or {})


def error_of(result) -> dict:
    return json.loads(result.content[0].text)["error"]


def balances_over(deps, path: str, threshold: int) -> dict[str, int]:
    """Independent SQL: households whose ledger entries at orgs under `path`, posted by today, sum over the threshold."""
    with deps.session_factory() as s:
        rows = s.execute(
            text(
                "SELECT le.household_id, SUM(le.amount_cents) AS owed FROM ledger_entry le "
                "JOIN organization o ON o.id = le.org_id "
                "WHERE o.path LIKE :prefix AND le.posted_on <= :today "
                "GROUP BY le.household_id HAVING SUM(le.amount_cents) > :threshold"
            ),
            {"prefix": f"{path}%", "today": DEMO_TODAY, "threshold": threshold},
        ).all()
    return {str(row.household_id).replace("-", ""): int(row.owed) for row in rows}


def hexed(value: str) -> str:
    return value.replace("-", "")


async def test_headline_families_owing_over_1000_dollars_match_sql(billing_deps, who):
    server = fixed_principal_server(billing_deps, who("finance_academy"))

    result = await call(server, "list_outstanding_balances", {"over_dollars": 1000, "limit": 500})

    assert not result.is_error, result.content[0].text
    body = result.structured_content
    expected = balances_over(billing_deps, "/alpha/academy/", 100_000)
    assert len(expected) >= 10, "the demo data has families owing over $1,000"
    assert {hexed(i["household_id"]): i["balance_cents"] for i in body["items"]} == expected
    assert body["total"] == len(expected) and body["total_balance_cents"] == sum(expected.values())
    assert all(i["balance_cents"] > 100_000 for i in body["items"])
    assert [i["balance_cents"] for i in body["items"]] == sorted(
        (i["balance_cents"] for i in body["items"]), reverse=True
    )


async def test_headline_in_cents_and_overdue_only_agree_with_the_dollar_question(billing_deps, who):
    server = fixed_principal_server(billing_deps, who("finance_academy"))

    dollars = (await call(server, "list_outstanding_balances", {"over_dollars": 1000, "limit": 500})).structured_content
    cents = (await call(server, "list_outstanding_balances", {"over_cents": 100000, "limit": 500})).structured_content
    overdue = (
        await call(server, "list_outstanding_balances", {"over_cents": 100000, "overdue_only": True, "limit": 500})
    ).structured_content

    assert dollars["items"] == cents["items"]
    assert {i["household_id"] for i in overdue["items"]} <= {i["household_id"] for i in dollars["items"]}
    assert all(i["overdue_cents"] > 0 and i["oldest_overdue_on"] for i in overdue["items"])
    assert overdue["total"] > 0


async def test_a_campus_director_sees_only_the_campus_families(billing_deps, who):
    server = fixed_principal_server(billing_deps, who("director_miami"))

    result = await call(server, "list_outstanding_balances", {"over_dollars": 1000, "limit": 500})

    assert not result.is_error, result.content[0].text
    expected = balances_over(billing_deps, "/alpha/academy/miami/", 100_000)
    assert {hexed(i["household_id"]): i["balance_cents"] for i in result.structured_content["items"]} == expected
    household = result.structured_content["items"][0]["household_id"]
    write = await call(server, "record_payment", {"household_id": household, "amount_cents": 100, "method": "cash"})
    assert write.is_error and error_of(write)["code"] == "permission_denied"


async def test_a_campus_director_naming_the_brand_gets_the_campus_families_and_never_another_campus(billing_deps, who):
    with billing_deps.session_factory() as s:
        miami = s.execute(select(Organization).where(Organization.slug == "miami")).scalar_one()
        austin = s.execute(select(Organization.id).where(Organization.slug == "austin")).scalar_one()
    server = fixed_principal_server(billing_deps, who("director_miami"))
    asked = {"over_dollars": 1000, "limit": 500}

    by_brand = await call(server, "list_outstanding_balances", {**asked, "org_id": str(miami.parent_id)})
    by_campus = await call(server, "list_outstanding_balances", {**asked, "org_id": str(miami.id)})
    other = await call(server, "list_outstanding_balances", {**asked, "org_id": str(austin)})

    assert not by_brand.is_error, by_brand.content[0].text
    expected = balances_over(billing_deps, "/alpha/academy/miami/", 100_000)
    assert expected, "the demo data has Miami families owing over $1,000"
    assert {hexed(i["household_id"]): i["balance_cents"] for i in by_brand.structured_content["items"]} == expected
    assert by_brand.structured_content == by_campus.structured_content
    assert other.is_error and (error_of(other)["code"], error_of(other)["field"]) == ("not_found", "org_id")


@pytest.mark.parametrize("name", ["guide_austin", "nurse_austin", "registrar_austin"])
async def test_guides_nurses_and_registrars_cannot_see_financial_data(billing_deps, who, name):
    server = fixed_principal_server(billing_deps, who(name))

    result = await call(server, "list_outstanding_balances", {"over_dollars": 1000})

    assert result.is_error
    assert error_of(result) == error_of(result) | {
        "code": "permission_denied",
        "message": "financial records are not visible to your role",
    }


async def test_a_household_balance_matches_its_ledger_and_shows_installment_ids(billing_deps, who):
    server = fixed_principal_server(billing_deps, who("finance_academy"))
    top = (
        await call(server, "list_outstanding_balances", {"over_dollars": 1000, "overdue_only": True})
    ).structured_content
    household_id = top["items"][0]["household_id"]
    household_uuid = uuid.UUID(household_id)

    result = await call(server, "compute_balance", {"household_id": household_id})

    assert not result.is_error, result.content[0].text
    (part,) = result.structured_content["households"]
    with billing_deps.session_factory() as s:
        academy = select(Organization.id).where(Organization.path.like("/alpha/academy/%"))
        owed = s.execute(
            select(func.sum(LedgerEntry.amount_cents)).where(
                LedgerEntry.household_id == household_uuid,
                LedgerEntry.posted_on <= DEMO_TODAY,
                LedgerEntry.org_id.in_(academy),
            )
        ).scalar_one()
        open_installments = s.execute(
            select(func.count()).where(
                Installment.household_id == household_uuid, Installment.status != InstallmentStatus.CANCELLED
            )
        ).scalar_one()
    assert part["balance_cents"] == owed == top["items"][0]["balance_cents"]
    assert part["overdue_cents"] > 0
    assert len([i for i in part["installments"] if i["status"] != "cancelled"]) == open_installments
    assert (
        part["charges_cents"]
        - part["discounts_cents"]
        - part["payments_cents"]
        + part["refunds_cents"]
        - part["cancellations_cents"]
        == part["balance_cents"]
    )


async def test_split_custody_households_each_see_only_their_share(billing_deps, who):
    with billing_deps.session_factory() as s:
        split = s.execute(
            select(HouseholdStudent.student_id)
            .join(Installment, Installment.household_id == HouseholdStudent.household_id)
            .where(HouseholdStudent.billing_share_bp.between(1, 9_999))
            .group_by(HouseholdStudent.student_id)
            .having(func.count(func.distinct(HouseholdStudent.household_id)) == 2)
            .limit(1)
        ).scalar_one()
    server = fixed_principal_server(billing_deps, who("network_admin"))

    result = await call(server, "compute_balance", {"student_id": str(split)})
    roster = await call(server, "query_roster", {"limit": 1})

    assert not result.is_error and not roster.is_error
    parts = result.structured_content["households"]
    assert len(parts) == 2
    charged = [sum(i["amount_cents"] for i in p["installments"]) for p in parts]
    assert all(c > 0 for c in charged)


async def test_preview_of_an_enrollment_with_a_plan_is_what_it_will_charge(billing_deps, who):
    with billing_deps.session_factory() as s:
        row = s.execute(
            text(
                "SELECT a.enrollment_id, i.household_id, i.seq, i.amount_cents FROM billing_agreement a "
                "JOIN installment i ON i.agreement_id = a.id WHERE a.status = 'active' ORDER BY a.id, i.seq LIMIT 1"
            )
        ).one()
    server = fixed_principal_server(billing_deps, who("network_admin"))

    preview = (await call(server, "preview_tuition", {"enrollment_id": str(row.enrollment_id)})).structured_content

    assert preview["source"] == "agreement"
    part = next(p for p in preview["households"] if hexed(p["household_id"]) == hexed(str(row.household_id)))
    assert part["installments"][row.seq - 1]["amount_cents"] == row.amount_cents


async def test_charging_without_a_gateway_says_online_charging_is_disabled(billing_deps, who):
    with billing_deps.session_factory() as s:
        installment = s.execute(
            select(Installment.id).where(Installment.status == InstallmentStatus.SCHEDULED).limit(1)
        ).scalar_one()
    server = fixed_principal_server(billing_deps, who("finance_academy"))

    result = await call(server, "charge_installment", {"installment_id": str(installment)})

    assert result.is_error
    error = error_of(result)
    assert error["code"] == "online_charging_disabled" and "STRIPE_API_KEY" in error["message"]


async def test_billing_at_a_roster_only_school_is_not_applicable(billing_deps, who):
    with billing_deps.session_factory() as s:
        online = s.execute(select(Organization.id).where(Organization.slug == "online")).scalar_one()
    server = fixed_principal_server(billing_deps, who("network_admin"))

    result = await call(server, "list_outstanding_balances", {"org_id": str(online)})

    assert result.is_error and error_of(result)["code"] == "not_applicable"
