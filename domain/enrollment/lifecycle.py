"""Enrollment status that follows dates: pending before the first day, active from it, completed after the end.

The status is stored (downstream apps grant access on `status = active`, and `run_sql` reads the
column) and moved forward by `advance_enrollments`, run by `sis enrollments advance`, at server
start and once a day. A stint is due when:

- it is `pending` and its `start_on` has come: it becomes `active` (`enrollment.activated`);
- it is `active` (or was just activated) and its end has passed: `end_on`, or the offering's end
  when the stint has none (a continuous offering has no end, so its stints stay active): it
  becomes `completed` (`enrollment.completed`) and an open `end_on` is set to that end, so
  rosters and trends as of later days stop counting it.

Withdrawn and transferred stints are already ended and never move. Statuses only move forward:
running the job twice, or for an earlier day, changes and emits nothing.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Enrollment, EnrollmentEvent, EnrollmentStatus, ProgramOffering
from domain.audit.changes import record_changes
from domain.events import emit_event, enrollment_payload
from policies.scope import Scope
from policies.scope import system_scope as policy_system_scope

LIFECYCLE_ACTOR = "system:enrollment-lifecycle"
# Stints changed per transaction by one call of the job (the CLI loops until nothing is due).
BATCH = 500


class AdvanceResult(BaseModel):
    as_of: dt.date
    stints: int = Field(description="Stints changed (one may be activated and completed in one run).")
    activated: int = Field(description="Pending stints whose first day came; now active.")
    completed: int = Field(description="Active stints whose last day passed; now completed.")


def system_scope() -> Scope:
    """The scope the job acts with: the named system actor its change events carry, no grants."""
    return policy_system_scope(LIFECYCLE_ACTOR)


def status_at_creation(start_on: dt.date, today: dt.date) -> EnrollmentStatus:
    """A new stint is pending until its first day, active from it."""
    return EnrollmentStatus.PENDING if start_on > today else EnrollmentStatus.ACTIVE


def add_event(
    session: Session,
    scope: Scope,
    enrollment: Enrollment,
    event_type: str,
    from_status: str | None,
    on: dt.date,
    reason: str | None,
) -> None:
    """Append a status change of a stint to its history."""
    session.add(
        EnrollmentEvent(
            enrollment_id=enrollment.id,
            event_type=event_type,
            from_status=from_status,
            to_status=enrollment.status.value,
            effective_on=on,
            reason=reason,
            actor_user_id=scope.actor.user_id,
        )
    )


def emit_activated(session: Session, enrollment: Enrollment, *, cause: str) -> None:
    """The outbox event a downstream app grants access on (once per stint)."""
    emit_event(
        session,
        event_type="enrollment.activated",
        org_id=enrollment.org_id,
        payload=enrollment_payload(enrollment, cause=cause),
    )


def _due(as_of: dt.date) -> ColumnElement[bool]:
    e = Enrollment
    started = and_(e.status == EnrollmentStatus.PENDING, e.start_on <= as_of)
    ended = and_(
        e.status.in_((EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)),
        func.coalesce(e.end_on, ProgramOffering.end_on) < as_of,
    )
    return or_(started, ended)


def count_due(session: Session, *, as_of: dt.date) -> int:
    """How many stints `advance_enrollments` would change on `as_of` (for a progress bar)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(Enrollment)
            .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
            .where(_due(as_of))
        ).scalar_one()
    )


def advance_enrollments(session: Session, scope: Scope, *, as_of: dt.date, limit: int | None = BATCH) -> AdvanceResult:
    """Move up to `limit` due stints forward as of `as_of`, with events, change events and outbox events."""
    stmt = (
        select(Enrollment, ProgramOffering.end_on)
        .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
        .where(_due(as_of))
        .order_by(Enrollment.start_on, Enrollment.id)
        # Two jobs at once (two servers): the second waits, then skips rows the first moved on.
        .with_for_update(of=Enrollment)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    activated = completed = 0
    rows = session.execute(stmt).all()
    for enrollment, offering_end in rows:
        if enrollment.status is EnrollmentStatus.PENDING and enrollment.start_on <= as_of:
            _move(session, scope, enrollment, EnrollmentStatus.ACTIVE, "activated", enrollment.start_on)
            emit_activated(session, enrollment, cause="started")
            activated += 1
        end = enrollment.end_on or offering_end
        if enrollment.status is EnrollmentStatus.ACTIVE and end is not None and end < as_of:
            enrollment.end_on = end
            _move(session, scope, enrollment, EnrollmentStatus.COMPLETED, "completed", end)
            emit_event(
                session,
                event_type="enrollment.completed",
                org_id=enrollment.org_id,
                payload=enrollment_payload(enrollment, cause="ended"),
            )
            completed += 1
    return AdvanceResult(as_of=as_of, stints=len(rows), activated=activated, completed=completed)


def _move(
    session: Session, scope: Scope, enrollment: Enrollment, to: EnrollmentStatus, event_type: str, on: dt.date
) -> None:
    previous = enrollment.status.value
    enrollment.status = to
    reason = f"{event_type} on {on.isoformat()}"
    record_changes(session, scope, enrollment, reason=reason)
    add_event(session, scope, enrollment, event_type, previous, on, reason)
    # One transition at a time: a stint activated and completed in one run records both changes.
    session.flush()
