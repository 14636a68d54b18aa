"""Organization routes: the org tree and campus school calendars."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the organization routes."""
    tool_route(router, deps, "GET", "/orgs", "list_organizations")
    tool_route(router, deps, "POST", "/orgs", "create_organization", status_code=201)
    tool_route(router, deps, "GET", "/orgs/{org_id}", "get_organization")
    tool_route(router, deps, "PATCH", "/orgs/{org_id}", "update_organization")
    tool_route(router, deps, "POST", "/orgs/{org_id}/close", "close_organization")
    tool_route(router, deps, "GET", "/orgs/{org_id}/calendars/{school_year}", "get_school_calendar")
    tool_route(router, deps, "PUT", "/orgs/{org_id}/calendars/{school_year}", "set_school_calendar")
