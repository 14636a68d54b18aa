"""The pull feed of domain events (cursor: the event position)."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the event feed route."""
    tool_route(router, deps, "GET", "/events", "list_events")
