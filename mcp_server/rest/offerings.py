"""Program offering routes."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the offering routes."""
    tool_route(router, deps, "GET", "/offerings", "list_offerings")
