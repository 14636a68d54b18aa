"""Billing definition routes (FULL_SIS orgs): fees, discounts, payment plans, refund rules, and their versions."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the billing definition routes."""
    tool_route(router, deps, "POST", "/orgs/{org_id}/fees", "define_fee", status_code=201)
    tool_route(router, deps, "POST", "/orgs/{org_id}/discounts", "define_discount", status_code=201)
    tool_route(router, deps, "POST", "/orgs/{org_id}/payment-plans", "define_payment_plan", status_code=201)
    tool_route(router, deps, "PUT", "/offerings/{offering_id}/refund-rules", "set_refund_rules")
    tool_route(router, deps, "GET", "/orgs/{org_id}/billing-definitions", "list_billing_definitions")
