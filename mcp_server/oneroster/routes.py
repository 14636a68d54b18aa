"""The OneRoster 1.2 Rostering REST face: the 41 GET paths of the 1EdTech document, over the tool catalog.

Every route authenticates the caller (an issued OAuth token or an API key as bearer), checks the
route's OneRoster scopes (as listed in the standard's `security` blocks), then calls the
`oneroster_read` / `oneroster_demographics` tool through the runner, which authorizes, applies
the org scope in SQL and writes the query-log entry naming the students disclosed. Collections
carry X-Total-Count and RFC 8288 Link headers (first, prev, next, last); `limit` above
MAX_LIMIT is served as MAX_LIMIT.
"""

from __future__ import annotations

import base64
import binascii
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2
from pydantic import BaseModel, Field

from db.engine import read_transaction
from domain.oneroster.schemas import DEFAULT_LIMIT, MAX_LIMIT, Collection
from mcp_server.auth import AuthenticationFailed
from mcp_server.oneroster.errors import OneRosterError, StatusInfo
from mcp_server.oneroster.oauth import (
    ALL_SCOPES,
    ROSTER,
    ROSTER_CORE,
    ROSTER_DEMOGRAPHICS,
    TOKEN_TTL,
    Credential,
    InvalidScope,
    authenticate_oneroster,
    issue_token,
)
from tools.auth_guard import AuthThrottled
from tools.runner import Deps, ToolCallError, run_tool

BASE_PATH = "/ims/oneroster/rostering/v1p2"
TOKEN_PATH = "/oauth/token"
URL_SAFE = ":/?#[]@!$&'()*+,;=%"
TOP = (ROSTER, ROSTER_CORE)
NESTED = (ROSTER,)

oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl=TOKEN_PATH,
            scopes={
                ROSTER: "All rostering reads except demographics.",
                ROSTER_CORE: "The core rostering reads: top-level collections and single objects.",
                ROSTER_DEMOGRAPHICS: "Demographics reads.",
            },
        )
    ),
    scheme_name="OAuth2CC",
    description="OAuth 2.0 client credentials: client_id = API key prefix, client_secret = the rest of the key. "
    "An API key is also accepted directly as the bearer token.",
    auto_error=False,
)

ENVELOPES: dict[Collection, tuple[str, str]] = {
    Collection.ORGS: ("orgs", "org"),
    Collection.SCHOOLS: ("orgs", "org"),
    Collection.ACADEMIC_SESSIONS: ("academicSessions", "academicSession"),
    Collection.TERMS: ("academicSessions", "academicSession"),
    Collection.GRADING_PERIODS: ("academicSessions", "academicSession"),
    Collection.COURSES: ("courses", "course"),
    Collection.CLASSES: ("classes", "class"),
    Collection.USERS: ("users", "user"),
    Collection.STUDENTS: ("users", "user"),
    Collection.TEACHERS: ("users", "user"),
    Collection.ENROLLMENTS: ("enrollments", "enrollment"),
    Collection.DEMOGRAPHICS: ("demographics", "demographics"),
}


@dataclass(frozen=True)
class Route:
    path: str
    operation_id: str
    collection: Collection
    single: bool = False
    # path parameter -> the tool input field it fills
    parents: tuple[tuple[str, str], ...] = ()
    scopes: tuple[str, ...] = TOP


def _top(name: str, collection: Collection, one: str) -> list[Route]:
    title = name[0].upper() + name[1:]
    return [
        Route(f"/{name}", f"getAll{title}", collection),
        Route(f"/{name}/{{sourcedId}}", f"get{one}", collection, single=True),
    ]


