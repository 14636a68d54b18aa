"""Program offering routes: the list, and the writes that create, change and close offerings."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the offering routes."""
    tool_route(router, deps, "GET", "/offerings", "list_offerings")
    tool_route(router, deps, "POST", "/offerings", "create_offering", status_code=201, idempotent_key=True)
    tool_route(router, deps, "PATCH", "/offerings/{offering_id}", "update_offering")
    tool_route(router, deps, "POST", "/offerings/{offering_id}/close", "close_offering")
