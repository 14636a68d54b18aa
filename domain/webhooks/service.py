"""Webhook subscriptions (per org: URL, secret, event types) and their delivery log, scoped like everything else."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import DeliveryStatus, DomainEvent, Organization, WebhookAttempt, WebhookDelivery, WebhookSubscription
from domain.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from domain.events import event_class, to_read
from domain.webhooks.config import WebhookConfig
from domain.webhooks.urls import check_url
from policies.scope import Action, DataClass, Scope

ALL_EVENTS = "*"
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$")
MAX_SUBSCRIPTIONS_PAGE = 200


class CreateSubscriptionInput(BaseModel):
    org_id: uuid.UUID = Field(description="The org whose events (its whole subtree) are delivered.")
    url: str = Field(
        min_length=8,
        max_length=2000,
        description="A public https URL that accepts POSTed JSON (no credentials, no private or loopback host).",
    )
    event_types: list[str] = Field(
        min_length=1, max_length=50, description="Event types, e.g. ['enrollment.created'], or ['*'] for all."
    )
    description: str | None = Field(default=None, max_length=300, description="What the receiver is.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an absolute http or https URL")
        return value.strip()

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if t != ALL_EVENTS and not _EVENT_TYPE.match(t)]
        if bad:
            raise ValueError(f"event types look like 'area.verb' (or '*'): {', '.join(bad)}")
        return sorted(set(value))


class TooManySubscriptions(DomainError):
    code = "too_many_subscriptions"
    status = 409


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    url: str | None = Field(
        description="Where deliveries go; shown only to those who may manage the org's subscriptions (null otherwise)."
    )
    event_types: list[str]
    description: str | None
    is_active: bool
    created_at: dt.datetime
    pending_deliveries: int = 0
    failed_deliveries: int = 0


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="The signing secret: shown only now; store it to verify SIS-Signature.")


class SubscriptionPage(BaseModel):
    items: list[SubscriptionRead]


class AttemptRead(BaseModel):
    attempt_no: int
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None
    succeeded: bool
    error: str | None
    response_excerpt: str | None = Field(default=None, description="The start of the receiver's answer.")


class DeliveryRead(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[AttemptRead]
    event: dict[str, Any] | None = Field(
        default=None,
        description="The event as its body carries it; null when you may not read that event's data class.",
    )


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    total: int


def subscription_in_scope(
    session: Session, scope: Scope, subscription_id: uuid.UUID, action: Action
) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None or not scope.allows_org(sub.org_id, DataClass.DIRECTORY, Action.READ):
        raise NotFound(f"webhook subscription {subscription_id} not found", field="subscription_id")
    if action is Action.WRITE and not scope.allows_org(sub.org_id, DataClass.DIRECTORY, Action.WRITE):
        raise PermissionDenied("your role may not change webhook subscriptions of this org", field="subscription_id")
    return sub


def _read(session: Session, sub: WebhookSubscription, scope: Scope | None = None) -> SubscriptionRead:
    """The subscription as `scope` may see it: its URL only for a manager of its org (None: the creator)."""
    counts = dict(
        session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.subscription_id == sub.id)
            .group_by(WebhookDelivery.status)
        ).all()
    )
    return SubscriptionRead(
        id=sub.id,
        org_id=sub.org_id,
        url=sub.url if scope is None or scope.allows_org(sub.org_id, DataClass.DIRECTORY, Action.WRITE) else None,
        event_types=list(sub.event_types),
        description=sub.description,
        is_active=sub.is_active,
        created_at=sub.created_at,
        pending_deliveries=counts.get(DeliveryStatus.PENDING, 0),
        failed_deliveries=counts.get(DeliveryStatus.FAILED, 0),
    )


def create_subscription(
    session: Session,
    scope: Scope,
    data: CreateSubscriptionInput,
    *,
    config: WebhookConfig,
    api_key_id: uuid.UUID | None = None,
) -> SubscriptionCreated:
    """Subscribe an org's subtree to event types; each type must be readable by the caller at that org.

    A subscription made with an API key delivers only while that key is valid (`api_key_id`).

    Raises:
        BlockedUrl: the URL may not be a webhook destination (see domain/webhooks/urls.py).
        NotFound: the org is unknown or outside the caller's scope.
        PermissionDenied: the caller may not manage the org, or may not read one of the event types there.
        TooManySubscriptions: the org already has config.max_per_org active subscriptions.
    """
    check_url(data.url, config.urls)
    org = session.get(Organization, data.org_id)
    if org is None or not scope.allows_org(org.id, DataClass.DIRECTORY, Action.READ):
        raise NotFound(f"organization {data.org_id} not found", field="org_id")
    if not scope.allows_org(org.id, DataClass.DIRECTORY, Action.WRITE):
        raise PermissionDenied("your role may not manage webhooks for this org", field="org_id")
    for event_type in data.event_types:
        if event_type != ALL_EVENTS and not scope.allows_org(org.id, event_class(event_type), Action.READ):
            raise PermissionDenied(f"your role may not receive {event_type} events of this org", field="event_types")
    active = session.execute(
        select(func.count())
        .select_from(WebhookSubscription)
        .where(WebhookSubscription.org_id == org.id, WebhookSubscription.is_active.is_(True))
    ).scalar_one()
    if active >= config.max_per_org:
        raise TooManySubscriptions(
            f"this org already has {active} active webhook subscriptions, the most allowed "
            f"(SIS_WEBHOOK_MAX_PER_ORG={config.max_per_org}); deactivate one first",
            field="org_id",
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = WebhookSubscription(
        id=uuid.uuid4(),
        org_id=org.id,
        url=data.url,
        secret=config.box.seal(secret),
        created_by_api_key_id=api_key_id,
        event_types=data.event_types,
        description=data.description,
        is_active=True,
        created_by_user_id=scope.actor.user_id,
        created_at=utcnow(),
    )
    session.add(sub)
    session.flush()
    return SubscriptionCreated(**_read(session, sub).model_dump(), secret=secret)


def list_subscriptions(session: Session, scope: Scope) -> SubscriptionPage:
    """Subscriptions of the orgs the caller can see, newest first (secrets are never listed)."""
    subs = session.execute(
        select(WebhookSubscription)
        .where(scope.org_filter(WebhookSubscription.org_id, DataClass.DIRECTORY))
        .order_by(WebhookSubscription.created_at.desc(), WebhookSubscription.id)
        .limit(MAX_SUBSCRIPTIONS_PAGE)
    ).scalars()
    return SubscriptionPage(items=[_read(session, s, scope) for s in subs])


def get_subscription(session: Session, scope: Scope, subscription_id: uuid.UUID) -> SubscriptionRead:
    """One subscription with its delivery counts.

    Raises:
        NotFound: unknown or outside the caller's scope.
    """
    return _read(session, subscription_in_scope(session, scope, subscription_id, Action.READ), scope)


def deactivate_subscription(session: Session, scope: Scope, subscription_id: uuid.UUID) -> SubscriptionRead:
    """Stop a subscription: no new deliveries are created; owed ones are still attempted.

    Raises:
        NotFound, PermissionDenied.
    """
    sub = subscription_in_scope(session, scope, subscription_id, Action.WRITE)
    if sub.is_active:
        sub.is_active = False
        sub.deactivated_at = utcnow()
        session.flush()
    return _read(session, sub)


def _visible_event(scope: Scope, event: DomainEvent) -> dict[str, Any] | None:
    """The event as a delivery's body carries it, when the caller may read its class at its org."""
    if event.position is None or not scope.allows_org(event.org_id, event_class(event.event_type), Action.READ):
        return None
    return to_read(event).model_dump(mode="json")


