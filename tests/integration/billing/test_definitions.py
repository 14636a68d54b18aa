"""Billing definitions through the runner, on an empty database: define, version, price with them, refuse.

No demo seed and no seeded rules: every fee, discount, plan and refund rule here comes from the tools.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from db.models import (
    BillingAgreement,
    DiscountDefinition,
    EnrollmentStatus,
    FeeDefinition,
    Installment,
    LedgerEntry,
    PaymentPlan,
    RefundRule,
)
from domain.billing import rules
from domain.billing.versions import current_fee
from domain.billing.withdrawal import on_enrollment_ended
from policies.scope import Actor, DataClass, scope_for_orgs
from tests.integration.billing.network import TODAY, Network, build_network


@pytest.fixture()
def net(engine: Engine) -> Iterator[Network]:
    yield from build_network(engine)


def fee(net: Network, **kw: Any) -> dict[str, Any]:
    args = {"org_id": str(net.florida.id), "code": "registration", "name": "Registration", "kind": "registration"}
    return net.call("finance", "define_fee", **{**args, "amount_cents": 25_000, **kw}).data


def plan(net: Network, **kw: Any) -> dict[str, Any]:
    args = {"org_id": str(net.florida.id), "code": "monthly", "name": "Monthly (ten payments)"}
    return net.call("finance", "define_payment_plan", **{**args, "installment_count": 10, **kw}).data


def bill(net: Network, enrollment_id: Any, code: str = "monthly") -> dict[str, Any]:
    return net.call("finance", "set_payment_plan", enrollment_id=str(enrollment_id), plan_code=code).data


def schedule(net: Network, agreement: str) -> list[tuple[Any, ...]]:
    agreement_id = uuid.UUID(agreement)
    with net.session() as s:
        installments = s.execute(
            select(Installment.seq, Installment.due_on, Installment.amount_cents, Installment.status)
            .where(Installment.agreement_id == agreement_id)
            .order_by(Installment.seq)
        ).all()
        entries = s.execute(
            select(LedgerEntry.kind, LedgerEntry.amount_cents, LedgerEntry.posted_on)
            .where(LedgerEntry.agreement_id == agreement_id)
            .order_by(LedgerEntry.posted_on, LedgerEntry.kind, LedgerEntry.amount_cents)
        ).all()
    return [tuple(r) for r in installments] + [tuple(r) for r in entries]


# -- defined, then priced -------------------------------------------------------------------------


def test_an_empty_network_prices_an_agreement_with_what_the_tools_defined(net):
    registration = fee(net)
    technology = fee(net, code="technology", name="Technology", kind="technology", amount_cents=10_000, timing="spread")
    monthly = plan(net, installment_fee_cents=300)
    refunds = net.call(
        "finance",
        "set_refund_rules",
        org_id=str(net.florida.id),
        tiers=[{"within_days": 30, "refund_bp": 10_000}, {"refund_bp": 5_000}],
    ).data
    stint, _ = net.enrolled_child()

    priced = bill(net, stint.id)

    preview = priced["preview"]
    lines = {(line["kind"], line["code"]): line["amount_cents"] for line in preview["lines"]}
    assert lines == {
        ("tuition", "tuition"): 1_200_000,
        ("fee", "registration"): 25_000,
        ("fee", "technology"): 10_000,
        ("fee", rules.INSTALLMENT_FEE): 3_000,
    }
    assert preview["total_cents"] == 1_238_000 and len(preview["installments"]) == 10
    assert preview["installments"][0]["amount_cents"] == (1_213_000 // 10) + 25_000
    with net.session() as s:
        agreement = s.get_one(BillingAgreement, uuid.UUID(priced["agreement_id"]))
        terms = rules.Terms.from_json(agreement.terms)
        assert str(agreement.plan_id) == monthly["id"] and str(agreement.refund_rule_id) == refunds["id"]
        assert agreement.priced_on == TODAY
        assert {(f.code, f.source_id, f.version) for f in terms.fees} == {
            ("registration", registration["id"], 1),
            ("technology", technology["id"], 1),
        }
    for made in (registration, technology, monthly, refunds):
        assert {"code", "version", "effective_from"} <= net.events_of(made["id"])


def test_redefining_a_fee_keeps_priced_agreements_and_prices_new_ones_with_the_new_version(net):
    first = fee(net)
    plan(net)
    stint, _ = net.enrolled_child()
    priced = bill(net, stint.id)
    before = schedule(net, priced["agreement_id"])

    second = fee(net, amount_cents=40_000, reason="new fee schedule")

    assert (second["version"], first["version"]) == (2, 1) and second["id"] != first["id"]
    assert schedule(net, priced["agreement_id"]) == before
    again = net.call("finance", "preview_tuition", enrollment_id=str(stint.id)).data
    assert again["lines"] == priced["preview"]["lines"] and again["total_cents"] == priced["preview"]["total_cents"]
    newcomer, _ = net.enrolled_child()
    fresh = bill(net, newcomer.id)["preview"]
    assert {line["code"]: line["amount_cents"] for line in fresh["lines"]}["registration"] == 40_000
    assert net.count(FeeDefinition, FeeDefinition.code == "registration") == 2
    with net.session() as s:
        assert current_fee(s, net.florida.id, "registration", TODAY).amount_cents == 40_000  # type: ignore[union-attr]


def test_definitions_list_current_scheduled_and_superseded_versions(net):
    fee(net, effective_from="2026-01-01")
    fee(net, amount_cents=30_000, effective_from="2026-06-01")
    fee(net, amount_cents=35_000, effective_from="2026-09-01")
    plan(net)
    net.call(
        "finance",
        "define_discount",
        org_id=str(net.root.id),
        code="staff",
        name="Staff",
        kind="staff",
        percent_bp=5_000,
    )

    listed = net.call("finance_florida", "list_billing_definitions", org_id=str(net.florida.id)).data

    versions = [(f["version"], f["amount_cents"], f["status"], f["until"]) for f in listed["fees"]]
    assert versions == [
        (1, 25_000, "superseded", "2026-06-01"),
        (2, 30_000, "current", "2026-09-01"),
        (3, 35_000, "scheduled", None),
    ]
    assert [d["code"] for d in listed["discounts"]] == ["staff"]  # inherited from the network
    assert [p["code"] for p in listed["payment_plans"]] == ["monthly"]
    only_fees = net.call("finance", "list_billing_definitions", org_id=str(net.root.id), kind="fee").data
    assert len(only_fees["fees"]) == 3 and only_fees["discounts"] == [] and only_fees["payment_plans"] == []


def test_a_new_version_cannot_take_effect_in_the_past_once_the_old_one_priced_agreements(net):
    fee(net, effective_from="2026-07-01")
    plan(net)
    stint, _ = net.enrolled_child()
    bill(net, stint.id)

    err = net.refused(
        "finance",
        "define_fee",
        org_id=str(net.florida.id),
        code="registration",
        name="Registration",
        kind="registration",
        amount_cents=1,
        effective_from="2026-07-10",
    )
    early = net.refused(
        "finance",
        "define_fee",
        org_id=str(net.florida.id),
        code="registration",
        name="Registration",
        kind="registration",
        amount_cents=1,
        effective_from="2026-06-01",
    )

    assert (err.code, err.field) == ("invalid_input", "effective_from") and "already priced" in err.message
    assert (early.code, early.field) == ("invalid_input", "effective_from")
    assert net.count(FeeDefinition) == 1


def test_the_same_definition_sent_twice_is_one_version(net):
    first = plan(net)
    again = plan(net)

    assert again["id"] == first["id"] and net.count(PaymentPlan) == 1


def test_a_program_fee_and_an_offering_fee_override_the_org_wide_one(net):
    fee(net, code="materials", kind="materials", amount_cents=10_000)
    with net.session() as s:
        program_id = s.get_one(type(net.offering), net.offering.id).program_id
    fee(net, code="materials", kind="materials", amount_cents=20_000, program_id=str(program_id))
    fee(net, code="materials", kind="materials", amount_cents=30_000, offering_id=str(net.offering.id))
    plan(net)
    stint, _ = net.enrolled_child()

    lines = bill(net, stint.id)["preview"]["lines"]

    assert [(line["code"], line["amount_cents"]) for line in lines if line["kind"] == "fee"] == [("materials", 30_000)]


def test_a_withdrawal_applies_the_refund_rules_of_the_agreement_date_by_withdrawal_date(net):
    plan(net, code="annual", name="Annual", installment_count=1)
    net.call(
        "finance",
        "set_refund_rules",
        offering_id=str(net.offering.id),
        tiers=[{"through_on": "2026-09-30", "refund_bp": 10_000}, {"through_on": "2026-12-31", "refund_bp": 2_500}],
    )
    stint, _ = net.enrolled_child()
    bill(net, stint.id, "annual")
    net.call("finance", "set_refund_rules", offering_id=str(net.offering.id), tiers=[{"refund_bp": 0}])

    with net.session() as s, s.begin():
        enrollment = s.get_one(type(stint), stint.id)
        enrollment.status, enrollment.end_on = EnrollmentStatus.WITHDRAWN, dt.date(2026, 11, 15)
        scope = scope_for_orgs(Actor(user_id=None, label="test"), [net.florida.id], classes=[DataClass.FINANCIAL])
        settled = on_enrollment_ended(s, scope, enrollment)

    assert settled is not None and settled.refund_rule == "withdrawal"
    assert [h.refund_bp for h in settled.households] == [2_500]
    assert net.count(RefundRule) == 2


# -- bad input: a clear error naming the field, nothing written -------------------------------------


BAD = [
    ("define_fee", {"amount_cents": -1}, "amount_cents"),
    ("define_fee", {"code": "Not A Code"}, "code"),
    ("define_discount", {"percent_bp": 10_001}, "percent_bp"),
    ("define_discount", {"percent_bp": 1_000, "amount_cents": 100}, "percent_bp"),
    ("define_discount", {"percent_bp": 1_000, "eligibility": "sibling"}, "sibling_rank_min"),
    ("define_payment_plan", {"installment_count": 0}, "installment_count"),
    ("define_payment_plan", {"installment_count": 2, "due_month_offsets": [0]}, "due_month_offsets"),
    ("define_payment_plan", {"installment_count": 2, "due_month_offsets": [5, 0]}, "due_month_offsets"),
    (
        "set_refund_rules",
        {"tiers": [{"within_days": 30, "refund_bp": 10_000}, {"within_days": 30, "refund_bp": 5_000}]},
        "tiers",
    ),
    ("set_refund_rules", {"tiers": [{"refund_bp": 10_000}, {"within_days": 30, "refund_bp": 5_000}]}, "tiers"),
    (
        "set_refund_rules",
        {"tiers": [{"within_days": 30, "refund_bp": 10_000}, {"through_on": "2026-12-01", "refund_bp": 0}]},
        "tiers",
    ),
    ("set_refund_rules", {"tiers": [{"refund_bp": 10_001}]}, "tiers.0.refund_bp"),
]
BASE: dict[str, dict[str, Any]] = {
    "define_fee": {"code": "registration", "name": "Registration", "kind": "registration", "amount_cents": 100},
    "define_discount": {"code": "staff", "name": "Staff", "kind": "staff"},
    "define_payment_plan": {"code": "monthly", "name": "Monthly", "installment_count": 10},
    "set_refund_rules": {"tiers": [{"refund_bp": 5_000}]},
}
MODELS = {
    "define_fee": FeeDefinition,
    "define_discount": DiscountDefinition,
    "define_payment_plan": PaymentPlan,
    "set_refund_rules": RefundRule,
}


@pytest.mark.parametrize(("tool", "bad", "field"), BAD, ids=[f"{t}-{f}" for t, _, f in BAD])
def test_bad_input_is_a_clear_error_naming_the_field_and_writes_nothing(net, tool, bad, field):
    err = net.refused("finance", tool, org_id=str(net.florida.id), **{**BASE[tool], **bad})

    assert (err.code, err.field) == ("invalid_input", field), err.message
    assert net.count(MODELS[tool]) == 0


# -- who may define: out of scope is not found; no financial write is refused ----------------------


WRITES = list(BASE)


@pytest.mark.parametrize("tool", WRITES)
def test_finance_of_another_campus_finds_no_such_org(net, tool):
    err = net.refused("finance_other", tool, org_id=str(net.florida.id), **BASE[tool])

    assert (err.code, err.field) == ("not_found", "org_id")
    assert net.count(MODELS[tool]) == 0


@pytest.mark.parametrize("tool", WRITES)
@pytest.mark.parametrize("who", ["registrar", "director", "read_only_key"])
def test_a_role_or_key_without_financial_write_is_refused(net, tool, who):
    err = net.refused(who, tool, org_id=str(net.florida.id), **BASE[tool])

    assert err.code == "permission_denied"
    assert net.count(MODELS[tool]) == 0


@pytest.mark.parametrize("tool", WRITES)
def test_a_roster_only_org_has_no_billing_definitions(net, tool):
    err = net.refused("finance", tool, org_id=str(net.roster.id), **BASE[tool])

    assert err.code == "not_applicable"
    assert net.count(MODELS[tool]) == 0


def test_roster_only_offerings_take_no_refund_rules_or_fees(net):
    refund = net.refused(
        "finance", "set_refund_rules", offering_id=str(net.roster_offering.id), tiers=[{"refund_bp": 0}]
    )
    fee_err = net.refused(
        "finance",
        "define_fee",
        **{**BASE["define_fee"], "org_id": str(net.root.id), "offering_id": str(net.roster_offering.id)},
    )

    assert refund.code == "not_applicable" and fee_err.code == "not_applicable"
    assert net.count(RefundRule) == 0 and net.count(FeeDefinition) == 0


def test_listing_definitions_is_scoped(net):
    fee(net)

    other = net.refused("finance_other", "list_billing_definitions", org_id=str(net.florida.id))
    registrar = net.refused("registrar", "list_billing_definitions", org_id=str(net.florida.id))
    roster = net.refused("finance", "list_billing_definitions", org_id=str(net.roster.id))
    director = net.call("director", "list_billing_definitions", org_id=str(net.florida.id)).data
    network = net.call("finance_other", "list_billing_definitions", org_id=str(net.root.id)).data

    assert (other.code, other.field) == ("not_found", "org_id")
    assert registrar.code == "permission_denied" and roster.code == "not_applicable"
    assert [f["code"] for f in director["fees"]] == ["registration"]  # directors read financial data
    assert network["fees"] == []  # the Austin officer sees the network's part that is theirs: no Miami fees


def test_a_discount_granted_later_reprices_with_the_fee_versions_of_the_agreement_date(net):
    fee(net)
    plan(net)
    net.call(
        "finance",
        "define_discount",
        org_id=str(net.florida.id),
        code="scholarship",
        name="Scholarship",
        kind="scholarship",
        amount_cents=100_000,
    )
    stint, household = net.enrolled_child()
    priced = bill(net, stint.id)
    fee(net, amount_cents=99_000)

    granted = net.call(
        "finance", "apply_discount", household_id=str(household.id), discount_code="scholarship", reason="awarded"
    ).data
    preview = net.call("finance", "preview_tuition", enrollment_id=str(stint.id)).data

    assert granted["repriced_agreement_ids"] == [priced["agreement_id"]]
    lines = {line["code"]: line["amount_cents"] for line in preview["lines"]}
    assert lines["registration"] == 25_000 and lines["scholarship"] == 100_000
    assert preview["total_cents"] == priced["preview"]["total_cents"] - 100_000


def test_naming_the_network_answers_what_naming_the_visible_campus_does(net):
    fee(net)
    net.call(
        "finance",
        "define_discount",
        org_id=str(net.root.id),
        code="staff",
        name="Staff",
        kind="staff",
        percent_bp=5_000,
    )
    fee(net, org_id=str(net.other.id), code="austin_only", name="Austin only", kind="other")

    by_network = net.call("finance_florida", "list_billing_definitions", org_id=str(net.root.id)).data
    by_campus = net.call("finance_florida", "list_billing_definitions", org_id=str(net.florida.id)).data

    assert by_network == by_campus
    assert [f["code"] for f in by_campus["fees"]] == ["registration"] and [
        d["code"] for d in by_campus["discounts"]
    ] == ["staff"]
