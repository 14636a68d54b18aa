"""Auditor tools: search the audit trails and verify their hash chains."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.audit import search
from domain.audit.search import AuditLogPage, AuditSearchQuery, AuditVerification
from policies.scope import DataClass, Scope
from tools.audit_view import as_seen_by
from tools.catalog import ToolContext, ToolInput, load_catalog, tool


@tool(data_class=DataClass.AUDIT, title="Search the audit log", student_id_fields=())
def search_audit_log(session: Session, scope: Scope, data: AuditSearchQuery, ctx: ToolContext) -> AuditLogPage:
    """Search the audit trails, newest first: the query log (every tool call, REST read and SQL statement,
    with who, why, the students disclosed and the outcome) or change events (field-level writes).

    Filter by principal_email, student_id, capability, since/until and outcome; page with next_offset.
    The query log needs audit access at the network root; below it you see your subtree's change events.
    Values of data classes your role cannot read are shown as "[redacted: <class>]".
    """
    query = AuditSearchQuery(**data.model_dump(exclude={"purpose"}))
    classes = {name: spec.data_class for name, spec in load_catalog().items()}
    return as_seen_by(scope, search.search_audit_log(session, scope, query), classes)


class VerifyAuditLogInput(ToolInput):
    """No arguments besides `purpose`."""


@tool(data_class=DataClass.AUDIT, title="Verify the audit log")
def verify_audit_log(session: Session, scope: Scope, data: VerifyAuditLogInput, ctx: ToolContext) -> AuditVerification:
    """Recompute the hash chains of the query log and the change events and report, per chain, how many
    entries were checked and the first entry that is missing, altered or out of place (ok=false).

    Use it to show the audit trail has not been tampered with. It reads no student data.
    """
    return search.verify_audit_log(session, scope)
