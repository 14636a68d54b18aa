"""The domain-event outbox and the webhook machinery that delivers it.

A domain event is written in the same transaction as the change it describes. Events get their
public `position` (the pull cursor) only when published: publishing runs under the lock of the
`outbox_cursor` row, so positions follow commit visibility and a consumer reading "after N"
never misses an event that committed late. Deliveries are claimed with a lease, so a dispatcher
that dies mid-delivery leaves a row another dispatcher picks up after the lease expires.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigIntPK, UUIDPrimaryKey, utcnow
from db.models._types import str_enum

BigIntCol = BigInteger().with_variant(Integer(), "sqlite")


class DomainEvent(Base):
    """One thing that happened (enrollment.created, ...), written with the change that caused it."""

    __tablename__ = "domain_event"
    __table_args__ = (Index("ix_domain_event_unpublished", "position", "seq"),)

    # Insertion order; the public cursor is `position`.
    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # The id consumers deduplicate by (also sent as the webhook event id).
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(80), index=True)
    # The data class a reader must hold at org_id to see the event (policies.scope.DataClass value).
    data_class: Mapped[str] = mapped_column(String(32))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Null until published; then gapless and increasing in commit-visibility order.
    position: Mapped[int | None] = mapped_column(BigIntCol, unique=True)
    published_at: Mapped[dt.datetime | None]


class OutboxCursor(Base):
    """Named counters whose row lock serialises publishing and webhook fan-out."""

    __tablename__ = "outbox_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigIntCol, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookSubscription(UUIDPrimaryKey, Base):
    """An org's request to receive some event types at a URL, signed with its secret."""

    __tablename__ = "webhook_subscription"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Sealed (domain/webhooks/sealing.py): signing needs the secret itself, so it is encrypted, not hashed.
    secret: Mapped[str] = mapped_column(String(500))
    # After a rotation, the previous secret (sealed) also signs deliveries until this moment.
    previous_secret: Mapped[str | None] = mapped_column(String(500))
    previous_secret_expires_at: Mapped[dt.datetime | None]
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    # The API key it was created with: deliveries stop when that key is revoked or expires.
    created_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deactivated_at: Mapped[dt.datetime | None]


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # gave up after the last retry


class WebhookDelivery(UUIDPrimaryKey, Base):
    """One event owed to one subscription; unique per pair, so fan-out never duplicates."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscription.id"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domain_event.id"))
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A claim: the dispatcher holding the row and until when; an expired lease may be taken over.
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    """Every delivery attempt, successful or not (the attempt log)."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_delivery.id"), index=True)
    attempt_no: Mapped[int]
    dispatcher: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[dt.datetime]
    duration_ms: Mapped[int]
    status_code: Mapped[int | None]
    succeeded: Mapped[bool]
    error: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str | None] = mapped_column(Text)


class OAuthToken(UUIDPrimaryKey, Base):
    """A short-lived bearer token issued for an API key (OAuth 2.0 client credentials)."""

    __tablename__ = "oauth_token"

    # "sis_oat_ab12cd34": finds the row; the whole token is stored only as its SHA-256.
    prefix: Mapped[str] = mapped_column(String(40), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_key.id"), index=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class IdempotencyRecord(Base):
    """A client-supplied Idempotency-Key and the response it produced, per credential."""

    __tablename__ = "idempotency_record"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    method_path: Mapped[str] = mapped_column(String(300))
    status_code: Mapped[int | None]
    response: Mapped[dict[str, Any] | None] = mapped_column()
    # While a first request runs, later ones with the same key wait or are told it is in progress.
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
