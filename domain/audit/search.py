"""Reading the audit trails, for auditors: search the query log and change events, verify both chains.

Scope follows policies/policy.csv: audit read at every network root covers the whole query log
(it is not org-scoped); audit read below the root covers the change events of that subtree only.
Results are plain pydantic models, so the MCP tools and a REST router (with CSV export) share them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from db.models import (
    Allergy,
    AttendanceRecord,
    BehaviorIncident,
    ChangeEvent,
    Enrollment,
    GuideAssignment,
    HealthCondition,
    HouseholdStudent,
    ImmunityEvidence,
    ImmunizationExemption,
    ImmunizationRecord,
    Medication,
    Organization,
    ProvisionalEnrollment,
    QueryLog,
    QueryOutcome,
)
from domain.audit.chain import Chain, verify_chain
from domain.errors import InvalidInput, PermissionDenied
from policies.scope import Action, DataClass, Scope

MAX_PAGE = 500


class AuditSearchQuery(BaseModel):
    """Filters shared by both trails; every filter given must match."""

    trail: Literal["query_log", "change_events"] = Field(
        default="query_log",
        description="query_log: every capability call and SQL statement; change_events: field-level writes.",
    )
    principal_email: str | None = Field(default=None, max_length=254, description="Who acted (exact email).")
    student_id: uuid.UUID | None = Field(
        default=None, description="Entries that disclosed this student (query log) or changed their records."
    )
    capability: str | None = Field(
        default=None,
        max_length=100,
        description="Tool or REST operation (query log), or changed table such as 'enrollment' (change events).",
    )
    since: dt.datetime | None = Field(default=None, description="Entries at or after this time (UTC if naive).")
    until: dt.datetime | None = Field(default=None, description="Entries before this time (UTC if naive).")
    outcome: QueryOutcome | None = Field(default=None, description="Query log only: ok, denied, not_found, ...")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Entries per page, newest first.")
    offset: int = Field(default=0, ge=0, description="Entries to skip (next_offset of the previous page).")


class QueryLogEntryRead(BaseModel):
    seq: int
    occurred_at: dt.datetime
    principal_email: str | None
    principal_kind: str | None
    auth_method: str | None
    api_key_prefix: str | None
    roles: list[Any]
    capability: str
    data_class: str | None = Field(default=None, description="The capability's data class (unset when unknown).")
    purpose: str | None
    arguments: dict[str, Any]
    student_ids_disclosed: list[Any]
    row_count: int | None
    outcome: str
    error_code: str | None
    error_message: str | None
    duration_us: int
    sql_original: str | None
    sql_executed: str | None
    entry_hash: str


class ChangeEventRead(BaseModel):
    seq: int
    occurred_at: dt.datetime
    actor_label: str
    entity_type: str
    entity_id: str
    org_id: uuid.UUID | None
    field: str
    data_class: str | None = Field(default=None, description="The data class of the changed field.")
    old_value: str | None
    new_value: str | None
    reason: str | None
    operation_id: str


class AuditLogPage(BaseModel):
    trail: str
    query_log: list[QueryLogEntryRead] = Field(default_factory=list)
    change_events: list[ChangeEventRead] = Field(default_factory=list)
    next_offset: int | None = Field(default=None, description="Pass as offset for the next page; null at the end.")

    @property
    def items(self) -> list[Any]:
        """The entries of the page, whichever trail (for row counts)."""
        return [*self.query_log, *self.change_events]


class ChainVerification(BaseModel):
    chain: str
    ok: bool
    checked: int = Field(description="Entries whose links and hashes were recomputed.")
    first_broken_seq: int | None
    reason: str | None
    head_seq: int | None
    head_hash: str | None


class AuditVerification(BaseModel):
    ok: bool
    chains: list[ChainVerification]


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _require_network_audit(session: Session, scope: Scope) -> None:
    roots = set(session.execute(select(Organization.id).where(Organization.parent_id.is_(None))).scalars())
    if not roots or not roots <= scope.orgs(DataClass.AUDIT, Action.READ):
        raise PermissionDenied(
            "reading the query log takes audit read at the network root; "
            "your audit access covers the change events of your subtree (trail='change_events')"
        )


def _page(query: AuditSearchQuery, total_rows: int) -> int | None:
    return query.offset + query.limit if total_rows > query.limit else None


def search_query_log(session: Session, scope: Scope, query: AuditSearchQuery) -> AuditLogPage:
    """Query-log entries matching every filter, newest first.

    Raises:
        PermissionDenied: the caller lacks audit read at every network root.
    """
    _require_network_audit(session, scope)
    stmt = select(QueryLog)
    if query.principal_email:
        stmt = stmt.where(func.lower(QueryLog.principal_email) == query.principal_email.strip().lower())
    if query.student_id is not None:
        # The disclosed ids are a JSON list of quoted strings: the quoted id matches exactly that element.
        stmt = stmt.where(cast(QueryLog.student_ids_disclosed, Text).like(f'%"{query.student_id}"%'))
    if query.capability:
        stmt = stmt.where(QueryLog.capability == query.capability)
    if query.outcome is not None:
        stmt = stmt.where(QueryLog.outcome == query.outcome)
    since, until = _utc(query.since), _utc(query.until)
    if since is not None:
        stmt = stmt.where(QueryLog.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(QueryLog.occurred_at < until)
    rows = list(
        session.execute(stmt.order_by(QueryLog.seq.desc()).offset(query.offset).limit(query.limit + 1)).scalars()
    )
    entries = [
        QueryLogEntryRead(
            seq=r.seq,
            occurred_at=r.occurred_at,
            principal_email=r.principal_email,
            principal_kind=r.principal_kind,
            auth_method=r.auth_method,
            api_key_prefix=r.api_key_prefix,
            roles=list(r.roles or []),
            capability=r.capability,
            purpose=r.purpose,
            arguments=dict(r.arguments or {}),
            student_ids_disclosed=list(r.student_ids_disclosed or []),
            row_count=r.row_count,
            outcome=r.outcome.value,
            error_code=r.error_code,
            error_message=r.error_message,
            duration_us=r.duration_us,
            sql_original=r.sql_original,
            sql_executed=r.sql_executed,
            entry_hash=r.entry_hash,
        )
        for r in rows[: query.limit]
    ]
    return AuditLogPage(trail="query_log", query_log=entries, next_offset=_page(query, len(rows)))


# Tables whose rows belong to one student, with the entity type their change events carry.
_STUDENT_ROWS: tuple[tuple[str, Any, Any], ...] = (
    ("enrollment", Enrollment.id, Enrollment.student_id),
    ("attendance_record", AttendanceRecord.id, AttendanceRecord.student_id),
    ("behavior_incident", BehaviorIncident.id, BehaviorIncident.student_id),
    ("immunization_record", ImmunizationRecord.id, ImmunizationRecord.student_id),
    ("immunization_exemption", ImmunizationExemption.id, ImmunizationExemption.student_id),
    ("household_student", HouseholdStudent.id, HouseholdStudent.student_id),
    ("guide_assignment", GuideAssignment.id, GuideAssignment.student_id),
    ("immunity_evidence", ImmunityEvidence.id, ImmunityEvidence.student_id),
    ("provisional_enrollment", ProvisionalEnrollment.id, ProvisionalEnrollment.student_id),
    ("medication", Medication.id, Medication.student_id),
    ("allergy", Allergy.id, Allergy.student_id),
    ("health_condition", HealthCondition.id, HealthCondition.student_id),
)


def _student_entities(session: Session, student_id: uuid.UUID) -> list[Any]:
    """Predicates matching the change events of a student and of the rows that belong to them."""
    matches: list[Any] = [(ChangeEvent.entity_type == "student") & (ChangeEvent.entity_id == str(student_id))]
    for entity_type, id_column, student_column in _STUDENT_ROWS:
        ids = [str(i) for i in session.execute(select(id_column).where(student_column == student_id)).scalars()]
        if ids:
            matches.append((ChangeEvent.entity_type == entity_type) & ChangeEvent.entity_id.in_(ids))
    return matches


def search_change_events(session: Session, scope: Scope, query: AuditSearchQuery) -> AuditLogPage:
    """Change events matching every filter within the caller's audit subtree, newest first.

    Raises:
        InvalidInput: an outcome filter was given (change events have none).
    """
    if query.outcome is not None:
        raise InvalidInput("change events have no outcome; leave outcome empty", field="outcome")
    orgs = scope.orgs(DataClass.AUDIT, Action.READ)
    stmt: Select[Any] = select(ChangeEvent).where(ChangeEvent.org_id.in_(sorted(orgs)))
    if query.principal_email:
        stmt = stmt.where(func.lower(ChangeEvent.actor_label) == query.principal_email.strip().lower())
    if query.student_id is not None:
        stmt = stmt.where(or_(*_student_entities(session, query.student_id)))
    if query.capability:
        stmt = stmt.where(ChangeEvent.entity_type == query.capability)
    since, until = _utc(query.since), _utc(query.until)
    if since is not None:
        stmt = stmt.where(ChangeEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(ChangeEvent.occurred_at < until)
    rows = list(
        session.execute(stmt.order_by(ChangeEvent.seq.desc()).offset(query.offset).limit(query.limit + 1)).scalars()
    )
    entries = [
        ChangeEventRead(
            seq=r.seq,
            occurred_at=r.occurred_at,
            actor_label=r.actor_label,
            entity_type=r.entity_type,
            entity_id=r.entity_id,
            org_id=r.org_id,
            field=r.field,
            old_value=r.old_value,
            new_value=r.new_value,
            reason=r.reason,
            operation_id=r.operation_id,
        )
        for r in rows[: query.limit]
    ]
    return AuditLogPage(trail="change_events", change_events=entries, next_offset=_page(query, len(rows)))


def search_audit_log(session: Session, scope: Scope, query: AuditSearchQuery) -> AuditLogPage:
    """Entries of the chosen trail matching every filter, newest first.

    Raises:
        PermissionDenied: the query log was asked for without audit read at the network root.
        InvalidInput: an outcome filter was given for change events.
    """
    if query.trail == "query_log":
        return search_query_log(session, scope, query)
    return search_change_events(session, scope, query)


def verify_audit_log(session: Session, scope: Scope) -> AuditVerification:
    """Recompute both hash chains from their first entry and report the first broken link of each.

    Raises:
        PermissionDenied: the caller holds audit read nowhere.
    """
    if not scope.can(DataClass.AUDIT, Action.READ):
        raise PermissionDenied("verifying the audit log takes audit read")
    chains = []
    for chain in (Chain.QUERY_LOG, Chain.CHANGE_EVENT):
        result = verify_chain(session, chain)
        chains.append(
            ChainVerification(
                chain=chain.value,
                ok=result.ok,
                checked=result.checked,
                first_broken_seq=result.first_broken_seq,
                reason=result.reason,
                head_seq=result.head_seq,
                head_hash=result.head_hash,
            )
        )
    return AuditVerification(ok=all(c.ok for c in chains), chains=chains)
