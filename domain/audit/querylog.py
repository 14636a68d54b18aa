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

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import Organization, QueryLog, QueryOutcome
from domain.audit.chain import Chain, append, json_safe
from domain.errors import PermissionDenied
from policies.scope import Action, Actor, DataClass, Scope

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


def redact(value: Any, *, _key: str | None = None) -> Any:
    """`value` as JSON-safe data with secrets replaced by a marker (by argument name or by shape)."""
    if _key is not None and is_secret_name(_key):
        return None if value is None else REDACTED
    if isinstance(value, Mapping):
        return {str(k): redact(v, _key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, _key=_key) for v in value]
    safe = json_safe(value)
    if isinstance(safe, str):
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
        "capability": capability,
        "operation_id": actor.operation_id,
        "arguments": redact(dict(arguments or {})),
        "purpose": purpose[:500] if purpose else None,
        "student_ids_disclosed": sorted({str(s) for s in student_ids}),
        "row_count": row_count,
        "outcome": QueryOutcome(outcome),
        "error_code": error_code,
        "error_message": error_message[:MAX_TEXT] if error_message else None,
        "duration_us": int(duration_us),
        "sql_original": sql_original,
        "sql_executed": sql_executed,
    }
    (row,) = append(session, Chain.QUERY_LOG, [values])
    return LoggedEntry(seq=row["seq"], entry_hash=row["entry_hash"])


@dataclass(frozen=True)
class Disclosure:
    """One request that disclosed a student's records: who, when, through what, and why."""

    seq: int
    occurred_at: dt.datetime
    principal_email: str | None
    principal_kind: str | None
    capability: str
    purpose: str | None
    outcome: str


def list_disclosures(session: Session, scope: Scope, student_id: uuid.UUID, *, limit: int = 200) -> list[Disclosure]:
    """The query-log entries that disclosed `student_id`, newest first (FERPA 34 CFR 99.32 record).

    The query log is not org-scoped, so reading it takes audit read at every network root.

    Raises:
        PermissionDenied: the caller lacks audit read over the whole network.
    """
    roots = set(session.execute(select(Organization.id).where(Organization.parent_id.is_(None))).scalars())
    if not roots or not roots <= scope.orgs(DataClass.AUDIT, Action.READ):
        raise PermissionDenied("reading the query log takes audit read at the network root")
    needle = f'%"{uuid.UUID(str(student_id))}"%'
    # A text match on the JSON list narrows the scan portably; the exact check below decides.
    rows = session.execute(
        select(QueryLog)
        .where(cast(QueryLog.student_ids_disclosed, Text).like(needle))
        .order_by(QueryLog.seq.desc())
        .limit(limit)
    ).scalars()
    return [
        Disclosure(
            seq=row.seq,
            occurred_at=row.occurred_at,
            principal_email=row.principal_email,
            principal_kind=row.principal_kind,
            capability=row.capability,
            purpose=row.purpose,
            outcome=row.outcome.value,
        )
        for row in rows
        if str(student_id) in row.student_ids_disclosed
    ]
