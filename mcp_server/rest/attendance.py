"""Attendance routes: summaries, chronic absence, and recording a day (idempotent, hence PUT)."""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest.core import tool_route
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the attendance routes."""
    tool_route(router, deps, "GET", "/attendance/summary", "attendance_summary")
    tool_route(router, deps, "GET", "/attendance/chronic-absence", "find_chronic_absence")
    tool_route(router, deps, "PUT", "/attendance", "record_attendance")
