"""Student directory routes: search, profile, immunization history, billing shares."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the student routes."""
    tool_route(router, deps, "GET", "/students", "search_students")
    tool_route(router, deps, "GET", "/students/{student_id}", "get_student")
    tool_route(router, deps, "GET", "/students/{student_id}/immunizations", "get_immunization_history")
    tool_route(router, deps, "PUT", "/students/{student_id}/billing-shares", "set_billing_shares")
