"""Domain events: the outbox written in the same transaction as the change, and its pull cursor.

A service calls `emit_event(session, event_type=..., org_id=..., payload=...)` next to the write
it describes; both commit or neither does. Publishing (`publish_pending`) gives committed events
their public, gapless `position` under the lock of one cursor row, so positions follow commit
order on both engines and a pull consumer that resumes "after N" never skips a late commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import Application, DomainEvent, Enrollment, OutboxCursor
from domain.audit.chain import json_safe
from domain.visibility import org_condition
from policies.scope import DataClass, Scope

PUBLISHED = "published"
# How many unpublished events one publishing pass numbers (the rest wait for the next pass).
PUBLISH_BATCH = 5_000
MAX_PAGE = 1_000


# The data class a consumer must be able to read at the event's org to receive it.
EVENT_CLASSES: dict[str, DataClass] = {
    "student": DataClass.DIRECTORY,
    "enrollment": DataClass.DIRECTORY,
    # Programs and offerings are directory data to their readers (rosters, OneRoster classes); no prices.
    "program": DataClass.DIRECTORY,
    "offering": DataClass.DIRECTORY,
    "application": DataClass.ADMISSIONS,
    # Household membership and guardian links, by id only (no contact or financial data).
    "household": DataClass.DIRECTORY,
    "billing": DataClass.FINANCIAL,
    "invoice": DataClass.FINANCIAL,
    "payment": DataClass.FINANCIAL,
    "refund": DataClass.FINANCIAL,
    "ledger": DataClass.FINANCIAL,
    "organization": DataClass.ADMINISTRATION,
    "access": DataClass.ADMINISTRATION,
    # A test ping sent to one subscription on request (domain/webhooks/operations.py); never fanned out.
    "webhook": DataClass.DIRECTORY,
}
TEST_EVENT = "webhook.test"


def event_class(event_type: str) -> DataClass:
    """The data class guarding an event type (by its `area.` prefix; unknown areas are financial-strict)."""
    return EVENT_CLASSES.get(event_type.split(".", 1)[0], DataClass.FINANCIAL)


def emit_event(session: Session, *, event_type: str, org_id: uuid.UUID, payload: Mapping[str, Any]) -> None:
    """Add a domain event to the outbox in the caller's transaction (it commits with the change)."""
    if not event_type or "." not in event_type:
        raise ValueError(f"event type {event_type!r} must look like 'area.verb'")
    session.add(
        DomainEvent(
            id=uuid.uuid4(),
            event_type=event_type,
            data_class=event_class(event_type).value,
            org_id=org_id,
            payload=json_safe(dict(payload)),
            occurred_at=utcnow(),
        )
    )


def enrollment_payload(enrollment: Enrollment, *, cause: str) -> dict[str, Any]:
    """The data of an enrollment.* event: the stint as it now stands, and what caused the change."""
    return {
        "enrollment_id": enrollment.id,
        "student_id": enrollment.student_id,
        "offering_id": enrollment.offering_id,
        "org_id": enrollment.org_id,
        "grade_level": enrollment.grade_level,
        "start_on": enrollment.start_on,
        "end_on": enrollment.end_on,
        "status": enrollment.status.value,
        "exit_reason": enrollment.exit_reason,
        "previous_enrollment_id": enrollment.previous_enrollment_id,
        "cause": cause,
    }


def application_payload(application: Application) -> dict[str, Any]:
    """The data of an application.* event."""
    return {
        "application_id": application.id,
        "student_id": application.student_id,
        "offering_id": application.offering_id,
        "org_id": application.org_id,
        "household_id": application.household_id,
        "enrollment_id": application.enrollment_id,
        "status": application.status.value,
        "applying_for_grade": application.applying_for_grade,
        "decided_on": application.decided_on,
    }


def lock_cursor(session: Session, name: str) -> int:
    """Take the cursor row's lock (creating the row on first use) and return its value."""
    now = utcnow()
    # The UPDATE takes the row lock on PostgreSQL and the write lock on SQLite before we read.
    locked = session.execute(
        update(OutboxCursor).where(OutboxCursor.name == name).values(updated_at=now).returning(OutboxCursor.value)
    ).scalar_one_or_none()
    if locked is not None:
        return int(locked)
    session.add(OutboxCursor(name=name, value=0, updated_at=now))
    session.flush()
    return 0


def set_cursor(session: Session, name: str, value: int) -> None:
    """Move a cursor (its row lock is already held by this transaction)."""
    session.execute(update(OutboxCursor).where(OutboxCursor.name == name).values(value=value, updated_at=utcnow()))


def publish_pending(session: Session, *, limit: int = PUBLISH_BATCH) -> int:
    """Number committed, unpublished events after the last position; returns how many were published."""
    last = lock_cursor(session, PUBLISHED)
    pending = (
        session.execute(
            select(DomainEvent).where(DomainEvent.position.is_(None)).order_by(DomainEvent.seq).limit(limit)
        )
        .scalars()
        .all()
    )
    now = utcnow()
    for offset, event in enumerate(pending, start=1):
        event.position = last + offset
        event.published_at = now
    if pending:
        session.flush()
        set_cursor(session, PUBLISHED, last + len(pending))
    return len(pending)


class EventRead(BaseModel):
    """An event as consumers see it (pull API and webhook body)."""

    id: uuid.UUID = Field(description="Deduplicate by this id: a webhook may arrive more than once.")
    type: str = Field(description="e.g. enrollment.created")
    position: int = Field(description="The event's place in the feed; pass it as `after` to resume.")
    org_id: uuid.UUID
    occurred_at: dt.datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventRead]
    next_after: int = Field(description="Pass as `after` to get the following events (unchanged when none came).")
    has_more: bool


class EventQuery(BaseModel):
    after: int = Field(default=0, ge=0, description="Return events after this position (0: from the start).")
    types: list[str] | None = Field(default=None, description="Only these event types, e.g. ['enrollment.created'].")
    org_id: uuid.UUID | None = Field(default=None, description="Only events of this org's subtree.")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description=f"At most this many events (max {MAX_PAGE}).")


def to_read(event: DomainEvent) -> EventRead:
    """The consumer-facing form of a published event."""
    assert event.position is not None
    return EventRead(
        id=event.id,
        type=event.event_type,
        position=event.position,
        org_id=event.org_id,
        occurred_at=event.occurred_at,
        data=dict(event.payload),
    )


def list_events(session: Session, scope: Scope, data: EventQuery) -> EventPage:
    """Published events after a position that the caller may read (event org in scope for its class)."""
    asked_class = event_class(data.types[0]) if data.types else DataClass.DIRECTORY
    _, in_org = org_condition(session, scope, DomainEvent.org_id, data.org_id, asked_class)
    allowed = [
        and_(DomainEvent.data_class == dc.value, DomainEvent.org_id.in_(sorted(orgs)))
        for dc in set(EVENT_CLASSES.values())
        if (orgs := scope.orgs(dc))
    ]
    if not allowed:
        return EventPage(items=[], next_after=data.after, has_more=False)
    conditions = [
        DomainEvent.position.is_not(None),
        DomainEvent.position > data.after,
        or_(*allowed),
        in_org,
    ]
    if data.types:
        conditions.append(DomainEvent.event_type.in_(sorted(set(data.types))))
    rows = (
        session.execute(select(DomainEvent).where(*conditions).order_by(DomainEvent.position).limit(data.limit + 1))
        .scalars()
        .all()
    )
    items = [to_read(e) for e in rows[: data.limit]]
    return EventPage(
        items=items,
        next_after=items[-1].position if items else data.after,
        has_more=len(rows) > data.limit,
    )
