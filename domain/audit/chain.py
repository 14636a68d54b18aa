"""Hash chains over the audit tables: canonical encoding, appending under a lock, verification.

entry_hash = SHA-256(0x00 || b"sis-audit-v1" || prev_hash (32 raw bytes) || canonical(record)),
where canonical(record) is JSON with sorted keys, no insignificant whitespace, UTF-8, and no
floats (durations are integer microseconds, money integer cents). The record is a fixed list
of fields per table (v1); a column added later is outside the hash until a new version says so.

Appending (`append`) reads the chain's head row with `UPDATE ... RETURNING` in the writer's transaction:
that takes the row lock on PostgreSQL and the database write lock on SQLite, so concurrent
writers queue behind each other instead of forking the chain, and a rolled-back transaction
gives its sequence numbers back (the chain stays gapless).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from db.base import utcnow
from db.models import AuditChainHead, ChangeEvent, QueryLog
from domain.errors import DomainError

HASH_VERSION = b"sis-audit-v1"
GENESIS_HASH = "0" * 64


class Chain(enum.StrEnum):
    CHANGE_EVENT = "change_event"
    QUERY_LOG = "query_log"


# The hashed fields of each chain, in v1. Never reorder or extend without a new HASH_VERSION.
HASHED_FIELDS: dict[Chain, tuple[str, ...]] = {
    Chain.CHANGE_EVENT: (
        "seq",
        "occurred_at",
        "actor_user_id",
        "actor_label",
        "entity_type",
        "entity_id",
        "org_id",
        "field",
        "old_value",
        "new_value",
        "reason",
        "operation_id",
    ),
    Chain.QUERY_LOG: (
        "seq",
        "occurred_at",
        "principal_user_id",
        "principal_email",
        "principal_kind",
        "auth_method",
        "api_key_prefix",
        "roles",
        "scope_summary",
        "policy_version",
        "capability",
        "operation_id",
        "arguments",
        "purpose",
        "student_ids_disclosed",
        "row_count",
        "outcome",
        "error_code",
        "error_message",
        "duration_us",
        "sql_original",
        "sql_executed",
    ),
}
# Columns deliberately outside the hash: the surrogate key and the chain links themselves.
UNHASHED_FIELDS: dict[Chain, frozenset[str]] = {
    Chain.CHANGE_EVENT: frozenset({"id", "prev_hash", "entry_hash"}),
    Chain.QUERY_LOG: frozenset({"prev_hash", "entry_hash"}),
}
TABLES: dict[Chain, Table] = {
    Chain.CHANGE_EVENT: ChangeEvent.__table__,  # type: ignore[dict-item]
    Chain.QUERY_LOG: QueryLog.__table__,  # type: ignore[dict-item]
}


class AuditChainUnavailable(DomainError):
    """The chain's head row is missing: the database was not migrated (fail closed, answer nothing)."""

    code = "audit_unavailable"
    status = 503


