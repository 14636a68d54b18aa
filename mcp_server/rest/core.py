"""What every SIS REST route shares: the caller from its API key, and a thin call into the runner.

Routes never check permissions: `run_tool` authorizes, scopes, runs and audits. A route only
maps HTTP (path, query, body) onto a catalog tool's input, and the tool's output onto the
response. `tool_route` builds such a route from the tool's own input and output models, so the
OpenAPI document shows exactly the fields and descriptions the MCP tool has.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, create_model

from db.engine import read_transaction
from mcp_server.auth import AuthenticationFailed, authenticate_bearer
from mcp_server.oneroster.oauth import TOKEN_PREFIX
from mcp_server.rest import idempotency
from mcp_server.rest.errors import ERROR_RESPONSES, ApiError, ErrorBody
from policies.principal import Principal
from tools.auth_guard import AuthThrottled
from tools.catalog import ToolSpec, load_catalog
from tools.runner import Deps, ToolCallError, ToolResult, run_tool

bearer_scheme = HTTPBearer(
    scheme_name="ApiKey",
    description="An API key (`sis apikey create`) as `Authorization: Bearer sis_live_...`.",
    auto_error=False,
)


def principal_dependency(deps: Deps) -> Callable[..., Principal]:
    """A FastAPI dependency resolving the caller of a REST request from its bearer API key."""

    def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send an API key as `Authorization: Bearer <key>`")
        if credentials.credentials.startswith(TOKEN_PREFIX):
            raise ApiError(
                401, "unauthenticated", "OAuth tokens are for the OneRoster API; send the API key itself here"
            )
        presented = credentials.credentials

        def check() -> Principal:
            with read_transaction(deps.session_factory) as session:
                return authenticate_bearer(session, f"Bearer {presented}")

        def verified() -> Principal:
            return deps.recently_verified.verify("rest", presented, check, lambda p: p.api_key_prefix)

        try:
            return deps.auth_guard.check(
                deps.session_factory, face="rest", address=client_address(request), presented=presented,
                authenticate=verified,
            )  # fmt: skip
        except AuthThrottled as err:
            raise ApiError(429, err.code, err.message, retry_after=err.retry_after) from None
        except AuthenticationFailed as err:
            raise ApiError(401, err.code, err.message) from None

    return principal


def client_address(request: Request) -> str | None:
    """The connecting address (a proxy's X-Forwarded-For counts only if the ASGI server trusts it)."""
    return request.client.host if request.client else None


def call(deps: Deps, principal: Principal, name: str, arguments: dict[str, Any]) -> ToolResult:
    """Run a catalog tool for a REST request; a refusal becomes an ApiError with the runner's status."""
    try:
        return run_tool(deps, principal, name, arguments, channel="rest")
    except ToolCallError as err:
        raise ApiError.from_tool(err) from None


def without(model: type[BaseModel], names: set[str], suffix: str) -> type[BaseModel] | None:
    """A copy of `model` without the fields in `names` (they come from the path), or None if nothing is left."""
    kept = {n: (f.annotation, f) for n, f in model.model_fields.items() if n not in names}
    if not kept:
        return None
    built: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{model.__name__}{suffix}",
        __config__=ConfigDict(extra="forbid"),
        __doc__=model.__doc__,
        **kept,
    )
    return built


def spec_of(name: str) -> ToolSpec:
    """The catalog entry of a tool (loading the catalog on first use)."""
    return load_catalog()[name]


def tool_route(
    router: APIRouter,
    deps: Deps,
    method: str,
    path: str,
    tool: str,
    *,
    status_code: int = 200,
    summary: str | None = None,
    body: bool | None = None,
    operation_id: str | None = None,
    description: str | None = None,
    idempotent_key: bool | None = None,
) -> None:
    """Add `METHOD path` calling `tool`: path params and query (GET/DELETE) or JSON body fill its input.

    Every write route honours an Idempotency-Key header (mcp_server/rest/idempotency.py) unless
    `idempotent_key=False`: a retry with the same key gets the first answer, refusals included,
    instead of a second write. A tool whose answer is a credential never has its answer stored.
    """
    spec = spec_of(tool)
    if idempotent_key is None:
        idempotent_key = not spec.read_only and not spec.returns_secret
    path_names = set(re.findall(r"{(\w+)}", path))
    use_body = body if body is not None else method not in ("GET", "DELETE")
    rest_model = without(spec.input_model, path_names, "Body" if use_body else "Query")
    parameters = [
        inspect.Parameter(
            "principal",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Principal, Depends(principal_dependency(deps))],
        )
    ]
    for name in sorted(path_names):
        field = spec.input_model.model_fields[name]
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[field.annotation, Path(description=field.description)],
            )
        )
    if rest_model is not None:
        marker = Body() if use_body else Query()
        parameters.append(
            inspect.Parameter(
                "params",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[rest_model, marker],
            )
        )

    if idempotent_key:
        parameters += [
            inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
            inspect.Parameter(
                "idempotency_key", inspect.Parameter.KEYWORD_ONLY, annotation=idempotency.KeyHeader, default=None
            ),
        ]

    def endpoint(**kwargs: Any) -> Any:
        principal: Principal = kwargs.pop("principal")
        request: Request | None = kwargs.pop("request", None)
        key: str | None = kwargs.pop("idempotency_key", None)
        params: BaseModel | None = kwargs.pop("params", None)
        arguments = params.model_dump(mode="json", exclude_unset=True) if params is not None else {}
        arguments |= {k: str(v) if not isinstance(v, int | str) else v for k, v in kwargs.items()}
        if request is None:
            return call(deps, principal, tool, arguments).output

        def answer() -> tuple[int, Any]:
            try:
                return status_code, call(deps, principal, tool, arguments).data
            except ApiError as err:  # a refusal is an answer too: a retry gets it again
                return err.status, ErrorBody(error=err.detail).model_dump(mode="json")

        return idempotency.respond_once(deps, principal, key, request, arguments, answer)

    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=spec.output_model)  # type: ignore[attr-defined]
    endpoint.__name__ = tool
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        operation_id=operation_id or tool,
        summary=summary or spec.title,
        description=description or spec.description,
        response_model=spec.output_model,
        status_code=status_code,
        responses=ERROR_RESPONSES,
    )
