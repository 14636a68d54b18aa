"""Tables the chat showed, kept on the server so a person can take them home as CSV or Excel.

A table is kept as the page received it (the same rows, the same columns, redactions included)
under an unguessable id of its chat session; the download serves that copy, so the client can
neither re-run a query nor hand in rows of its own. Each session keeps its last `max_tables`
tables, all sessions together at most `max_bytes` (the oldest table goes first), and a session's
tables go when it ends. Serving a file is recorded in the query log (`tools.runner.record_export`).
See docs/chat-exports.md.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from chat_ui.events import ChatEvent
from chat_ui.present import Cell, View

DEFAULT_TABLES = 20
DEFAULT_MEMORY_MB = 64
# A rough per-cell cost of a kept table in memory (a Python object and its list slot), besides its text.
CELL_BYTES = 64
FORMATS = ("csv", "xlsx")
ROUTE = "/chat/api/exports"


@dataclass(frozen=True)
class AnswerContext:
    """What a file says about where its table came from: the question, who asked, and when."""

    question: str
    whoami: Mapping[str, Any]
    as_of: dt.date
    at: dt.datetime  # when the answer was given, in the server's time zone


@dataclass(frozen=True)
class TableExport:
    """One table as the chat showed it, with the answer it came from."""

    export_id: str
    tool: str
    answer_seq: int  # the query-log entry of the call that produced the rows
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total: int  # rows matching, when the chat showed only some of them
    stem: str  # the file name without its extension
    student_ids: tuple[str, ...]
    context: AnswerContext

    @property
    def size(self) -> int:
        """Approximate bytes this table holds in memory."""
        cells = (len(self.rows) + 1) * max(1, len(self.columns))
        text = sum(len(str(c)) for row in self.rows for c in row if c is not None) + sum(map(len, self.columns))
        return cells * CELL_BYTES + text + len(self.context.question)

    def logged(self, extension: str) -> dict[str, Any]:
        """What the query-log entry of a download says about it (besides who, the students and the row count)."""
        return {
            "format": extension,
            "table": self.title,
            "question": self.context.question,
            "answer_seq": self.answer_seq,
            "rows_matching": self.total,
        }


def caller_lines(whoami: Mapping[str, Any]) -> tuple[str, str]:
    """('Rosa Delgado <rosa@...>', 'registrar at Austin; ...') from what whoami said about the caller."""
    campuses = {str(c.get("path")): str(c.get("name")) for c in whoami.get("campuses", [])}
    roles = []
    for grant in whoami.get("roles", []):
        path = str(grant.get("org_path", ""))
        slug = [p for p in path.split("/") if p]
        place = campuses.get(path) or ("the whole network" if len(slug) <= 1 else slug[-1])
        roles.append(f"{str(grant.get('role', '')).replace('_', ' ')} at {place}")
    person = f"{whoami.get('display_name', '')} <{whoami.get('email', '')}>"
    return person, "; ".join(roles) or "no role"


def _stem(view: View, as_of: dt.date) -> str:
    """A safe file name for a table: the presenter's CSV name and the as-of date ('roster-2026-12-03')."""
    base = str(view.get("csv") or "answer").removesuffix(".csv")
    return re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-")[:60] + f"-{as_of.isoformat()}"


class ExportStore:
    """The tables each chat session may still download, bounded per session and in total."""

    def __init__(self, *, max_tables: int = DEFAULT_TABLES, max_bytes: int = DEFAULT_MEMORY_MB * 2**20) -> None:
        self._max_tables = max_tables
        self._max_bytes = max_bytes
        self._tables: dict[str, OrderedDict[str, TableExport]] = {}  # session token -> its tables, oldest first
        self._owners: OrderedDict[str, str] = OrderedDict()  # export id -> session token, oldest first
        self._bytes = 0
        self._lock = threading.Lock()

    def keep(self, token: str, table: TableExport) -> bool:
        """Keep `table` for the session `token`; False when it alone exceeds the budget (no download then)."""
        if self._max_tables <= 0 or table.size > self._max_bytes:
            return False
        with self._lock:
            mine = self._tables.setdefault(token, OrderedDict())
            mine[table.export_id] = table
            self._owners[table.export_id] = token
            self._bytes += table.size
            while len(mine) > self._max_tables:
                self._forget(next(iter(mine)))
            while self._bytes > self._max_bytes:
                self._forget(next(iter(self._owners)))
        return True

    def get(self, token: str, export_id: str) -> TableExport | None:
        """The table `export_id` of session `token`; None when unknown, dropped, or another session's."""
        with self._lock:
            mine = self._tables.get(token)
            return mine.get(export_id) if mine is not None else None

    def end_session(self, token: str) -> None:
        """Forget every table of a session that ended."""
        with self._lock:
            for export_id in list(self._tables.get(token) or ()):
                self._forget(export_id)

    def _forget(self, export_id: str) -> None:
        token = self._owners.pop(export_id)
        mine = self._tables[token]
        self._bytes -= mine.pop(export_id).size
        if not mine:
            del self._tables[token]

    @property
    def bytes_used(self) -> int:
        """Approximate memory the kept tables use."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._owners)


def offer(store: ExportStore, token: str, event: ChatEvent, context: AnswerContext) -> ChatEvent:
    """`event` with download links on each table of a tool result, the tables kept for session `token`."""
    if event.kind != "tool_result":
        return event
    views = [
        _offered(store, token, view, event, context) if view.get("kind") == "table" and view.get("rows") else view
        for view in event.data.get("views", [])
    ]
    return replace(event, data={**event.data, "views": views})


def offer_views(
    store: ExportStore, token: str, tool: str, audit_seq: int, views: list[View], context: AnswerContext
) -> list[View]:
    """`views` of one call answered outside the stream (a confirmed change), with their download links."""
    event = ChatEvent("tool_result", {"name": tool, "audit_seq": audit_seq, "views": views})
    return list(offer(store, token, event, context).data["views"])


def _offered(store: ExportStore, token: str, view: View, event: ChatEvent, context: AnswerContext) -> View:
    """The table view with its `export` links, or unchanged when it could not be kept."""
    table = TableExport(
        export_id=secrets.token_urlsafe(18),
        tool=str(event.data["name"]),
        answer_seq=int(event.data["audit_seq"]),
        title=str(view.get("title") or "Answer"),
        columns=tuple(str(c) for c in view["columns"]),
        rows=tuple(tuple(row) for row in view["rows"]),
        total=int(view.get("total") or len(view["rows"])),
        stem=_stem(view, context.as_of),
        student_ids=event.disclosed,
        context=context,
    )
    if not store.keep(token, table):
        return view
    links = {ext: f"{ROUTE}/{table.export_id}.{ext}" for ext in FORMATS}
    return {**view, "export": {**links, "filename": table.stem}}
