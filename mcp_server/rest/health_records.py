"""Medical record routes: a student's health profile, medications, allergies and conditions."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the health record routes."""
    tool_route(router, deps, "GET", "/students/{student_id}/health-profile", "get_health_profile")
    tool_route(router, deps, "POST", "/students/{student_id}/medications", "record_medication", status_code=201)
    tool_route(router, deps, "POST", "/medications/{medication_id}/end", "end_medication")
    tool_route(router, deps, "POST", "/students/{student_id}/allergies", "record_allergy", status_code=201)
    tool_route(router, deps, "PATCH", "/allergies/{allergy_id}", "update_allergy")
    tool_route(router, deps, "POST", "/students/{student_id}/conditions", "record_condition", status_code=201)
