"""People and access routes: users, role grants, guide assignments and API keys."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the access routes (no Idempotency-Key on POST /api-keys: its answer holds the key itself)."""
    tool_route(router, deps, "POST", "/users", "create_user", status_code=201)
    tool_route(router, deps, "PATCH", "/users/{user_id}", "update_user")
    tool_route(router, deps, "POST", "/users/{user_id}/deactivate", "deactivate_user")
    tool_route(router, deps, "GET", "/grants", "list_role_grants")
    tool_route(router, deps, "POST", "/grants", "grant_role", status_code=201)
    tool_route(router, deps, "POST", "/grants/{grant_id}/revoke", "revoke_role")
    tool_route(router, deps, "POST", "/guide-assignments", "assign_guide", status_code=201)
    tool_route(router, deps, "POST", "/guide-assignments/{assignment_id}/end", "end_guide_assignment")
    tool_route(router, deps, "GET", "/api-keys", "list_api_keys")
    tool_route(router, deps, "POST", "/api-keys", "create_api_key", status_code=201)
    tool_route(router, deps, "DELETE", "/api-keys/{key_id}", "revoke_api_key")
    tool_route(router, deps, "PUT", "/api-keys/{key_id}/limits", "set_api_key_limits")
