"""Admissions routes: the pipeline and moving an application one step."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the admissions routes."""
    tool_route(router, deps, "GET", "/applications", "list_applications")
    tool_route(router, deps, "POST", "/applications", "submit_application", status_code=201)
    tool_route(router, deps, "POST", "/applications/{application_id}/advance", "advance_application")
