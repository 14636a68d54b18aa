"""Requests the HTTP faces refused before the runner (FastAPI validation) still leave a query-log entry,
at most `per_minute` of them per source address, so nobody can flood the chain.

The limit is in-process (one per app) and counts what it leaves out; the next entry from that
address records the count as `dropped_before`, and the server log says so when it happens.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable

from fastapi import Request
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from db.engine import is_lock_timeout, read_transaction
from db.models import QueryOutcome
from domain.audit.requests import anonymous_actor, key_prefix, record_unrun_request
from domain.errors import DomainError
from mcp_server.oneroster.oauth import authenticate_oneroster
from policies.scope import Actor
from policies.throttle import RecordBudget
from tools.runner import Deps

log = logging.getLogger("sis.http")
WINDOW_SECONDS = 60.0
# Addresses remembered at most; past it, windows that ended are forgotten.
_MAX_ADDRESSES = 10_000


class RequestLogLimit:
    """At most `per_minute` entries per address in each minute; what is left out is counted
    (the same budget that bounds failed sign-ins' entries, policies/throttle.py RecordBudget)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._budget = RecordBudget(
            per_minute, overall=sys.maxsize, window=WINDOW_SECONDS, size=_MAX_ADDRESSES, clock=clock
        )

    def admit(self, address: str) -> int | None:
        """None when this request's entry is dropped; else how many were dropped before it (0 usually)."""
        admitted, dropped = self._budget.admit(address)
        if not admitted:
            if self._budget.dropped_in_window(address) == 1:
                log.warning("query-log entries of refused requests from %s are being rate-limited", address)
            return None
        return dropped


def _caller(deps: Deps, request: Request, face: str) -> Actor:
    """The caller's actor when the request's credential is valid, else anonymous with the key prefix.

    The credential is checked through the same AuthGuard as every face: a wrong key presented with an
    invalid request counts toward its address's and prefix's failure budget and is recorded as a failed
    sign-in, and an address that must wait is not checked at all.
    """
    authorization = request.headers.get("authorization")
    if authorization:

        def authenticate() -> Actor:
            with read_transaction(deps.session_factory) as session:
                return authenticate_oneroster(session, authorization).principal.actor()

        with contextlib.suppress(DomainError):
            return deps.auth_guard.check(
                deps.session_factory,
                face=face,
                address=request.client.host if request.client else None,
                presented=authorization,
                authenticate=authenticate,
            )
    return anonymous_actor(api_key_prefix=key_prefix(authorization))


def _capability(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "operation_id", None) or f"{request.method} {getattr(route, 'path', request.url.path)}"


def _record(deps: Deps, request: Request, fields: list[str], message: str, dropped: int, channel: str) -> None:
    actor = _caller(deps, request, channel)
    arguments = {"channel": channel, "path": request.url.path, "fields": fields}
    try:
        with deps.session_factory.begin() as session:
            record_unrun_request(
                session,
                actor,
                capability=_capability(request),
                outcome=QueryOutcome.INVALID,
                error_code="invalid_input",
                error_message=message,
                arguments=arguments,
                dropped=dropped,
            )
    except OperationalError as err:
        if not is_lock_timeout(err):
            raise
        log.warning("invalid request to %s refused while SQLite was busy; no query-log entry", request.url.path)


async def log_invalid_request(request: Request, fields: list[str], message: str, *, channel: str) -> None:
    """Record a request FastAPI refused (outcome invalid), unless its address is over the limit."""
    deps: Deps | None = getattr(request.app.state, "deps", None)
    limit: RequestLogLimit | None = getattr(request.app.state, "request_log_limit", None)
    if deps is None or limit is None:
        return
    address = request.client.host if request.client else "unknown"
    dropped = limit.admit(address)
    if dropped is not None:
        await run_in_threadpool(_record, deps, request, fields, message, dropped, channel)
