"""What a reader of the audit trails receives: that a disclosure or change happened, and the values only
of the data classes the reader may read.

The stored chain is never touched (so `sis audit verify` is unchanged); this is applied to every
page `search_audit_log` answers, whatever the face (MCP, REST, the CSV export, the chat). The rule
is written up in docs/security/audit-visibility.md and policies/policy.csv:

- change events: who, when, which row, which field and its data class are shown; the old and new
  values of a field whose class (policies/columns.py) the reader cannot read at the event's org
  are replaced by "[redacted: <class>]", and so is the reason of a row of such a class. Keys and
  foreign keys (which student, which enrollment) are never redacted: they are ids, not contents.
- query-log entries: an entry of a capability whose data class the reader cannot read everywhere
  it reads the audit log keeps its argument names and id values (student_id, ...) and loses every
  other value, its `purpose`, its error message and its SQL text. run_sql counts the classes of
  the views its guard recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from db.base import Base
from domain.audit.search import AuditLogPage, ChangeEventRead, QueryLogEntryRead
from policies.columns import NEVER_READABLE, TABLE_CLASSES, column_class
from policies.reporting import VIEWS
from policies.scope import Action, DataClass, Scope

# A capability the catalog does not know (an unknown tool, a request that never reached one).
UNCLASSIFIED = "unclassified"
# Argument keys the server sets (tools/runner.py): what it decided, never the caller's data.
_SERVER_KEYS = frozenset({"channel", "guard"})


def redacted(data_class: str) -> str:
    """The marker that replaces a value of `data_class`."""
    return f"[redacted: {data_class}]"


def _is_id_name(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_ids"))


@cache
def _key_columns() -> frozenset[str]:
    """ "table.column" of every primary and foreign key: ids, shown to every reader of the trail."""
    return frozenset(
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.primary_key or column.foreign_keys
    )


def _event_class(event: ChangeEventRead) -> DataClass | None:
    if event.entity_type not in TABLE_CLASSES:
        return None
    return column_class(event.entity_type, event.field)


def _change_event(scope: Scope, event: ChangeEventRead) -> ChangeEventRead:
    data_class = _event_class(event)
    name = f"{event.entity_type}.{event.field}"

    def readable(cls: DataClass | None) -> bool:
        return cls is not None and event.org_id is not None and scope.allows_org(event.org_id, cls, Action.READ)

    word = data_class.value if data_class is not None else UNCLASSIFIED
    changes: dict[str, Any] = {"data_class": word}
    if name in NEVER_READABLE:
        changes |= {"old_value": redacted("secret"), "new_value": redacted("secret")}
    elif name not in _key_columns() and not readable(data_class):
        changes |= {
            "old_value": None if event.old_value is None else redacted(word),
            "new_value": None if event.new_value is None else redacted(word),
        }
    row_class = TABLE_CLASSES.get(event.entity_type)
    if event.reason is not None and not readable(row_class):
        changes["reason"] = redacted(row_class.value if row_class else UNCLASSIFIED)
    return event.model_copy(update=changes)


def _arguments(value: Any, marker: str, key: str | None = None) -> Any:
    """`value` with every value but ids (by argument name) replaced by `marker`; names are kept."""
    if isinstance(value, Mapping):
        return {k: (v if k in _SERVER_KEYS and key is None else _arguments(v, marker, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_arguments(v, marker, key) for v in value]
    if value is None or (key is not None and _is_id_name(key)):
        return value
    return marker


def _entry_classes(entry: QueryLogEntryRead, catalog: Mapping[str, DataClass | None]) -> tuple[list[str], bool]:
    """The data classes an entry's contents belong to, and whether its capability is known."""
    if entry.capability not in catalog:
        return [], False
    classes = [c.value for c in (catalog[entry.capability],) if c is not None]
    guard = entry.arguments.get("guard")
    if isinstance(guard, Mapping):
        classes += [VIEWS[v].data_class.value for v in guard.get("views") or () if v in VIEWS]
    return classes, True


def _query_entry(scope: Scope, entry: QueryLogEntryRead, catalog: Mapping[str, DataClass | None]) -> QueryLogEntryRead:
    audit_orgs = scope.orgs(DataClass.AUDIT, Action.READ)
    classes, known = _entry_classes(entry, catalog)
    primary = catalog.get(entry.capability)
    update: dict[str, Any] = {"data_class": primary.value if primary is not None else None}
    if known:
        hidden = [c for c in classes if not audit_orgs <= scope.orgs(DataClass(c), Action.READ)]
    else:
        every = all(audit_orgs <= scope.orgs(c, Action.READ) for c in DataClass)
        hidden = [] if every else [UNCLASSIFIED]
    if not hidden:
        return entry.model_copy(update=update)
    marker = redacted(hidden[0])
    update |= {
        "arguments": _arguments(entry.arguments, marker),
        "purpose": None if entry.purpose is None else marker,
        "error_message": None if entry.error_message is None else marker,
        "sql_original": None if entry.sql_original is None else marker,
        "sql_executed": None if entry.sql_executed is None else marker,
    }
    return entry.model_copy(update=update)


def as_seen_by(scope: Scope, page: AuditLogPage, catalog: Mapping[str, DataClass | None]) -> AuditLogPage:
    """`page` as the reader of `scope` may receive it; `catalog` maps capability names to data classes."""
    return page.model_copy(
        update={
            "query_log": [_query_entry(scope, e, catalog) for e in page.query_log],
            "change_events": [_change_event(scope, e) for e in page.change_events],
        }
    )
