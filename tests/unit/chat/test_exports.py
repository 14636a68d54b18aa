"""The kept tables of chat sessions stay bounded, go with their session, and become typed workbook cells."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from openpyxl import load_workbook

from chat_ui.caller import Caller
from chat_ui.events import tool_result
from chat_ui.export_files import to_csv, to_xlsx
from chat_ui.exports import AnswerContext, ExportStore, TableExport, offer
from chat_ui.present import money, percent
from chat_ui.sessions import SessionStore

CONTEXT = AnswerContext("who owes?", {"display_name": "Ana"}, dt.date(2026, 12, 3), dt.datetime.now().astimezone())


def table(export_id: str, rows: int = 3, width: int = 10) -> TableExport:
    cells = tuple(tuple("x" * width for _ in range(2)) for _ in range(rows))
    return TableExport(export_id, "query_roster", 1, "T", ("A", "B"), cells, rows, "t", (), CONTEXT)


def test_a_session_keeps_its_last_tables_only():
    store = ExportStore(max_tables=2)
    for n in range(3):
        assert store.keep("s1", table(f"e{n}"))
    assert store.get("s1", "e0") is None and store.get("s1", "e1") and store.get("s1", "e2")
    assert len(store) == 2


def test_all_sessions_together_stay_under_the_memory_budget_oldest_first():
    one = table("a").size
    store = ExportStore(max_tables=10, max_bytes=3 * one)
    for n, session in enumerate(["s1", "s2", "s3", "s4"]):
        store.keep(session, table(f"e{n}"))
    assert store.bytes_used <= 3 * one
    assert store.get("s1", "e0") is None and store.get("s4", "e3") is not None


def test_a_table_bigger_than_the_budget_is_not_kept_and_gets_no_links():
    store = ExportStore(max_bytes=1000)
    event = tool_result(
        "c1", "query_roster", 7, [{"kind": "table", "title": "T", "columns": ["A"], "rows": [["x" * 5000]]}]
    )
    view = offer(store, "s1", event, CONTEXT).data["views"][0]
    assert "export" not in view and len(store) == 0


def test_a_table_is_another_sessions_secret():
    store = ExportStore()
    store.keep("s1", table("e1"))
    assert store.get("s2", "e1") is None


def test_an_idle_or_signed_out_session_drops_its_tables():
    now = [0.0]
    exports = ExportStore()
    sessions = SessionStore(idle_seconds=10, clock=lambda: now[0], exports=exports)
    caller = Caller(None, {}, frozenset())  # type: ignore[arg-type]  # the store never reads who it is
    idle, leaving = sessions.create("persona", "a@x", caller), sessions.create("persona", "b@x", caller)
    exports.keep(idle.token, table("e1"))
    exports.keep(leaving.token, table("e2"))
    sessions.drop(leaving.token)
    assert exports.get(leaving.token, "e2") is None
    now[0] = 11
    assert sessions.get(idle.token) is None and len(exports) == 0


def test_money_percent_and_dates_become_numbers_and_dates_with_formats():
    rows = ((money(-123456), percent(0.934), "2026-11-03", "100092"), (money(500), percent(1.0), None, "100093"))
    kept = TableExport("e", "t", 1, "T", ("Balance", "Rate", "Since", "Student #"), rows, 2, "t", (), CONTEXT)
    sheet = load_workbook(io.BytesIO(to_xlsx(kept, 9))).active
    top = next(r for r in range(1, 20) if sheet.cell(row=r, column=1).value == "Balance")
    balance, rate, since, number = sheet[top + 1]
    assert Decimal(str(balance.value)) == Decimal("-1234.56") and "$" in balance.number_format
    assert rate.value == 0.934 and rate.number_format == "0.0%"
    assert since.is_date and since.value.date() == dt.date(2026, 11, 3)
    assert number.data_type == "s" and number.value == "100092"  # ids keep their leading digits as text
    # The CSV keeps the chat's text, a negative amount quoted like any cell starting with '-'.
    assert "'-$1,234.56" in to_csv(kept, 9).decode("utf-8-sig")
