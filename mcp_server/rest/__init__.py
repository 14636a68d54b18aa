"""The SIS REST API at /api/v1: resource routes over the tool catalog, each a thin call into the runner.

Authentication is an API key as `Authorization: Bearer <key>`. Errors are JSON
`{"error": {"code", "message", "field", "audit_seq"}}` with a 4xx status (see errors.py).
OpenAPI: /openapi.json and /docs. Versioned by path: breaking changes get /api/v2.
"""

from __future__ import annotations

from fastapi import APIRouter

from mcp_server.rest import (
    access,
    admissions,
    attendance,
    audit,
    behavior,
    billing,
    billing_definitions,
    enrollments,
    events,
    health_records,
    household_records,
    households,
    immunizations,
    offerings,
    organizations,
    programs,
    student_records,
    students,
    tools,
    webhooks,
)
from mcp_server.rest.errors import REST_PREFIX, install_error_handlers
from tools.runner import Deps

AREAS = (
    students,
    student_records,
    enrollments,
    offerings,
    programs,
    households,
    household_records,
    attendance,
    immunizations,
    health_records,
    behavior,
    admissions,
    events,
    webhooks,
    billing,
    organizations,
    billing_definitions,
    tools,
    audit,
    access,
)


def build_rest_router(deps: Deps) -> APIRouter:
    """Every /api/v1 route, bound to the runner dependencies of this app."""
    router = APIRouter(prefix=REST_PREFIX, tags=["SIS REST v1"])
    for area in AREAS:
        area.add_routes(router, deps)
    return router


__all__ = ["REST_PREFIX", "build_rest_router", "install_error_handlers"]
