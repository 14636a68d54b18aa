"""describe_schema shows only what the caller may read; run_sql answers through MCP as fenced data."""

from __future__ import annotations

import json

import pytest
from mcp import Client
from sqlalchemy import func, select

from db.demo.texts import PROMPT_INJECTION_TEXT
from db.models import BehaviorIncident, Student
from mcp_server.mcp_face import fixed_principal_server
from tools.runner import run_tool


def _schema(demo_deps, principal) -> dict:
    return run_tool(demo_deps, principal, "describe_schema", {}).output.model_dump(mode="json")


def _columns(schema: dict, view: str) -> set[str]:
    return next({c["name"] for c in v["columns"]} for v in schema["views"] if v["name"] == view)


def test_describe_schema_lists_only_the_views_and_columns_a_guide_may_read(demo_deps, persona):
    schema = _schema(demo_deps, persona("guide_austin"))
    views = {v["name"] for v in schema["views"]}
    assert {"students", "enrollments", "attendance", "behavior_incidents"} <= views
    assert not {"immunizations", "exemptions"} & views
    assert not {"birth_on", "email", "address", "phone"} & _columns(schema, "students")
    assert all(v["examples"] for v in schema["views"])
    assert schema["rules"]


def test_describe_schema_shows_immunizations_to_the_nurse_and_registrar_not_the_guide(demo_deps, persona):
    nurse = _schema(demo_deps, persona("nurse_austin"))
    assert "immunizations" in {v["name"] for v in nurse["views"]}
    registrar = _schema(demo_deps, persona("registrar_austin"))
    assert {"immunizations", "exemptions"} <= {v["name"] for v in registrar["views"]}
    guide = _schema(demo_deps, persona("guide_austin"))
    assert "immunizations" not in {v["name"] for v in guide["views"]}
    assert {"birth_on", "address"} <= _columns(registrar, "students")


def test_the_guide_counts_only_assigned_students(run_sql):
    outcome = run_sql("guide_austin", "SELECT count(*) AS n FROM students")
    assert outcome.output["rows"] == [[8]]


def test_truncation_is_exact_at_the_limit(run_sql):
    total = run_sql("registrar_austin", "SELECT count(*) FROM students").output["rows"][0][0]
    exact = run_sql("registrar_austin", "SELECT student_id FROM students", limit=total)
    assert exact.output["row_count"] == total and not exact.output["truncated"]
    short = run_sql("registrar_austin", "SELECT student_id FROM students", limit=total - 1)
    assert short.output["row_count"] == total - 1 and short.output["truncated"]


def test_instructions_stored_in_data_come_back_as_data_only(run_sql, demo_session):
    students = demo_session.execute(select(func.count()).select_from(Student)).scalar_one()
    outcome = run_sql(
        "network_admin",
        "SELECT incident_id, description FROM behavior_incidents WHERE description LIKE '%Ignore previous%'",
    )
    assert outcome.error is None
    (row,) = outcome.output["rows"]
    assert PROMPT_INJECTION_TEXT in row[1]
    assert demo_session.execute(select(func.count()).select_from(Student)).scalar_one() == students
    assert demo_session.get(BehaviorIncident, __import__("uuid").UUID(row[0])) is not None


def test_a_timeout_stops_the_statement(run_sql):
    sql = (
        "SELECT count(*) FROM attendance a JOIN attendance b ON a.student_id <> b.student_id "
        "JOIN attendance c ON c.day_on <> b.day_on"
    )
    outcome = run_sql("network_admin", sql)
    assert outcome.error is not None and outcome.error.code == "sql_failed"
    assert outcome.rule == "time_limit"


@pytest.mark.anyio
async def test_run_sql_over_mcp_returns_rows_inside_the_untrusted_data_fence(demo_deps, persona):
    server = fixed_principal_server(demo_deps, persona("network_admin"))
    sql = "SELECT description FROM behavior_incidents WHERE description LIKE '%Ignore previous%'"
    async with Client(server, raise_exceptions=True) as client:
        result = await client.call_tool("run_sql", {"sql": sql, "purpose": "review"})
        refused = await client.call_tool("run_sql", {"sql": "DROP TABLE student"})
    assert not result.is_error
    assert PROMPT_INJECTION_TEXT in result.structured_content["rows"][0][0]
    assert "<untrusted-data-" in result.content[0].text
    assert refused.is_error
    error = json.loads(refused.content[0].text)["error"]
    assert error["code"] == "sql_refused" and "select_only" in error["message"]
