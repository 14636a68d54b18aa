"""run_sql is on the record: the original and executed SQL, the decision, and the students disclosed.

These need the runner to pass a result's or error's `query_log_fields()` to record_query (see
tools/runner.py: `_query_log_fields`).
"""

from __future__ import annotations

from sqlalchemy import select

from db.models import QueryLog, QueryOutcome


def _last(demo_deps) -> QueryLog:
    with demo_deps.session_factory() as s:
        return s.execute(select(QueryLog).order_by(QueryLog.seq.desc()).limit(1)).scalar_one()


def test_an_allowed_statement_logs_both_texts_the_views_and_the_students_returned(run_sql, demo_deps):
    outcome = run_sql("registrar_austin", "SELECT student_id, first_name FROM students WHERE grade_level = 5")
    assert outcome.error is None
    entry = _last(demo_deps)
    assert entry.capability == "run_sql" and entry.outcome is QueryOutcome.OK
    assert entry.sql_original == "SELECT student_id, first_name FROM students WHERE grade_level = 5"
    assert entry.sql_executed == outcome.output["sql_executed"]
    assert '"student"' in entry.sql_executed
    assert sorted(entry.student_ids_disclosed) == sorted(outcome.output["student_ids"])
    assert len(entry.student_ids_disclosed) == outcome.output["row_count"] > 0
    assert entry.arguments["guard"]["views"] == ["students"]
    assert entry.arguments["guard"]["columns"] == ["students.first_name", "students.grade_level", "students.student_id"]
    assert entry.row_count == outcome.output["row_count"]


def test_a_refusal_logs_the_original_sql_and_the_rule(run_sql, demo_deps):
    outcome = run_sql("guide_austin", "SELECT birth_on FROM students")
    assert outcome.rule == "column_restricted"
    entry = _last(demo_deps)
    assert entry.outcome is QueryOutcome.DENIED
    assert entry.error_code == "sql_refused"
    assert entry.sql_original == "SELECT birth_on FROM students"
    assert entry.sql_executed is None
    assert entry.arguments["guard"] == {"decision": "refused", "rule": "column_restricted"}
    assert entry.student_ids_disclosed == []


def test_a_shape_refusal_is_logged_as_invalid(run_sql, demo_deps):
    outcome = run_sql("guide_austin", "DELETE FROM students")
    assert outcome.rule == "select_only"
    entry = _last(demo_deps)
    assert entry.outcome is QueryOutcome.INVALID
    assert entry.sql_original == "DELETE FROM students"