C = Collection
ROUTES: tuple[Route, ...] = (
    *_top("academicSessions", C.ACADEMIC_SESSIONS, "AcademicSession"),
    *_top("classes", C.CLASSES, "Class"),
    Route("/classes/{classSourcedId}/students", "getStudentsForClass", C.STUDENTS, False, (("classSourcedId", "class_id"),), NESTED),
    Route("/classes/{classSourcedId}/teachers", "getTeachersForClass", C.TEACHERS, False, (("classSourcedId", "class_id"),), NESTED),
    *_top("courses", C.COURSES, "Course"),
    Route("/courses/{courseSourcedId}/classes", "getClassesForCourse", C.CLASSES, False, (("courseSourcedId", "course_id"),), NESTED),
    Route("/demographics", "getAllDemographics", C.DEMOGRAPHICS, scopes=(ROSTER_DEMOGRAPHICS,)),
    Route("/demographics/{sourcedId}", "getDemographics", C.DEMOGRAPHICS, True, scopes=(ROSTER_DEMOGRAPHICS,)),
    *_top("enrollments", C.ENROLLMENTS, "Enrollment"),
    *_top("gradingPeriods", C.GRADING_PERIODS, "GradingPeriod"),
    *_top("orgs", C.ORGS, "Org"),
    *_top("schools", C.SCHOOLS, "School"),
    Route("/schools/{schoolSourcedId}/classes", "getClassesForSchool", C.CLASSES, False, (("schoolSourcedId", "school_id"),), NESTED),
    Route("/schools/{schoolSourcedId}/classes/{classSourcedId}/enrollments", "getEnrollmentsForClassInSchool", C.ENROLLMENTS, False, (("schoolSourcedId", "school_id"), ("classSourcedId", "class_id")), NESTED),
    Route("/schools/{schoolSourcedId}/classes/{classSourcedId}/students", "getStudentsForClassInSchool", C.STUDENTS, False, (("schoolSourcedId", "school_id"), ("classSourcedId", "class_id")), NESTED),
    Route("/schools/{schoolSourcedId}/classes/{classSourcedId}/teachers", "getTeachersForClassInSchool", C.TEACHERS, False, (("schoolSourcedId", "school_id"), ("classSourcedId", "class_id")), NESTED),
    Route("/schools/{schoolSourcedId}/courses", "getCoursesForSchool", C.COURSES, False, (("schoolSourcedId", "school_id"),), NESTED),
    Route("/schools/{schoolSourcedId}/enrollments", "getEnrollmentsForSchool", C.ENROLLMENTS, False, (("schoolSourcedId", "school_id"),), NESTED),
    Route("/schools/{schoolSourcedId}/students", "getStudentsForSchool", C.STUDENTS, False, (("schoolSourcedId", "school_id"),), NESTED),
    Route("/schools/{schoolSourcedId}/teachers", "getTeachersForSchool", C.TEACHERS, False, (("schoolSourcedId", "school_id"),), NESTED),
    Route("/schools/{schoolSourcedId}/terms", "getTermsForSchool", C.TERMS, False, (("schoolSourcedId", "school_id"),), NESTED),
    *_top("students", C.STUDENTS, "Student"),
    Route("/students/{studentSourcedId}/classes", "getClassesForStudent", C.CLASSES, False, (("studentSourcedId", "user_id"),), NESTED),
    *_top("teachers", C.TEACHERS, "Teacher"),
    Route("/teachers/{teacherSourcedId}/classes", "getClassesForTeacher", C.CLASSES, False, (("teacherSourcedId", "user_id"),), NESTED),
    *_top("terms", C.TERMS, "Term"),
    Route("/terms/{termSourcedId}/classes", "getClassesForTerm", C.CLASSES, False, (("termSourcedId", "term_id"),), NESTED),
    Route("/terms/{termSourcedId}/gradingPeriods", "getGradingPeriodsForTerm", C.GRADING_PERIODS, False, (("termSourcedId", "term_id"),), NESTED),
    *_top("users", C.USERS, "User"),
    Route("/users/{userSourcedId}/classes", "getClassesForUser", C.CLASSES, False, (("userSourcedId", "user_id"),), NESTED),
)  # fmt: skip

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": StatusInfo, "description": text}
    for code, text in (
        (400, "invalid filter, fields, sort or paging parameter"),
        (401, "missing or invalid bearer credential"),
        (403, "the credential lacks the scope, or the role the data"),
        (404, "no such object in the caller's scope (single-object reads)"),
    )
}


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field(description="Always 'bearer'.")
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="The granted scopes, space-separated.")


class TokenError(BaseModel):
    """RFC 6749 section 5.2 error."""

    error: str
    error_description: str


def _credential_dependency(deps: Deps, scopes: tuple[str, ...]) -> Callable[..., Credential]:
    def credential(request: Request, authorization: Annotated[str | None, Depends(oauth2_scheme)]) -> Credential:
        def check() -> Credential:
            with read_transaction(deps.session_factory) as session:
                return authenticate_oneroster(session, authorization)

        def verified() -> Credential:
            return deps.recently_verified.verify(
                "oneroster", authorization or "", check, lambda c: c.principal.api_key_prefix
            )

        address = request.client.host if request.client else None
        try:
            found = deps.auth_guard.check(
                deps.session_factory, face="oneroster", address=address, presented=authorization, authenticate=verified
            )
        except AuthThrottled as err:
            raise HTTPException(429, err.message, headers={"Retry-After": str(err.retry_after)}) from None
        except AuthenticationFailed as err:
            raise OneRosterError(401, err.message) from None
        if not set(scopes) & found.scopes:
            raise OneRosterError(
                403,
                f"this request needs one of the scopes {', '.join(scopes)}; the credential carries "
                f"{', '.join(sorted(found.scopes)) or 'none'}",
            )
        return found

    return credential