def list_deliveries(
    session: Session,
    scope: Scope,
    subscription_id: uuid.UUID,
    *,
    status: DeliveryStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> DeliveryPage:
    """A subscription's deliveries, newest first, each with its attempt log.

    Raises:
        NotFound: unknown subscription or outside the caller's scope.
    """
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInput("limit must be 1..500 and offset at least 0", field="limit")
    sub = subscription_in_scope(session, scope, subscription_id, Action.READ)
    where = [WebhookDelivery.subscription_id == sub.id]
    if status is not None:
        where.append(WebhookDelivery.status == status)
    total = session.execute(select(func.count()).select_from(WebhookDelivery).where(*where)).scalar_one()
    rows = session.execute(
        select(WebhookDelivery, DomainEvent)
        .join(DomainEvent, DomainEvent.id == WebhookDelivery.event_id)
        .where(*where)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
        .offset(offset)
    ).all()
    attempts: dict[uuid.UUID, list[AttemptRead]] = {}
    if rows:
        for attempt in session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([d.id for d, _ in rows]))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt_no, WebhookAttempt.id)
        ).scalars():
            attempts.setdefault(attempt.delivery_id, []).append(
                AttemptRead(
                    attempt_no=attempt.attempt_no,
                    started_at=attempt.started_at,
                    duration_ms=attempt.duration_ms,
                    status_code=attempt.status_code,
                    succeeded=attempt.succeeded,
                    error=attempt.error,
                    response_excerpt=attempt.response_excerpt,
                )
            )
    items = [
        DeliveryRead(
            id=d.id,
            event_id=d.event_id,
            event_type=event.event_type,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status is DeliveryStatus.PENDING else None,
            delivered_at=d.delivered_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            attempt_log=attempts.get(d.id, []),
            event=_visible_event(scope, event),
        )
        for d, event in rows
    ]
    return DeliveryPage(items=items, total=total)
