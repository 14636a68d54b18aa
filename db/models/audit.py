"""The two audit trails (change events and the query log) and the head row of each hash chain.

Both trails are append-only and hash-chained (see domain/audit/chain.py): every entry holds a
gapless per-chain `seq`, the previous entry's hash and its own hash. The head row of each chain
is updated in the same transaction as the append, which serialises concurrent writers on both
engines (the UPDATE takes the row lock on PostgreSQL and the write lock on SQLite).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigIntPK, utcnow
from db.models._types import str_enum

# BIGINT on PostgreSQL, INTEGER on SQLite (where INTEGER is already 64-bit).
BigIntSeq = BigInteger().with_variant(Integer(), "sqlite")


class ChangeEvent(Base):
    __tablename__ = "change_event"
    __table_args__ = (Index("ix_change_event_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(254))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization.id"))
    field: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(300))
    # Groups the events of one write (one capability call).
    operation_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(BigIntSeq, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class QueryOutcome(enum.StrEnum):
    OK = "ok"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    ERROR = "error"


class QueryLog(Base):
    """One capability call (tool, REST read, SQL statement): who asked what, why, and what was disclosed."""

    __tablename__ = "query_log"

    seq: Mapped[int] = mapped_column(BigIntSeq, primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(index=True)
    # No foreign keys: the log outlives the users and keys it names.
    principal_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    principal_email: Mapped[str | None] = mapped_column(String(254))
    principal_kind: Mapped[str | None] = mapped_column(String(20))
    auth_method: Mapped[str | None] = mapped_column(String(20))
    api_key_prefix: Mapped[str | None] = mapped_column(String(40))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    # Org paths per "data_class:action", as decided for this call.
    scope_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    capability: Mapped[str] = mapped_column(String(100), index=True)
    operation_id: Mapped[str | None] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # FERPA 34 CFR 99.32(a)(3): the requester's legitimate interest.
    purpose: Mapped[str | None] = mapped_column(String(500))
    student_ids_disclosed: Mapped[list[Any]] = mapped_column(default=list)
    row_count: Mapped[int | None]
    outcome: Mapped[QueryOutcome] = mapped_column(str_enum(QueryOutcome))
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_message: Mapped[str | None] = mapped_column(Text)
    duration_us: Mapped[int] = mapped_column(BigIntSeq, default=0)
    sql_original: Mapped[str | None] = mapped_column(Text)
    sql_executed: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last seq and hash of one chain; a row exists per chain from the migration on."""

    __tablename__ = "audit_chain_head"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigIntSeq, default=0)
    entry_hash: Mapped[str] = mapped_column(String(64))
    # The hash of the entry before the head entry: lets one UPDATE ... RETURNING hand an appender
    # both links of the entry it writes (see domain/audit/chain.py).
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
