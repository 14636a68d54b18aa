"""Student record routes: create, update, merge and deactivate a student."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the student record routes."""
    tool_route(router, deps, "POST", "/students", "create_student", status_code=201)
    tool_route(router, deps, "PATCH", "/students/{student_id}", "update_student")
    # The path's student is the record that stays; the body names the duplicate (merged_id).
    tool_route(router, deps, "POST", "/students/{survivor_id}/merge", "merge_students")
    tool_route(router, deps, "POST", "/students/{student_id}/deactivate", "deactivate_student")