def json_safe(value: Any) -> Any:
    """`value` as plain JSON data with no floats: UUIDs, dates, enums and decimals become strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in an audit record")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float | decimal.Decimal):
        # Floats do not survive every encoder identically; their text does.
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _encode(safe: Any) -> bytes:
    return json.dumps(safe, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def canonical(record: Mapping[str, Any]) -> bytes:
    """The canonical encoding of one record: sorted-key compact JSON, UTF-8, no floats."""
    return _encode(json_safe(record))


def _hash(prev_hash: str, encoded: bytes) -> str:
    digest = hashlib.sha256(b"\x00" + HASH_VERSION)
    digest.update(bytes.fromhex(prev_hash))
    digest.update(encoded)
    return digest.hexdigest()


def entry_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """The hex SHA-256 linking `record` to the entry whose hash is `prev_hash`."""
    return _hash(prev_hash, canonical(record))


def record_of(chain: Chain, row: Any) -> dict[str, Any]:
    """The hashed fields of an ORM object, result row or mapping of `chain`, as JSON-safe values."""
    get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name)
    return {name: json_safe(get(name)) for name in HASHED_FIELDS[chain]}


# Built once: this runs on every audited call, and statement construction is not free.
_RESERVE = (
    update(AuditChainHead)
    .where(AuditChainHead.chain == bindparam("chain_name"))
    .values(seq=AuditChainHead.seq + bindparam("count", type_=Integer), updated_at=bindparam("now"))
    .returning(AuditChainHead.seq, AuditChainHead.entry_hash)
)
_SET_HEAD = (
    update(AuditChainHead)
    .where(AuditChainHead.chain == bindparam("chain_name"))
    .values(entry_hash=bindparam("head_hash"))
)


@functools.cache
def _insert_and_move_head(chain: Chain) -> Executable:
    """INSERT one entry and move the head in one round trip (PostgreSQL runs a data-modifying CTE
    whether or not the outer statement reads it)."""
    table = TABLES[chain]
    values = {c.name: bindparam(f"v_{c.name}", type_=c.type) for c in table.c if c.name != "id"}
    inserted = table.insert().values(values).returning(table.c.seq).cte(f"new_{chain.value}")
    return _SET_HEAD.add_cte(inserted)


def _reserve(session: Session, chain: Chain, count: int) -> tuple[int, str]:
    """Advance the head by `count` under its lock; returns (first new seq, hash of the entry before it)."""
    head = (
        session.connection()
        .execute(_RESERVE, {"chain_name": chain.value, "count": count, "now": utcnow()})
        .one_or_none()
    )
    if head is None:
        raise AuditChainUnavailable(f"audit chain {chain.value!r} has no head row; run the migrations")
    new_seq, prev_hash = head
    return int(new_seq) - count + 1, str(prev_hash)


def append(session: Session, chain: Chain, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert `records` (column values of `chain`, seq and hashes left out) as the next chained entries.

    Runs on the session's connection in its transaction; pending ORM changes are flushed first
    so that foreign keys of the new rows resolve. Returns the rows as inserted.
    """
    if not records:
        return []
    session.flush()
    seq, prev = _reserve(session, chain, len(records))
    rows = []
    for values in records:
        row = {**values, "seq": seq}
        row["prev_hash"] = prev
        row["entry_hash"] = prev = _hash(prev, _encode(record_of(chain, row)))
        rows.append(row)
        seq += 1
    connection = session.connection()
    head = {"chain_name": chain.value, "head_hash": prev}
    if connection.dialect.name == "postgresql" and len(rows) == 1:
        connection.execute(_insert_and_move_head(chain), {**{f"v_{k}": v for k, v in rows[0].items()}, **head})
    else:
        connection.execute(TABLES[chain].insert(), rows)
        connection.execute(_SET_HEAD, head)
    return rows


@dataclass(frozen=True)
class VerifyResult:
    chain: Chain
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None


def _rows(session: Session, chain: Chain) -> Iterator[Any]:
    table = TABLES[chain]
    stmt = select(*table.c).order_by(table.c.seq).execution_options(yield_per=2000)
    yield from session.execute(stmt)


def verify_chain(session: Session, chain: Chain) -> VerifyResult:
    """Walk `chain` in seq order and report the first link that is missing, altered or out of place."""
    head = session.execute(
        select(AuditChainHead.seq, AuditChainHead.entry_hash).where(AuditChainHead.chain == chain.value)
    ).one_or_none()
    head_seq = int(head[0]) if head else None
    head_hash = str(head[1]) if head else None

    def broken(seq: int | None, reason: str, checked: int) -> VerifyResult:
        return VerifyResult(chain, False, checked, seq, reason, head_seq, head_hash)

    expected, prev, checked = 1, GENESIS_HASH, 0
    for row in _rows(session, chain):
        if row.seq != expected:
            if row.seq > expected:
                return broken(expected, f"entry {expected} is missing (the next entry is {row.seq})", checked)
            return broken(row.seq, f"entry {row.seq} appears out of order after entry {expected - 1}", checked)
        if row.prev_hash != prev:
            return broken(
                row.seq,
                f"entry {row.seq} does not link to entry {row.seq - 1} "
                "(prev_hash differs: an entry was inserted, removed, reordered or rewritten)",
                checked,
            )
        if entry_hash(prev, record_of(chain, row)) != row.entry_hash:
            return broken(row.seq, f"entry {row.seq} was altered (its contents do not match entry_hash)", checked)
        prev, expected, checked = row.entry_hash, expected + 1, checked + 1
    last = expected - 1
    if head is None:
        return broken(None, "the chain head row is missing", checked)
    if head_seq is not None and head_seq > last:
        return broken(last + 1, f"entry {last + 1} is missing (the chain head records {head_seq} entries)", checked)
    if head_seq is not None and head_seq < last:
        return broken(head_seq + 1, f"entry {head_seq + 1} lies beyond the chain head ({head_seq})", checked)
    if head_hash != prev:
        return broken(last or None, f"entry {last} differs from the hash recorded in the chain head", checked)
    return VerifyResult(chain, True, checked, None, None, head_seq, head_hash)
