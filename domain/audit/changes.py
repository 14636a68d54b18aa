"""Field-level change events, hash-chained and written in the same transaction as the change."""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from db.base import Base, utcnow
from domain.audit.chain import Chain, append
from policies.scope import Scope

_SKIPPED = frozenset({"created_at", "updated_at", "recorded_at"})


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime | dt.date | uuid.UUID):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def pending_changes(obj: Base) -> dict[str, tuple[Any, Any]]:
    """Fields of `obj` changed in this session (all set fields when it is new): name -> (old, new)."""
    state = inspect(obj)
    changes: dict[str, tuple[Any, Any]] = {}
    for attr in state.mapper.column_attrs:
        name = attr.key
        if name in _SKIPPED:
            continue
        if state.transient or state.pending:
            value = getattr(obj, name)
            if value is not None:
                changes[name] = (None, value)
            continue
        hist = state.attrs[name].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                changes[name] = (old, new)
    return changes


def record_changes(
    session: Session, scope: Scope, obj: Base, *, reason: str | None = None, org_id: uuid.UUID | None = None
) -> int:
    """Record one chained ChangeEvent per changed field of `obj`; call before flush. Returns the count.

    `org_id` places the events in an org's audit trail for a row that has no org of its own
    (a household's guardian link: its household's org); by default the row's own `org_id`.
    """
    return record_rows(session, scope, [obj], reason=reason, org_id=org_id)


def record_deletion(
    session: Session, scope: Scope, obj: Base, *, reason: str | None = None, org_id: uuid.UUID | None = None
) -> int:
    """Record the removal of `obj` (one event per non-null field, new value null); call before deleting it."""
    state = inspect(obj)
    changes = {
        attr.key: (value, None)
        for attr in state.mapper.column_attrs
        if attr.key not in _SKIPPED and (value := getattr(obj, attr.key)) is not None
    }
    return _append(session, scope, [(obj, _without_id(changes))], reason=reason, org_id=org_id)


def record_rows(
    session: Session,
    scope: Scope,
    rows: Iterable[Base],
    *,
    reason: str | None = None,
    org_id: uuid.UUID | None = None,
) -> int:
    """Record the change events of every row of a multi-row write at once; returns the count.

    Appending to the chain flushes the session, which clears every other row's pending history:
    recording rows one by one after adding them all would keep only the first row's events. Here
    every row's changes are read before anything is appended.
    """
    pending = [(obj, changes) for obj in rows if (changes := _without_id(pending_changes(obj)))]
    return _append(session, scope, pending, reason=reason, org_id=org_id)


def _entity_id(obj: Base) -> str:
    """The row's id, or its primary key's values for a table keyed otherwise (gateway_event.event_id)."""
    if "id" in inspect(obj).mapper.columns:
        return _text(getattr(obj, "id", None)) or ""
    keys = [_text(getattr(obj, str(c.key))) or "" for c in inspect(obj).mapper.primary_key]
    return "/".join(keys)[:64]


def _org_of(obj: Base, table: str) -> uuid.UUID | None:
    """The org whose audit trail holds a row's events: its own org, or an organization itself."""
    return getattr(obj, "org_id", None) or (getattr(obj, "id", None) if table == "organization" else None)


def _append(
    session: Session,
    scope: Scope,
    pending: list[tuple[Base, dict[str, tuple[Any, Any]]]],
    *,
    reason: str | None,
    org_id: uuid.UUID | None,
) -> int:
    pending = [(obj, changes) for obj, changes in pending if changes]
    if not pending:
        return 0
    if any("id" in inspect(obj).mapper.columns and getattr(obj, "id", None) is None for obj, _ in pending):
        # Ids are assigned client-side for UUID rows; integer rows need a flush first.
        session.flush()
    occurred_at = utcnow()
    events = []
    for obj, changes in pending:
        table = str(inspect(obj).mapper.local_table.name)  # type: ignore[attr-defined]
        events += [
            {
                "occurred_at": occurred_at,
                "actor_user_id": scope.actor.user_id,
                "actor_label": scope.actor.label,
                "entity_type": table,
                "entity_id": _entity_id(obj),
                "org_id": org_id or _org_of(obj, table),
                "field": name,
                "old_value": _text(old),
                "new_value": _text(new),
                "reason": reason,
                "operation_id": scope.actor.operation_id,
            }
            for name, (old, new) in sorted(changes.items())
        ]
    append(session, Chain.CHANGE_EVENT, events)
    return len(events)


def record_fields(
    session: Session,
    scope: Scope,
    *,
    table: str,
    entity_id: str,
    org_id: uuid.UUID | None,
    changes: dict[str, tuple[Any, Any]],
    reason: str | None = None,
) -> int:
    """Record chained ChangeEvents for a row `record_changes` cannot read: a deleted row, a row with a
    composite key, or the fields of a row that may be shown (an API key without its hash)."""
    occurred_at = utcnow()
    events = [
        {
            "occurred_at": occurred_at,
            "actor_user_id": scope.actor.user_id,
            "actor_label": scope.actor.label,
            "entity_type": table,
            "entity_id": entity_id,
            "org_id": org_id,
            "field": name,
            "old_value": _text(old),
            "new_value": _text(new),
            "reason": reason,
            "operation_id": scope.actor.operation_id,
        }
        for name, (old, new) in sorted(changes.items())
        if old != new
    ]
    append(session, Chain.CHANGE_EVENT, events)
    return len(events)


def _without_id(changes: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    changes.pop("id", None)
    return changes
