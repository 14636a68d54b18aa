"""Operating a webhook subscription: a test ping, redelivering one delivery, rotating the signing secret.

Each acts on one subscription the caller may manage (directory write at its org), like creating
and deactivating one (domain/webhooks/service.py).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import DeliveryStatus, DomainEvent, WebhookDelivery
from domain.errors import InvalidInput, NotFound
from domain.events import TEST_EVENT, event_class
from domain.webhooks.config import WebhookConfig
from domain.webhooks.service import subscription_in_scope
from policies.scope import Action, Scope

MAX_OVERLAP_HOURS = 7 * 24


class TestSent(BaseModel):
    subscription_id: uuid.UUID
    delivery_id: uuid.UUID = Field(description="Follow it with list_webhook_deliveries.")
    event_id: uuid.UUID
    event_type: str


class Redelivered(BaseModel):
    delivery_id: uuid.UUID
    status: DeliveryStatus
    attempts_so_far: int


class SecretRotated(BaseModel):
    subscription_id: uuid.UUID
    secret: str = Field(description="The new signing secret: shown only now.")
    previous_secret_valid_until: dt.datetime | None = Field(
        description="Until then deliveries carry a second v1 signature made with the previous secret."
    )


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def send_test(session: Session, scope: Scope, subscription_id: uuid.UUID) -> TestSent:
    """Owe one `webhook.test` event to this subscription only (never fanned out to others).

    Raises:
        NotFound, PermissionDenied: as for any change to the subscription.
        InvalidInput: the subscription is inactive.
    """
    sub = subscription_in_scope(session, scope, subscription_id, Action.WRITE)
    if not sub.is_active:
        raise InvalidInput("the subscription is inactive; a test would not be delivered", field="subscription_id")
    now = utcnow()
    event = DomainEvent(
        id=uuid.uuid4(),
        event_type=TEST_EVENT,
        data_class=event_class(TEST_EVENT).value,
        org_id=sub.org_id,
        payload={
            "subscription_id": str(sub.id),
            "message": "A test delivery requested from the SIS; verify its signature as you would any event.",
            "requested_by": scope.actor.label,
        },
        occurred_at=now,
    )
    session.add(event)
    session.flush()
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        subscription_id=sub.id,
        event_id=event.id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return TestSent(subscription_id=sub.id, delivery_id=delivery.id, event_id=event.id, event_type=TEST_EVENT)


def redeliver(session: Session, scope: Scope, delivery_id: uuid.UUID) -> Redelivered:
    """Attempt a finished delivery once more, now (receivers deduplicate by SIS-Event-Id).

    The attempt log goes on from where it was. A delivery that had failed gets this one attempt (if
    it fails again it is failed again); one that had succeeded is retried as usual if this attempt fails.

    Raises:
        NotFound: unknown delivery, or its subscription is outside the caller's scope.
        PermissionDenied: the caller may not manage the subscription.
        InvalidInput: the caller may not read the delivery's event, or it is still pending.
    """
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} not found", field="delivery_id")
    try:
        subscription_in_scope(session, scope, delivery.subscription_id, Action.WRITE)
    except NotFound:
        raise NotFound(f"webhook delivery {delivery_id} not found", field="delivery_id") from None
    event = session.execute(select(DomainEvent).where(DomainEvent.id == delivery.event_id)).scalar_one()
    if not scope.allows_org(event.org_id, event_class(event.event_type), Action.READ):
        raise InvalidInput("you may not read this delivery's event, so you may not resend it", field="delivery_id")
    if delivery.status is DeliveryStatus.PENDING:
        raise InvalidInput("the delivery is still pending; it will be attempted on schedule", field="delivery_id")
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = utcnow()
    delivery.lease_owner = None
    delivery.lease_expires_at = None
    session.flush()
    return Redelivered(delivery_id=delivery.id, status=delivery.status, attempts_so_far=delivery.attempts)


def rotate_secret(
    session: Session, scope: Scope, subscription_id: uuid.UUID, *, overlap_hours: int, config: WebhookConfig
) -> SecretRotated:
    """Give the subscription a new signing secret; the current one keeps signing for `overlap_hours` (0: stops now).

    Raises:
        NotFound, PermissionDenied: as for any change to the subscription.
        InvalidInput: overlap_hours outside 0..168.
    """
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(f"overlap_hours must be 0..{MAX_OVERLAP_HOURS}", field="overlap_hours")
    sub = subscription_in_scope(session, scope, subscription_id, Action.WRITE)
    secret = new_secret()
    until = utcnow() + dt.timedelta(hours=overlap_hours) if overlap_hours else None
    sub.previous_secret = config.box.seal(config.box.open(sub.secret)) if until else None
    sub.previous_secret_expires_at = until
    sub.secret = config.box.seal(secret)
    session.flush()
    return SecretRotated(subscription_id=sub.id, secret=secret, previous_secret_valid_until=until)
