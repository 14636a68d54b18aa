"""Enrollment routes: rosters and trends, and enrollment CRUD for integrators (roster-only schools).

`POST /enrollments` takes one enrollment or a batch `{"enrollments": [...]}` (OneRoster's
collection envelope). Each item runs as its own `enroll_student` call (its own transaction and
audit entry); a batch answers per item, in order, with the HTTP status each would have had.
Every write here honours an `Idempotency-Key` header. Stints are never deleted: DELETE ends the
stint (a withdrawal) and the row stays, as OneRoster `tobedeleted`.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from domain.enrollment.schemas import EnrollmentRead, EnrollStudentInput
from mcp_server.rest import idempotency
from mcp_server.rest.core import call, principal_dependency, tool_route
from mcp_server.rest.errors import ERROR_RESPONSES, ApiError, ErrorBody, ErrorDetail
from policies.principal import Principal
from tools.catalog import ToolInput
from tools.runner import Deps

MAX_BATCH = 200

# Writes on one stint: (method, path, tool, operation id, summary, description or None for the tool's).
_STINT_WRITES = [
    ("POST", "/enrollments/{enrollment_id}/withdraw", "withdraw_enrollment", None, "Withdraw an enrollment", None),
    (
        "DELETE",
        "/enrollments/{enrollment_id}",
        "withdraw_enrollment",
        "end_enrollment",
        "End an enrollment (a withdrawal; the stint is kept)",
        "The DELETE of enrollment CRUD: withdraw_enrollment, with end_on and reason as query parameters. "
        "Stints are never erased (OneRoster shows them as tobedeleted).",
    ),
    (
        "POST",
        "/enrollments/{enrollment_id}/transfer",
        "transfer_student",
        None,
        "Transfer a student to another campus",
        None,
    ),
]


class EnrollmentCreate(ToolInput, EnrollStudentInput):
    """One enrollment: enroll_student's input."""


class EnrollmentBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enrollments: list[EnrollmentCreate] = Field(min_length=1, max_length=MAX_BATCH, description="Up to 200 items.")


class BatchItemResult(BaseModel):
    index: int = Field(description="Position of the item in the request.")
    status: int = Field(description="The HTTP status this item would have had on its own (201 when created).")
    enrollment: EnrollmentRead | None = None
    error: ErrorDetail | None = None


class BatchResult(BaseModel):
    created: int
    failed: int
    results: list[BatchItemResult]


def _enroll_one(deps: Deps, principal: Principal, item: EnrollmentCreate) -> tuple[int, dict[str, Any]]:
    try:
        result = call(deps, principal, "enroll_student", item.model_dump(mode="json", exclude_unset=True))
    except ApiError as err:
        return err.status, ErrorBody(error=err.detail).model_dump(mode="json")
    return 201, result.data


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the enrollment routes."""
    tool_route(router, deps, "GET", "/enrollments", "query_roster")
    tool_route(router, deps, "GET", "/enrollment-trend", "enrollment_trend")
    CurrentPrincipal = Annotated[Principal, Depends(principal_dependency(deps))]

    @router.post(
        "/enrollments",
        operation_id="create_enrollments",
        summary="Enroll one student, or a batch",
        status_code=201,
        response_model=EnrollmentRead,
        responses={**ERROR_RESPONSES, 200: {"model": BatchResult, "description": "A batch: one result per item"}},
    )
    def create_enrollments(
        request: Request,
        principal: CurrentPrincipal,
        body: Annotated[EnrollmentCreate | EnrollmentBatch, Body()],
        idempotency_key: idempotency.KeyHeader = None,
    ) -> JSONResponse:
        """Enroll a student in an offering (enroll_student), or each item of `{"enrollments": [...]}` in order.

        A single item answers 201 with the stint or its error; a batch answers 200 with per-item results.
        """
        payload = body.model_dump(mode="json", exclude_unset=True)

        def run() -> tuple[int, Any]:
            if isinstance(body, EnrollmentCreate):
                return _enroll_one(deps, principal, body)
            results = []
            for index, item in enumerate(body.enrollments):
                status, out = _enroll_one(deps, principal, item)
                results.append(
                    BatchItemResult(
                        index=index,
                        status=status,
                        enrollment=EnrollmentRead.model_validate(out) if status == 201 else None,
                        error=ErrorDetail.model_validate(out["error"]) if status != 201 else None,
                    )
                )
            created = sum(r.status == 201 for r in results)
            batch = BatchResult(created=created, failed=len(results) - created, results=results)
            return 200, batch.model_dump(mode="json")

        return idempotency.respond_once(deps, principal, idempotency_key, request, payload, run)

    for method, path, tool, operation_id, summary, description in _STINT_WRITES:
        tool_route(
            router,
            deps,
            method,
            path,
            tool,
            operation_id=operation_id,
            summary=summary,
            description=description,
            idempotent_key=True,
        )
    tool_route(router, deps, "POST", "/enrollments/reenroll", "reenroll_student", status_code=201)
