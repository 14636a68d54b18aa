"""Billing routes (FULL_SIS orgs): previews, balances, payments, plans, discounts, charges, refunds."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the billing routes."""
    tool_route(router, deps, "POST", "/billing/previews", "preview_tuition")
    tool_route(router, deps, "GET", "/households/{household_id}/balance", "compute_balance")
    tool_route(router, deps, "GET", "/billing/outstanding-balances", "list_outstanding_balances")
    tool_route(router, deps, "POST", "/households/{household_id}/payments", "record_payment", status_code=201)
    tool_route(router, deps, "PUT", "/enrollments/{enrollment_id}/payment-plan", "set_payment_plan")
    tool_route(router, deps, "POST", "/households/{household_id}/discounts", "apply_discount", status_code=201)
    tool_route(router, deps, "POST", "/installments/{installment_id}/charge", "charge_installment")
    tool_route(router, deps, "POST", "/payments/{payment_id}/refunds", "refund_payment", status_code=201)
    tool_route(router, deps, "POST", "/enrollments/{enrollment_id}/withdrawal-settlement", "settle_withdrawal")
