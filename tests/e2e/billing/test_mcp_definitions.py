"""A finance officer on an empty network, through the real MCP client: define fees and a plan, bill a child."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from mcp import Client
from sqlalchemy import Engine

from mcp_server.mcp_face import fixed_principal_server
from tests.integration.billing.network import Network, build_network

pytestmark = pytest.mark.anyio


@pytest.fixture()
def net(engine: Engine) -> Iterator[Network]:
    yield from build_network(engine)


async def call(server, name, args):
    async with Client(server, raise_exceptions=True) as client:
        return await client.call_tool(name, args)


async def test_finance_defines_fees_and_a_plan_then_bills_an_enrolled_child(net):
    server = fixed_principal_server(net.deps, net.principals["finance"])
    campus = str(net.florida.id)
    stint, household = net.enrolled_child()

    for name, args in (
        (
            "define_fee",
            {
                "org_id": campus,
                "code": "registration",
                "name": "Registration",
                "kind": "registration",
                "amount_cents": 30_000,
            },
        ),
        (
            "define_fee",
            {
                "org_id": campus,
                "code": "materials",
                "name": "Materials",
                "kind": "materials",
                "amount_cents": 20_000,
                "timing": "spread",
            },
        ),
        (
            "define_payment_plan",
            {
                "org_id": campus,
                "code": "semester",
                "name": "Semester",
                "installment_count": 2,
                "due_month_offsets": [0, 5],
            },
        ),
    ):
        result = await call(server, name, args)
        assert not result.is_error, result.content[0].text

    billed = await call(server, "set_payment_plan", {"enrollment_id": str(stint.id), "plan_code": "semester"})
    balance = await call(server, "compute_balance", {"household_id": str(household.id), "as_of": "2027-05-31"})

    assert not billed.is_error, billed.content[0].text
    preview = billed.structured_content["preview"]
    assert preview["total_cents"] == 1_200_000 + 30_000 + 20_000
    assert [i["amount_cents"] for i in preview["installments"]] == [640_000, 610_000]
    assert balance.structured_content["balance_cents"] == 1_250_000


async def test_a_registrar_does_not_see_the_definition_tools_and_is_refused(net):
    server = fixed_principal_server(net.deps, net.principals["registrar"])

    async with Client(server, raise_exceptions=True) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    refused = await call(
        server,
        "define_fee",
        {"org_id": str(net.florida.id), "code": "late", "name": "Late", "kind": "late", "amount_cents": 100},
    )

    assert not {"define_fee", "define_payment_plan", "list_billing_definitions"} & names
    assert refused.is_error and json.loads(refused.content[0].text)["error"]["code"] == "permission_denied"
