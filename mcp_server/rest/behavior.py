"""Behavior incident routes."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the behavior routes."""
    tool_route(router, deps, "GET", "/behavior-incidents", "list_behavior_incidents")
    tool_route(router, deps, "POST", "/behavior-incidents", "record_behavior_incident", status_code=201)
