"""The query log: one hash-chained entry per capability call, including denials.

FERPA 34 CFR 99.32 asks for a record of each request for and disclosure of a student's
education records, with the party and its legitimate interest. An entry therefore names the
principal, the scope it was decided with, the capability and its (redacted) arguments, the
caller's stated `purpose`, and the ids of the students whose records the answer disclosed.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import QueryOutcome
from domain.audit.chain import Chain, append, json_safe
from policies.scope import Actor, Scope

REDACTED = "[redacted]"
# Argument names whose values never reach the log: long words anywhere in the name, short ones
# only as a whole snake_case part (so "classname" keeps its value but "student_ssn" does not).
_SECRET_WORDS = re.compile(
    r"password|passphrase|passwd|secret|token|api_?key|authori[sz]ation|bearer|cookie|credential"
    r"|private_?key|card|account_?number|routing_?number|session_?id"
)
_SECRET_PARTS = frozenset({"pin", "pan", "cvv", "cvc", "iban", "ssn", "otp", "pwd"})
# Values that look like our own API keys or bearer headers, wherever they appear.
_SECRET_VALUE = re.compile(r"(sis_[a-z]+_[0-9a-f]{8}_[A-Za-z0-9_-]{20,})|(^bearer\s+\S+)", re.IGNORECASE)
MAX_TEXT = 20_000


def is_secret_name(name: str) -> bool:
    """True when an argument called `name` holds a credential or payment secret."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")
    return bool(_SECRET_WORDS.search(snake)) or not _SECRET_PARTS.isdisjoint(snake.split("_"))


def storable(text: str) -> str:
    """`text` as any text column stores it: NUL (which PostgreSQL refuses) written as a visible `\\x00`."""
    return text.replace("\x00", "\\x00")


def _storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)


def redact(value: Any, *, _key: str | None = None) -> Any:
    """`value` as JSON-safe data with secrets replaced by a marker (by argument name or by shape).

    Any input can be logged: NUL in a key or a value is written visibly rather than failing the insert.
    """
    if _key is not None and is_secret_name(_key):
        return None if value is None else REDACTED
    if isinstance(value, Mapping):
        return {storable(str(k)): redact(v, _key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, _key=_key) for v in value]
    safe = json_safe(value)
    if isinstance(safe, str):
        safe = storable(safe)
        if _SECRET_VALUE.search(safe):
            return REDACTED
        if len(safe) > MAX_TEXT:
            return safe[:MAX_TEXT] + "…"
    return safe


@dataclass(frozen=True)
class LoggedEntry:
    """Where an entry landed in the chain (seq) and its hash, e.g. to quote in a response."""

    seq: int
    entry_hash: str


def record_query(
    session: Session,
    actor: Actor,
    *,
    capability: str,
    scope: Scope | None = None,
    arguments: Mapping[str, Any] | None = None,
    purpose: str | None = None,
    student_ids: Iterable[uuid.UUID | str] = (),
    row_count: int | None = None,
    outcome: QueryOutcome = QueryOutcome.OK,
    error_code: str | None = None,
    error_message: str | None = None,
    duration_us: int = 0,
    sql_original: str | None = None,
    sql_executed: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> LoggedEntry:
    """Append one chained query-log entry in the caller's transaction (commit it with the answer).

    `scope` is None when the call was refused before a scope existed (e.g. bad credentials).
    """
    values = {
        "occurred_at": occurred_at or utcnow(),
        "principal_user_id": actor.user_id,
        "principal_email": actor.label,
        "principal_kind": actor.kind,
        "auth_method": actor.auth_method,
        "api_key_prefix": actor.api_key_prefix,
        "roles": sorted(set(scope.roles)) if scope else [],
        "scope_summary": json_safe(dict(scope.summary)) if scope else {},
        "policy_version": (scope.policy_version or None) if scope else None,
        "capability": storable(capability)[:100],
        "operation_id": actor.operation_id,
        "arguments": redact(dict(arguments or {})),
        "purpose": storable(purpose)[:500] if purpose else None,
        "student_ids_disclosed": sorted({str(s) for s in student_ids}),
        "row_count": row_count,
        "outcome": QueryOutcome(outcome),
        "error_code": error_code,
        "error_message": storable(error_message)[:MAX_TEXT] if error_message else None,
        "duration_us": int(duration_us),
        "sql_original": _storable_or_none(sql_original),
        "sql_executed": _storable_or_none(sql_executed),
    }
    (row,) = append(session, Chain.QUERY_LOG, [values])
    return LoggedEntry(seq=row["seq"], entry_hash=row["entry_hash"])