def public_base(request: Request) -> str:
    """The server's public address (SIS_PUBLIC_URL, else the address it serves on): never the request's
    Host header, which a caller chooses (Host: evil.example must not put evil.example in links)."""
    return str(getattr(request.app.state, "public_url", "") or "http://127.0.0.1:8000").rstrip("/")


def _link_header(request: Request, total: int, limit: int, offset: int, next_cursor: str | None = None) -> str:
    def url(at: int, after: str | None = None) -> str:
        # Header values are Latin-1: anything else in the request URL travels percent-encoded.
        here = request.url.remove_query_params("after").include_query_params(limit=limit, offset=at)
        if after is not None:
            # The next page resumes after this one's last record (keyset) when its offset is kept.
            here = here.include_query_params(after=after)
        target = public_base(request) + here.path + (f"?{here.query}" if here.query else "")
        return "<" + quote(target, safe=URL_SAFE) + ">"

    last = max(((total - 1) // limit) * limit, 0)
    links = [f'{url(0)}; rel="first"']
    if offset > 0:
        links.append(f'{url(max(offset - limit, 0))}; rel="prev"')
    if offset + limit < total:
        links.append(f'{url(offset + limit, next_cursor)}; rel="next"')
    links.append(f'{url(last)}; rel="last"')
    return ", ".join(links)


def _endpoint(deps: Deps, route: Route) -> Callable[..., Any]:
    plural, singular = ENVELOPES[route.collection]
    tool = "oneroster_demographics" if route.collection is Collection.DEMOGRAPHICS else "oneroster_read"

    def endpoint(request: Request, response: Response, **params: Any) -> dict[str, Any]:
        credential: Credential = params.pop("credential")
        args: dict[str, Any] = {
            "collection": route.collection.value,
            "base_url": public_base(request) + BASE_PATH,
        }
        for name, field in route.parents:
            args[field] = params.pop(name)
        if route.single:
            args["sourced_id"] = params.pop("sourcedId")
        else:
            for name, field in (
                ("limit", "limit"),
                ("offset", "offset"),
                ("sort", "sort"),
                ("orderBy", "order_by"),
                ("filter", "filter"),
                ("after", "after"),
            ):
                if params.get(name) is not None:
                    args[field] = params[name]
        fields = params.get("fields")
        if fields:
            args["fields"] = ",".join(fields)
        try:
            result = run_tool(deps, credential.principal, tool, args, channel="oneroster")
        except ToolCallError as err:
            raise OneRosterError.from_tool(err) from None
        page = result.output
        items: list[dict[str, Any]] = page.items  # type: ignore[attr-defined]
        if route.single:
            return {singular: items[0]}
        total: int = page.total  # type: ignore[attr-defined]
        response.headers["X-Total-Count"] = str(total)
        response.headers["Link"] = _link_header(request, total, page.limit, page.offset, page.next_cursor)  # type: ignore[attr-defined]
        return {plural: items}

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("response", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Response),
        inspect.Parameter(
            "credential",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Credential, Depends(_credential_dependency(deps, route.scopes))],
        ),
    ]
    path_names = [name for name, _ in route.parents] + (["sourcedId"] if route.single else [])
    parameters += [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[str, Path(description="A sourcedId.", max_length=200)],
        )
        for name in path_names
    ]
    if not route.single:
        parameters += [
            inspect.Parameter(
                "limit",
                inspect.Parameter.KEYWORD_ONLY,
                default=DEFAULT_LIMIT,
                annotation=Annotated[int, Query(ge=1, le=2**31 - 1, description=f"Page size (served up to {MAX_LIMIT}).")],
            ),
            inspect.Parameter(
                "offset",
                inspect.Parameter.KEYWORD_ONLY,
                default=0,
                annotation=Annotated[int, Query(ge=0, le=2**31 - 1, description="Index of the first record.")],
            ),
            inspect.Parameter(
                "after", inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[str | None, Query(max_length=2000, description="Cursor of a next link (opaque; an extension): resumes after the previous page when offset is kept.")],
            ),
            inspect.Parameter(
                "sort", inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[str | None, Query(max_length=100, description="Field to sort by.")],
            ),
            inspect.Parameter(
                "orderBy", inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[str | None, Query(pattern="^(asc|desc)$", description="asc or desc.")],
            ),
            inspect.Parameter(
                "filter", inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[str | None, Query(max_length=2000, description="e.g. status='active' AND dateLastModified>'2026-01-01T00:00:00Z'.")],
            ),
        ]  # fmt: skip
    parameters.append(
        inspect.Parameter(
            "fields",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[list[str] | None, Query(description="Fields to return, comma-separated.")],
        )
    )
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=dict[str, Any])  # type: ignore[attr-defined]
    endpoint.__name__ = route.operation_id
    endpoint.__doc__ = (
        f"OneRoster 1.2 {route.operation_id} (scopes: {', '.join(s.rsplit('/', 1)[-1] for s in route.scopes)})."
    )
    return endpoint


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _token_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="oauth"'} if status == 401 else {}
    headers["Cache-Control"] = "no-store"
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


