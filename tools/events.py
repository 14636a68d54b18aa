"""Event feed and webhook subscription tools: the pull API and the management of push deliveries."""

from __future__ import annotations

import uuid

from pydantic import Field
from sqlalchemy.orm import Session

from db.models import DeliveryStatus
from domain import events
from domain.events import EventPage, EventQuery
from domain.webhooks import operations, service
from domain.webhooks.operations import Redelivered, SecretRotated, TestSent
from domain.webhooks.service import (
    CreateSubscriptionInput,
    DeliveryPage,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionRead,
)
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool


@tool(data_class=DataClass.DIRECTORY, title="Domain events", student_id_fields=("student_id",))
def list_events(session: Session, scope: Scope, data: EventQuery, ctx: ToolContext) -> EventPage:
    """List domain events (enrollment.created, enrollment.withdrawn, enrollment.transferred, application.accepted,
    billing events) after a position, oldest first, for orgs and data you may read.

    Resume with after=next_after. Deduplicate by event id.
    """
    # Publishing first means a pull consumer sees events the moment they commit, dispatcher or not.
    events.publish_pending(session)
    return events.list_events(session, scope, data)


class ListWebhookSubscriptionsInput(ToolInput):
    """No arguments besides `purpose`."""


@tool(data_class=DataClass.DIRECTORY, title="Webhook subscriptions")
def list_webhook_subscriptions(
    session: Session, scope: Scope, data: ListWebhookSubscriptionsInput, ctx: ToolContext
) -> SubscriptionPage:
    """List the webhook subscriptions of the orgs you can see, with pending and failed delivery counts."""
    return service.list_subscriptions(session, scope)


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Create a webhook subscription", idempotent=False)
def create_webhook_subscription(
    session: Session, scope: Scope, data: CreateSubscriptionInput, ctx: ToolContext
) -> SubscriptionCreated:
    """Subscribe a URL to an org's events (its whole subtree). The signing secret is returned only once.

    Fails when you may not manage the org or may not read one of the event types there, when the URL
    is not a public https address, or when the org has the most subscriptions allowed.
    """
    return service.create_subscription(session, scope, data, config=ctx.webhooks, api_key_id=ctx.principal.api_key_id)


class SubscriptionIdInput(ToolInput):
    subscription_id: uuid.UUID = Field(description="The subscription (from list_webhook_subscriptions).")


@tool(data_class=DataClass.DIRECTORY, title="Webhook subscription")
def get_webhook_subscription(
    session: Session, scope: Scope, data: SubscriptionIdInput, ctx: ToolContext
) -> SubscriptionRead:
    """Show one webhook subscription with its delivery counts."""
    return service.get_subscription(session, scope, data.subscription_id)


@tool(
    data_class=DataClass.DIRECTORY,
    action=Action.WRITE,
    title="Deactivate a webhook subscription",
    idempotent=True,
    destructive=True,
)
def deactivate_webhook_subscription(
    session: Session, scope: Scope, data: SubscriptionIdInput, ctx: ToolContext
) -> SubscriptionRead:
    """Stop a webhook subscription: no new deliveries; those already owed are still attempted."""
    return service.deactivate_subscription(session, scope, data.subscription_id)


class ListWebhookDeliveriesInput(SubscriptionIdInput):
    status: DeliveryStatus | None = Field(default=None, description="pending, succeeded or failed.")
    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    offset: int = Field(default=0, ge=0, description="Rows to skip.")


@tool(data_class=DataClass.DIRECTORY, title="Webhook deliveries")
def list_webhook_deliveries(
    session: Session, scope: Scope, data: ListWebhookDeliveriesInput, ctx: ToolContext
) -> DeliveryPage:
    """Show a subscription's deliveries, newest first, each with every attempt (status code, error, timing)."""
    return service.list_deliveries(
        session, scope, data.subscription_id, status=data.status, limit=data.limit, offset=data.offset
    )


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Send a test webhook", idempotent=False)
def send_test_webhook(session: Session, scope: Scope, data: SubscriptionIdInput, ctx: ToolContext) -> TestSent:
    """Send one signed `webhook.test` event to this subscription only, to check the receiver and its
    signature check. Follow it with list_webhook_deliveries (its delivery_id). Fails when the
    subscription is inactive or you may not manage it."""
    return operations.send_test(session, scope, data.subscription_id)


class DeliveryIdInput(ToolInput):
    delivery_id: uuid.UUID = Field(description="The delivery (from list_webhook_deliveries).")


@tool(data_class=DataClass.DIRECTORY, action=Action.WRITE, title="Redeliver a webhook", idempotent=False)
def redeliver_webhook(session: Session, scope: Scope, data: DeliveryIdInput, ctx: ToolContext) -> Redelivered:
    """Attempt a finished (failed or delivered) webhook delivery once more, now; receivers deduplicate by
    SIS-Event-Id. Fails when it is still pending, or you may not manage its subscription or read its event."""
    return operations.redeliver(session, scope, data.delivery_id)


class RotateSecretInput(SubscriptionIdInput):
    overlap_hours: int = Field(
        default=24,
        ge=0,
        le=operations.MAX_OVERLAP_HOURS,
        description="How long the current secret keeps signing beside the new one (0: it stops now).",
    )


@tool(
    data_class=DataClass.DIRECTORY,
    action=Action.WRITE,
    title="Rotate a webhook signing secret",
    idempotent=False,
    returns_secret=True,
)
def rotate_webhook_secret(session: Session, scope: Scope, data: RotateSecretInput, ctx: ToolContext) -> SecretRotated:
    """Give a subscription a new signing secret (shown once). During the overlap every delivery carries
    two v1 signatures, new and old, so the receiver can switch without losing a delivery."""
    return operations.rotate_secret(
        session, scope, data.subscription_id, overlap_hours=data.overlap_hours, config=ctx.webhooks
    )
