"""Failed authentications in the query log: who tried (the source address, the key prefix
presented, never the secret), on which face, and why they were turned away.

The caller decides how many reach the chain (tools/auth_guard.py rate-limits per address), so a
flood of wrong keys cannot fill it; the entries it drops are summed up in one entry of their own.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from db.models import QueryOutcome
from domain.audit.querylog import LoggedEntry
from domain.audit.requests import anonymous_actor, record_unrun_request


def record_auth_failure(
    session: Session,
    *,
    face: str,
    address: str | None,
    key_prefix: str | None,
    code: str,
    message: str,
    outcome: QueryOutcome = QueryOutcome.DENIED,
    dropped: int = 0,
) -> LoggedEntry:
    """One query-log entry `auth:<face>` for a refused credential (or, with `dropped`, for N refusals not logged)."""
    actor = replace(
        anonymous_actor(api_key_prefix=key_prefix, auth_method=face),
        label=f"unauthenticated ({address or 'unknown address'})",
    )
    arguments: dict[str, object] = {"source_address": address, "key_prefix": key_prefix}
    if dropped:
        arguments["dropped"] = dropped
        message = f"{dropped} further authentication failures from {address} dropped from the log"
    return record_unrun_request(
        session,
        actor,
        capability=f"auth:{face}",
        outcome=outcome,
        error_code=code,
        error_message=message,
        arguments=arguments,
    )