def _token_endpoint(deps: Deps) -> Callable[..., Any]:
    async def token(request: Request) -> Any:
        """OAuth 2.0 client credentials: exchange an API key for a short-lived OneRoster bearer token."""
        if not request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
            return _token_error(
                400, "invalid_request", "send the request form-encoded (application/x-www-form-urlencoded)"
            )
        try:
            form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return _token_error(400, "invalid_request", "the form body is not UTF-8")
        if form.get("grant_type") != "client_credentials":
            return _token_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        basic = _basic_credentials(request.headers.get("authorization"))
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if not client_id or not secret:
            return _token_error(
                401, "invalid_client", "authenticate with HTTP Basic (client_id:client_secret) or send both in the form"
            )

        def issue() -> tuple[str, Any]:
            with deps.session_factory.begin() as session:
                return issue_token(session, client_id, secret, form.get("scope"))

        address = request.client.host if request.client else None
        try:
            plaintext, issued = await anyio.to_thread.run_sync(
                lambda: deps.auth_guard.check(
                    deps.session_factory, face="oauth", address=address, presented=client_id, authenticate=issue
                )
            )
        except AuthThrottled as err:
            response = _token_error(429, "too_many_failures", err.message)
            response.headers["Retry-After"] = str(err.retry_after)
            return response
        except AuthenticationFailed:
            return _token_error(401, "invalid_client", "the client id and secret are not a valid, active API key")
        except InvalidScope as err:
            return _token_error(400, "invalid_scope", str(err))
        body = TokenResponse(
            access_token=plaintext,
            token_type="bearer",
            expires_in=int(TOKEN_TTL.total_seconds()),
            scope=" ".join(issued.scopes),
        )
        return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return token


FORM_SCHEMA = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "scope": {"type": "string", "description": "Space-separated: " + " ".join(ALL_SCOPES)},
        "client_id": {"type": "string", "description": "The API key prefix (or use HTTP Basic)."},
        "client_secret": {"type": "string", "description": "The rest of the API key (or the whole key)."},
    },
}


def build_oneroster_router(deps: Deps) -> APIRouter:
    """Routes for OneRoster 1.2 Rostering under BASE_PATH, plus the OAuth token endpoint."""
    router = APIRouter()
    for route in ROUTES:
        router.add_api_route(
            BASE_PATH + route.path,
            _endpoint(deps, route),
            methods=["GET"],
            operation_id=route.operation_id,
            tags=["OneRoster 1.2 rostering"],
            responses={**ERROR_RESPONSES, 200: {"description": f"{ENVELOPES[route.collection][0]} envelope",
                                                 "headers": {} if route.single else {"X-Total-Count": {"schema": {"type": "integer"}}, "Link": {"schema": {"type": "string"}}}}},
            summary=route.operation_id,
        )  # fmt: skip
    router.add_api_route(
        TOKEN_PATH,
        _token_endpoint(deps),
        methods=["POST"],
        operation_id="issueOAuthToken",
        tags=["OneRoster 1.2 rostering"],
        response_model=TokenResponse,
        responses={400: {"model": TokenError}, 401: {"model": TokenError}, 429: {"model": TokenError}},
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": FORM_SCHEMA}}}
        },
        summary="OAuth 2.0 client credentials token",
    )
    return router


__all__ = ["BASE_PATH", "ROUTES", "TOKEN_PATH", "build_oneroster_router"]
