"""Immunization routes: compliance gaps, recording doses and exemptions, requirement charts."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the immunization routes."""
    tool_route(router, deps, "GET", "/immunizations/missing", "find_missing_immunizations")
    tool_route(router, deps, "POST", "/immunizations", "record_immunization", status_code=201)
    tool_route(router, deps, "POST", "/immunization-exemptions", "record_exemption", status_code=201)
    tool_route(router, deps, "GET", "/immunization-requirements", "list_immunization_requirements")
    tool_route(router, deps, "POST", "/immunization-requirements", "define_immunization_requirement")
