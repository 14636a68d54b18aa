"""Idempotency-Key for REST writes: the first response to a key is stored and replayed for retries.

A key belongs to the credential that used it (API key, else user). The same key with a different
request is refused (422); while the first request still runs, a retry is told to wait (409). A
request that died without an answer leaves a lock that expires after LOCK_FOR, after which a
retry runs it again (the domain's own rules, e.g. EnrollmentOverlap, then refuse a duplicate).
Answers of 5xx are never stored, so a retry after a server failure runs again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from db.base import utcnow
from db.models import IdempotencyRecord
from domain.audit.querylog import is_secret_name
from mcp_server.rest.errors import ApiError
from policies.principal import Principal
from tools.runner import Deps

LOCK_FOR = dt.timedelta(seconds=60)
HEADER = "Idempotency-Key"
MAX_KEY = 200

# The header as a route parameter.
KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        max_length=MAX_KEY,
        description="Any unique string; a retry with the same key gets the first answer instead of a second write.",
    ),
]


@dataclass(frozen=True)
class Stored:
    status_code: int
    body: Any


def owner_of(principal: Principal) -> str:
    """Whose key space a request uses: its API key, else its user."""
    return f"key:{principal.api_key_id}" if principal.api_key_id else f"user:{principal.user_id}"


def fingerprint(method: str, path: str, body: Any) -> str:
    """A hash of what the request asks, to tell a retry from a different request under the same key."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def start(deps: Deps, principal: Principal, key: str, method_path: str, request_hash: str) -> Stored | None:
    """The stored answer for this key, or None after taking the key's lock for a first run.

    Raises:
        ApiError: the key is malformed, reused for another request (422), or its first request still runs (409).
    """
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise ApiError(400, "invalid_idempotency_key", f"{HEADER} must be 1..{MAX_KEY} characters", field=HEADER)
    owner, now = owner_of(principal), utcnow()
    try:
        with deps.session_factory.begin() as session:
            record = session.get(IdempotencyRecord, (owner, key), with_for_update=True)
            if record is None:
                session.add(
                    IdempotencyRecord(
                        owner=owner,
                        key=key,
                        request_hash=request_hash,
                        method_path=method_path,
                        locked_until=now + LOCK_FOR,
                        created_at=now,
                    )
                )
                session.flush()
                return None
            if record.request_hash != request_hash or record.method_path != method_path:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    f"{HEADER} {key!r} was used for a different request; use a new key for a new request",
                    field=HEADER,
                )
            if record.status_code is not None:
                return Stored(record.status_code, record.response)
            if record.locked_until is not None and record.locked_until > now:
                raise ApiError(409, "idempotency_in_progress", f"a request with {HEADER} {key!r} is still running")
            record.locked_until = now + LOCK_FOR
            return None
    except IntegrityError:
        raise ApiError(409, "idempotency_in_progress", f"a request with {HEADER} {key!r} is still running") from None


def finish(deps: Deps, principal: Principal, key: str, status_code: int, body: Any) -> None:
    """Store the answer of a first run (5xx answers are dropped, so that a retry runs again)."""
    with deps.session_factory.begin() as session:
        record = session.get(IdempotencyRecord, (owner_of(principal), key.strip()), with_for_update=True)
        if record is None:
            return
        if status_code >= 500:
            session.delete(record)
            return
        record.status_code = status_code
        record.response = without_secrets(body)
        record.locked_until = None
        record.completed_at = utcnow()


# What a replay says in place of a secret the first answer showed once (it is never stored).
NOT_REPLAYED = "[shown only in the first answer; not stored, so not replayed]"


def without_secrets(body: Any) -> Any:
    """The answer as stored for replays: values of secret-named fields (a signing secret) replaced."""
    if isinstance(body, dict):
        return {k: NOT_REPLAYED if is_secret_name(str(k)) and v else without_secrets(v) for k, v in body.items()}
    if isinstance(body, list):
        return [without_secrets(v) for v in body]
    return body


def respond_once(
    deps: Deps,
    principal: Principal,
    key: str | None,
    request: Request,
    payload: Any,
    run: Callable[[], tuple[int, Any]],
) -> JSONResponse:
    """Answer with `run() -> (status, body)`, once per key: a retry gets the stored answer (or every time without a key)."""
    if key is None:
        status, body = run()
        return JSONResponse(body, status_code=status)
    method_path = f"{request.method} {request.url.path}"
    stored = start(deps, principal, key, method_path, fingerprint(request.method, request.url.path, payload))
    if stored is not None:
        return JSONResponse(stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})
    try:
        status, body = run()
    except Exception:
        finish(deps, principal, key, 500, None)
        raise
    finish(deps, principal, key, status, body)
    return JSONResponse(body, status_code=status)
