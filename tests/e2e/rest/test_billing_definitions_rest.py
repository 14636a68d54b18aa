"""Billing definition routes over HTTP: define, list versions, refund rules; refusals are 4xx with the field."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import FeeDefinition, Organization, OrgKind, ProgramOffering

# Far enough ahead that nothing the other tests price (on the demo's today) sees these versions.
LATER = "2031-01-01"


def _roster_only_org(db) -> str:
    with Session(db.engine) as s:
        return str(
            s.execute(select(Organization.id).where(Organization.kind == OrgKind.ROSTER_ONLY).limit(1)).scalar_one()
        )


def _offering_at(db, slug: str) -> str:
    with Session(db.engine) as s:
        return str(
            s.execute(
                select(ProgramOffering.id).where(ProgramOffering.org_id == uuid.UUID(db.orgs[slug])).limit(1)
            ).scalar_one()
        )


def test_a_fee_defined_twice_is_two_versions_listed_with_their_status(integrator_db):
    client = integrator_db.client("network_admin")
    miami = integrator_db.orgs["miami"]
    code = f"tech_{uuid.uuid4().hex[:8]}"
    body = {"code": code, "name": "Technology", "kind": "technology", "amount_cents": 15_000, "effective_from": LATER}

    first = client.post(f"/api/v1/orgs/{miami}/fees", json=body)
    second = client.post(
        f"/api/v1/orgs/{miami}/fees", json={**body, "amount_cents": 17_500, "effective_from": "2031-06-01"}
    )
    listed = client.get(f"/api/v1/orgs/{miami}/billing-definitions", params={"kind": "fee", "as_of": "2031-03-01"})

    assert (first.status_code, second.status_code) == (201, 201), first.text
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    mine = [(f["version"], f["status"]) for f in listed.json()["fees"] if f["code"] == code]
    assert mine == [(1, "current"), (2, "scheduled")]
    with Session(integrator_db.engine) as s:
        assert len(s.execute(select(FeeDefinition).where(FeeDefinition.code == code)).scalars().all()) == 2


def test_plans_discounts_and_refund_rules_have_routes(integrator_db):
    client = integrator_db.client("network_admin")
    miami = integrator_db.orgs["miami"]
    suffix = uuid.uuid4().hex[:8]

    plan = client.post(
        f"/api/v1/orgs/{miami}/payment-plans",
        json={
            "code": f"quarterly_{suffix}",
            "name": "Quarterly",
            "installment_count": 4,
            "due_month_offsets": [0, 3, 6, 9],
            "effective_from": LATER,
        },
    )
    discount = client.post(
        f"/api/v1/orgs/{miami}/discounts",
        json={
            "code": f"staff_{suffix}",
            "name": "Staff",
            "kind": "staff",
            "percent_bp": 5_000,
            "effective_from": LATER,
        },
    )
    refunds = client.put(
        f"/api/v1/offerings/{_offering_at(integrator_db, 'miami')}/refund-rules",
        json={"tiers": [{"within_days": 30, "refund_bp": 10_000}, {"refund_bp": 2_500}], "effective_from": LATER},
    )

    assert (plan.status_code, discount.status_code, refunds.status_code) == (201, 201, 200), refunds.text
    assert refunds.json()["applies_to"] == "offering" and plan.json()["due_month_offsets"] == [0, 3, 6, 9]


def test_refusals_are_4xx_naming_what_is_wrong(integrator_db):
    miami = integrator_db.orgs["miami"]
    body = {"code": "registration", "name": "Registration", "kind": "registration", "amount_cents": 100}

    registrar = integrator_db.client("registrar_austin").post(f"/api/v1/orgs/{miami}/fees", json=body)
    roster = integrator_db.client("network_admin").post(
        f"/api/v1/orgs/{_roster_only_org(integrator_db)}/fees", json=body
    )
    negative = integrator_db.client("network_admin").post(
        f"/api/v1/orgs/{miami}/fees", json={**body, "amount_cents": -5}
    )
    zero = integrator_db.client("network_admin").post(
        f"/api/v1/orgs/{miami}/payment-plans", json={"code": "none", "name": "None", "installment_count": 0}
    )

    assert registrar.status_code == 403
    assert roster.status_code == 409 and roster.json()["error"]["code"] == "not_applicable"
    assert negative.status_code == 422 and negative.json()["error"]["field"] == "amount_cents"
    assert zero.status_code == 422 and zero.json()["error"]["field"] == "installment_count"
