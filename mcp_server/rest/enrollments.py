"""Enrollment routes: rosters and trends, and enrollment CRUD for integrators (roster-only schools).

`POST /enrollments` takes one enrollment or a batch `{"enrollments": [...]}` (OneRoster's
collection envelope). Each item runs as its own `enroll_student` call (its own transaction and
audit entry); a batch answers per item, in order, with the HTTP status each would have had.
Every write here honours an `Idempotency-Key` header. Stints are never deleted: DELETE ends the
stint (a withdrawal) and the row stays, as OneRoster `tobedeleted`.
"""

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from domain.enrollment.schemas import EnrollmentRead, EnrollStudentInput, TransferResult
from mcp_server.rest import idempotency
from mcp_server.rest.core import call, principal_dependency, tool_route
from mcp_server.rest.errors import ERROR_RESPONSES, ApiError, ErrorBody, ErrorDetail
from policies.principal import Principal
from tools.runner import Deps

MAX_BATCH = 200


class EnrollmentCreate(EnrollStudentInput):
    model_config = ConfigDict(extra="forbid")

    purpose: str | None = Field(default=None, max_length=300, description="Why (recorded in the audit log).")


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


class WithdrawBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_on: dt.date = Field(description="Last day of attendance in this stint.")
    reason: str = Field(min_length=2, max_length=200, description="Exit reason, e.g. 'moved out of state'.")
    purpose: str | None = Field(default=None, max_length=300, description="Why (recorded in the audit log).")


class TransferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_offering_id: uuid.UUID = Field(description="The offering at the receiving campus (from GET /offerings).")
    effective_on: dt.date = Field(description="First day at the receiving campus; the old stint ends the day before.")
    reason: str = Field(default="transfer", min_length=2, max_length=200, description="Why the student moves.")
    purpose: str | None = Field(default=None, max_length=300, description="Why (recorded in the audit log).")


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        max_length=idempotency.MAX_KEY,
        description="Any unique string; a retry with the same key gets the first answer instead of a second write.",
    ),
]


def _enroll_one(deps: Deps, principal: Principal, item: EnrollmentCreate) -> tuple[int, dict[str, Any]]:
    try:
        result = call(deps, principal, "enroll_student", item.model_dump(mode="json", exclude_unset=True))
    except ApiError as err:
        return err.status, ErrorBody(error=err.detail).model_dump(mode="json")
    return 201, result.data


def _once(
    deps: Deps,
    principal: Principal,
    key: str | None,
    request: Request,
    payload: Any,
    run: Any,
) -> JSONResponse:
    """Run `run() -> (status, body)` once per Idempotency-Key (or every time without one)."""
    if key is None:
        status, body = run()
        return JSONResponse(body, status_code=status)
    method_path = f"{request.method} {request.url.path}"
    stored = idempotency.start(
        deps, principal, key, method_path, idempotency.fingerprint(request.method, request.url.path, payload)
    )
    if stored is not None:
        return JSONResponse(stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})
    try:
        status, body = run()
    except Exception:
        idempotency.finish(deps, principal, key, 500, None)
        raise
    idempotency.finish(deps, principal, key, status, body)
    return JSONResponse(body, status_code=status)


def _as_response(fn: Any) -> tuple[int, dict[str, Any]]:
    try:
        output = fn()
    except ApiError as err:
        return err.status, ErrorBody(error=err.detail).model_dump(mode="json")
    return 200, output.model_dump(mode="json")


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
        idempotency_key: IdempotencyKey = None,
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

        return _once(deps, principal, idempotency_key, request, payload, run)

    @router.post(
        "/enrollments/{enrollment_id}/withdraw",
        operation_id="withdraw_enrollment",
        summary="Withdraw an enrollment",
        response_model=EnrollmentRead,
        responses=ERROR_RESPONSES,
    )
    def withdraw(
        request: Request,
        principal: CurrentPrincipal,
        enrollment_id: uuid.UUID,
        body: Annotated[WithdrawBody, Body()],
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """End an active stint on end_on with a reason (withdraw_enrollment); the stint stays, ended."""
        payload = body.model_dump(mode="json", exclude_unset=True) | {"enrollment_id": str(enrollment_id)}
        return _once(
            deps,
            principal,
            idempotency_key,
            request,
            payload,
            lambda: _as_response(lambda: call(deps, principal, "withdraw_enrollment", payload).output),
        )

    @router.delete(
        "/enrollments/{enrollment_id}",
        operation_id="end_enrollment",
        summary="End an enrollment (a withdrawal; the stint is kept)",
        response_model=EnrollmentRead,
        responses=ERROR_RESPONSES,
    )
    def end_enrollment(
        request: Request,
        principal: CurrentPrincipal,
        enrollment_id: uuid.UUID,
        end_on: Annotated[dt.date, Query(description="Last day of attendance.")],
        reason: Annotated[str, Query(min_length=2, max_length=200, description="Exit reason.")],
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """The DELETE of enrollment CRUD: withdraw_enrollment. Stints are never erased (OneRoster shows tobedeleted)."""
        payload = {"enrollment_id": str(enrollment_id), "end_on": end_on.isoformat(), "reason": reason}
        return _once(
            deps,
            principal,
            idempotency_key,
            request,
            payload,
            lambda: _as_response(lambda: call(deps, principal, "withdraw_enrollment", payload).output),
        )

    @router.post(
        "/enrollments/{enrollment_id}/transfer",
        operation_id="transfer_student",
        summary="Transfer a student to another campus",
        response_model=TransferResult,
        responses=ERROR_RESPONSES,
    )
    def transfer(
        request: Request,
        principal: CurrentPrincipal,
        enrollment_id: uuid.UUID,
        body: Annotated[TransferBody, Body()],
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """End the stint the day before effective_on and start one in to_offering_id (transfer_student)."""
        payload = body.model_dump(mode="json", exclude_unset=True) | {"enrollment_id": str(enrollment_id)}
        return _once(
            deps,
            principal,
            idempotency_key,
            request,
            payload,
            lambda: _as_response(lambda: call(deps, principal, "transfer_student", payload).output),
        )

    tool_route(router, deps, "POST", "/enrollments/reenroll", "reenroll_student", status_code=201)
