"""Webhook subscription routes: create (secret shown once), list, show, deactivate, and the delivery log.

Deliveries are POSTs of JSON `{"delivery_id", "attempt", "event": {"id", "type", "position",
"org_id", "occurred_at", "data"}}` signed as described in domain/webhooks/signing.py:
`SIS-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, with `SIS-Event-Id` to
deduplicate by. A non-2xx answer or no answer is retried with exponential backoff.
"""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the webhook subscription routes."""
    tool_route(router, deps, "GET", "/webhooks", "list_webhook_subscriptions")
    tool_route(router, deps, "POST", "/webhooks", "create_webhook_subscription", status_code=201)
    tool_route(router, deps, "GET", "/webhooks/{subscription_id}", "get_webhook_subscription")
    tool_route(router, deps, "DELETE", "/webhooks/{subscription_id}", "deactivate_webhook_subscription")
    tool_route(router, deps, "GET", "/webhooks/{subscription_id}/deliveries", "list_webhook_deliveries")
    tool_route(router, deps, "POST", "/webhooks/{subscription_id}/test", "send_test_webhook", status_code=202)
    tool_route(
        router, deps, "POST", "/webhook-deliveries/{delivery_id}/redeliver", "redeliver_webhook", status_code=202
    )
    tool_route(router, deps, "POST", "/webhooks/{subscription_id}/rotate-secret", "rotate_webhook_secret")
