"""Program and year-rollover routes (the offering writes are in offerings.py, beside the offering list)."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the program and rollover routes."""
    tool_route(router, deps, "POST", "/programs", "create_program", status_code=201)
    tool_route(router, deps, "POST", "/rollovers/preview", "preview_rollover")
    tool_route(router, deps, "POST", "/rollovers", "run_rollover", idempotent_key=True)
