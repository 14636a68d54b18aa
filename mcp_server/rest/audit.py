"""Audit routes for auditors: search both trails, verify the hash chains, export CSV.

(No `from __future__ import annotations` here: FastAPI must see the locally built filter model.)

Each route is a call into the runner, so reading the audit log is itself authorized (the
audit data class) and recorded in the query log like any other read.
"""

import csv
import io
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from domain.audit.search import AuditLogPage
from mcp_server.rest.core import call, principal_dependency, tool_route, without
from mcp_server.rest.errors import ERROR_RESPONSES
from policies.principal import Principal
from tools.catalog import load_catalog
from tools.runner import Deps
from tools.spreadsheet import csv_cell

# Enough for an audit period's export while keeping one request bounded; narrow by time to get more.
CSV_MAX_ROWS = 20_000
_PAGE = 500

QUERY_LOG_COLUMNS = [
    "seq", "occurred_at", "principal_email", "principal_kind", "auth_method", "api_key_prefix", "roles",
    "capability", "data_class", "purpose", "arguments", "student_ids_disclosed", "row_count", "outcome", "error_code",
    "error_message", "duration_us", "sql_original", "sql_executed", "entry_hash",
]  # fmt: skip
CHANGE_EVENT_COLUMNS = [
    "seq", "occurred_at", "actor_label", "entity_type", "entity_id", "org_id", "field", "data_class", "old_value", "new_value",
    "reason", "operation_id",
]  # fmt: skip


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the audit routes."""
    tool_route(router, deps, "GET", "/audit/log", "search_audit_log")
    tool_route(router, deps, "GET", "/audit/verify", "verify_audit_log")
    filters = without(load_catalog()["search_audit_log"].input_model, {"limit", "offset"}, "Export")
    assert filters is not None

    @router.get(
        "/audit/log.csv",
        operation_id="export_audit_log_csv",
        summary="Export the audit log as CSV",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}, **ERROR_RESPONSES},
    )
    def export_csv(
        principal: Annotated[Principal, Depends(principal_dependency(deps))],
        params: Annotated[filters, Query()],  # type: ignore[valid-type]
    ) -> Response:
        """The same filters as /audit/log, every matching entry (newest first, at most 20,000) as CSV."""
        arguments = cast(BaseModel, params).model_dump(mode="json", exclude_unset=True)
        trail = arguments.get("trail", "query_log")
        columns = QUERY_LOG_COLUMNS if trail == "query_log" else CHANGE_EVENT_COLUMNS
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        offset: int | None = 0
        written = 0
        while offset is not None and written < CSV_MAX_ROWS:
            page = call(deps, principal, "search_audit_log", {**arguments, "limit": _PAGE, "offset": offset}).output
            assert isinstance(page, AuditLogPage)
            for entry in page.query_log if trail == "query_log" else page.change_events:
                row = entry.model_dump(mode="json")
                writer.writerow([csv_cell(row.get(c)) for c in columns])
                written += 1
            offset = page.next_offset
        return Response(
            content=out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="audit-{trail}.csv"'},
        )
