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

from sqlalchemy import (
    JSON,
    Column,
    Dialect,
    Integer,
    LargeBinary,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import ColumnElement

from db.base import utcnow
from db.freshness import drop_tokens
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


# json's own string encoder (the C one when available): what json.dumps(..., ensure_ascii=False) writes for a str.
_encode_string = json.encoder.encode_basestring


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


def _encode_value(safe: Any) -> bytes:
    """`_encode` of one JSON-safe value, with the common scalars done directly (this is per field, per entry)."""
    if safe is None:
        return b"null"
    if safe is True:
        return b"true"
    if safe is False:
        return b"false"
    if type(safe) is int:
        return str(safe).encode()
    if type(safe) is str:
        return _encode_string(safe).encode("utf-8")
    return _encode(safe)


def _encoded_fields(chain: Chain, record: Mapping[str, Any]) -> dict[str, bytes]:
    """Each hashed field but the seq as its canonical JSON text (sorted keys, compact, UTF-8)."""
    return {name: _encode_value(json_safe(record.get(name))) for name in HASHED_FIELDS[chain] if name != "seq"}


@functools.cache
def _keys_around_seq(names: tuple[str, ...]) -> tuple[tuple[tuple[str, bytes], ...], tuple[tuple[str, bytes], ...]]:
    """The encoded `"name":` of each field, sorted, split into those before "seq" and those after."""
    keyed = [(name, json.dumps(name).encode() + b":") for name in sorted(names)]
    return tuple(k for k in keyed if k[0] < "seq"), tuple(k for k in keyed if k[0] > "seq")


def _around_seq(encoded: Mapping[str, bytes]) -> tuple[bytes, bytes]:
    # A sorted-key object is its "key":value pairs in key order, so it can be joined from parts.
    first, last = _keys_around_seq(tuple(encoded))
    before = b",".join(key + encoded[name] for name, key in first)
    after = b",".join(key + encoded[name] for name, key in last)
    prefix = b"{" + before + (b"," if before else b"") + b'"seq":'
    suffix = (b"," + after if after else b"") + b"}"
    return prefix, suffix


def canonical_around_seq(chain: Chain, record: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The canonical encoding of `record` split at its seq value: canonical = prefix + str(seq) + suffix.

    Keys are encoded in sorted order, so the fields before "seq" and after it encode on their
    own; this lets the database put the seq it assigns under the head lock into the hashed bytes.
    """
    return _around_seq(_encoded_fields(chain, record))


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
    .values(entry_hash=bindparam("head_hash"), prev_hash=bindparam("head_prev_hash"))
)


@functools.cache
def _inserted_columns(chain: Chain) -> tuple[Column[Any], ...]:
    """The columns an appender supplies: all but the surrogate key, the seq and the links."""
    return tuple(c for c in TABLES[chain].c if c.name not in UNHASHED_FIELDS[chain] and c.name != "seq")


@functools.cache
def _append_one_statement(chain: Chain) -> ReturningInsert[tuple[int, str, str]]:
    """One entry in one statement (PostgreSQL): move the head, hash, insert.

    The UPDATE computes the new entry's hash in its SET clause from the old head values (the
    SET expressions read the row as it was, after the row lock is taken), keeps the old hash
    as prev_hash, and returns all three links; the INSERT takes them from the UPDATE's RETURNING.
    Python supplies the canonical bytes around the seq (`canonical_around_seq`), so the bytes
    hashed here are exactly those `entry_hash` hashes when verifying.
    """
    head = AuditChainHead.__table__.c
    hex_: ColumnElement[str] = literal_column("'hex'")
    utf8: ColumnElement[str] = literal_column("'UTF8'")
    new_seq = head.seq + literal_column("1")
    hashed = (
        bindparam("lead", type_=LargeBinary)
        .op("||")(func.decode(head.entry_hash, hex_))
        .op("||")(bindparam("prefix", type_=LargeBinary))
        .op("||")(func.convert_to(cast(new_seq, Text), utf8))
        .op("||")(bindparam("suffix", type_=LargeBinary))
    )
    moved = (
        update(AuditChainHead)
        .where(head.chain == bindparam("chain_name"))
        .values(
            seq=new_seq,
            prev_hash=head.entry_hash,
            entry_hash=func.encode(func.sha256(hashed), hex_),
            updated_at=bindparam("now"),
        )
        .returning(head.seq, head.prev_hash, head.entry_hash)
        .cte(f"head_{chain.value}")
    )
    table = TABLES[chain]
    columns = _inserted_columns(chain)
    values = select(
        moved.c.seq,
        moved.c.prev_hash,
        moved.c.entry_hash,
        *(bindparam(f"v_{c.name}", type_=c.type) for c in columns),
    )
    return (
        table.insert()
        .from_select(["seq", "prev_hash", "entry_hash", *(c.name for c in columns)], values)
        .returning(table.c.seq, table.c.prev_hash, table.c.entry_hash)
    )


@dataclass(frozen=True)
class _DriverStatement:
    """`_append_one_statement` compiled once for a dialect, with how to turn values into driver params."""

    sql: str
    json_columns: frozenset[str]


@functools.cache
def _driver_statement(chain: Chain, dialect: Dialect) -> _DriverStatement:
    json_columns = frozenset(c.name for c in _inserted_columns(chain) if isinstance(c.type, JSON))
    return _DriverStatement(str(_append_one_statement(chain).compile(dialect=dialect)), json_columns)


def _append_one(session: Session, chain: Chain, values: Mapping[str, Any]) -> dict[str, Any]:
    """Append one entry in one statement, sent as precompiled SQL straight to the driver.

    This runs on every audited call, so it skips SQLAlchemy's per-execution work (the statement
    cache-key walk alone is about 0.2 ms for this CTE). Each field is encoded once: its canonical
    JSON goes into the hashed bytes and, for JSON columns, is the stored text itself (so what is
    stored re-encodes to exactly what was hashed); enums go as their values.
    """
    connection = session.connection()
    statement = _driver_statement(chain, connection.dialect)
    encoded = _encoded_fields(chain, values)
    prefix, suffix = _around_seq(encoded)
    params: dict[str, Any] = {}
    for column in _inserted_columns(chain):
        value = values.get(column.name)
        if column.name in statement.json_columns:
            value = (encoded.get(column.name) or _encode(json_safe(value))).decode("utf-8")
        elif isinstance(value, enum.Enum):
            value = value.value
        params[f"v_{column.name}"] = value
    params |= {
        "chain_name": chain.value,
        "now": utcnow(),
        "lead": b"\x00" + HASH_VERSION,
        "prefix": prefix,
        "suffix": suffix,
    }
    driver = connection.connection.driver_connection
    assert driver is not None, "a checked-out connection has its driver connection"
    drop_tokens(connection)  # a write the freshness listener does not see (db/freshness.py)
    with driver.cursor() as cursor:
        cursor.execute(statement.sql, params)
        link = cursor.fetchone()
    if link is None:
        raise AuditChainUnavailable(f"audit chain {chain.value!r} has no head row; run the migrations")
    seq, prev_hash, new_hash = link
    return {**values, "seq": int(seq), "prev_hash": str(prev_hash), "entry_hash": str(new_hash)}


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

    One entry on PostgreSQL is one statement (the head lock, hash and insert together); otherwise
    the head is advanced under its lock, the hashes computed here, and the rows inserted.
    """
    if not records:
        return []
    session.flush()
    if session.connection().dialect.name == "postgresql" and len(records) == 1:
        return [_append_one(session, chain, records[0])]
    seq, prev = _reserve(session, chain, len(records))
    rows = []
    for values in records:
        row = {**values, "seq": seq}
        row["prev_hash"] = prev
        row["entry_hash"] = prev = _hash(prev, _encode(record_of(chain, row)))
        rows.append(row)
        seq += 1
    connection = session.connection()
    connection.execute(TABLES[chain].insert(), rows)
    connection.execute(
        _SET_HEAD, {"chain_name": chain.value, "head_hash": prev, "head_prev_hash": rows[-1]["prev_hash"]}
    )
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
