"""Error bodies of the HTTP faces: every refusal is a 4xx JSON body that says what is wrong.

The SIS REST API answers `{"error": {"code", "message", "field", "audit_seq", "details"}}`; the
OneRoster API answers the standard's imsx_StatusInfo. One set of handlers serves both, choosing
the shape by path, and leaves other mounted faces (MCP, chat) to their own conventions.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.engine import is_lock_timeout
from mcp_server.oneroster.errors import OneRosterError, error_response, status_body
from mcp_server.oneroster.routes import BASE_PATH, TOKEN_PATH
from mcp_server.request_log import log_invalid_request
from tools.query_slots import RETRY_SECONDS as SQL_RETRY_SECONDS
from tools.query_slots import TooManyQueries
from tools.runner import BUSY_RETRY_SECONDS, ToolCallError

log = logging.getLogger("sis.http")
REST_PREFIX = "/api/v1"


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. invalid_input, not_found, enrollment_overlap.")
    message: str = Field(description="What is wrong and how to fix it.")
    field: str | None = Field(default=None, description="The input field at fault, when there is one.")
    audit_seq: int | None = Field(default=None, description="The query-log entry recording this refusal.")
    details: list[dict[str, Any]] | None = Field(default=None, description="Per-field problems of a malformed request.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """A REST refusal with its HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        audit_seq: int | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.detail = status, ErrorDetail(code=code, message=message, field=field, audit_seq=audit_seq)
        self.retry_after = retry_after
        self.headers = headers or {}

    @classmethod
    def from_tool(cls, err: ToolCallError) -> ApiError:
        """The REST form of a runner refusal; an internal failure stays a 500 (it is a bug, and logged)."""
        return cls(err.status, err.code, err.message, field=err.field, audit_seq=err.audit_seq, headers=err.headers)


def api_error_response(err: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="sis"'} if err.status == 401 else None
    if err.status == 503:
        headers = {"Retry-After": str(BUSY_RETRY_SECONDS)}
    if err.detail.code == TooManyQueries.code:
        headers = {"Retry-After": str(SQL_RETRY_SECONDS)}
    if err.retry_after is not None:
        headers = {"Retry-After": str(err.retry_after)}
    if err.headers:
        headers = {**(headers or {}), **err.headers}
    return JSONResponse(ErrorBody(error=err.detail).model_dump(), status_code=err.status, headers=headers)


_BUSY = f"the database is busy with other changes; nothing was saved, try again in {BUSY_RETRY_SECONDS} seconds"


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed request"},
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    403: {"model": ErrorBody, "description": "Your role or key scope does not allow this"},
    404: {"model": ErrorBody, "description": "Not found, or outside your scope"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state (a business rule)"},
    422: {"model": ErrorBody, "description": "Invalid input"},
    429: {
        "model": ErrorBody,
        "description": "Too many failed authentications, or the key's rate limit or quota is used up: wait "
        "Retry-After seconds (RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset say which limit)",
    },
}


def _is(request: Request, prefix: str) -> bool:
    return request.url.path == prefix or request.url.path.startswith(prefix + "/")


def _problems(err: RequestValidationError) -> tuple[str, str | None, list[dict[str, Any]]]:
    details, parts, first = [], [], None
    for problem in err.errors()[:10]:
        where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path", "header"))
        first = first or where or None
        parts.append(f"{where or 'request'}: {problem.get('msg', 'invalid')}")
        details.append({"loc": [str(p) for p in problem.get("loc", ())], "msg": str(problem.get("msg", ""))})
    return "invalid request: " + "; ".join(parts), first, details


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give /api/v1 and OneRoster their error bodies."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError) -> Response:
        return api_error_response(err)

    @app.exception_handler(OneRosterError)
    async def _oneroster_error(request: Request, err: OneRosterError) -> Response:
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> Response:
        message, field, details = _problems(err)
        if _is(request, BASE_PATH) or _is(request, REST_PREFIX):  # every call leaves an entry (issue 15)
            fields = [".".join(d["loc"]) for d in details]
            await log_invalid_request(
                request, fields, message, channel="oneroster" if _is(request, BASE_PATH) else "rest"
            )
        if _is(request, BASE_PATH):
            minor = "invalid_selection_field" if field == "fields" else "invaliddata"
            return JSONResponse(status_body(400, message, minor), status_code=400)
        if _is(request, REST_PREFIX):
            body = ErrorBody(error=ErrorDetail(code="invalid_input", message=message, field=field, details=details))
            return JSONResponse(body.model_dump(), status_code=422)
        return await request_validation_exception_handler(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> Response:
        message = str(err.detail)
        if _is(request, BASE_PATH):
            return JSONResponse(status_body(err.status_code, message), status_code=err.status_code, headers=err.headers)
        if _is(request, REST_PREFIX) or _is(request, TOKEN_PATH):
            code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
            if err.status_code == 404:
                message = f"no route {request.method} {request.url.path}; see /docs for the API"
            body = ErrorBody(error=ErrorDetail(code=code, message=message))
            return JSONResponse(body.model_dump(), status_code=err.status_code, headers=err.headers)
        return await http_exception_handler(request, err)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> Response:
        if is_lock_timeout(err):  # SQLite outside the runner (signing in, OAuth): a wait, not a bug
            log.warning("SQLite write lock timed out on %s %s", request.method, request.url.path)
            if _is(request, BASE_PATH):
                retry = {"Retry-After": str(BUSY_RETRY_SECONDS)}
                return JSONResponse(status_body(503, _BUSY), status_code=503, headers=retry)
            return api_error_response(ApiError(503, "busy", _BUSY))
        # A bug: logged with its trace, answered without one.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is(request, BASE_PATH):
            return JSONResponse(status_body(500, "the server failed; the error was logged"), status_code=500)
        body = ErrorBody(error=ErrorDetail(code="internal_error", message="the server failed; the error was logged"))
        return JSONResponse(body.model_dump(), status_code=500)
