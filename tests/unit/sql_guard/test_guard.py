"""The guard without a database: what it refuses, and the shape of what it lets through."""

from __future__ import annotations

import uuid

import pytest
import sqlglot
from sqlglot import exp

from domain.errors import PermissionDenied
from policies.scope import Action, Actor, DataClass, Scope, scope_for_orgs
from policies.sql_guard.guard import guard_sql
from policies.sql_guard.refusals import MAX_SQL_CHARS, SqlForbidden, SqlRefused

AUSTIN, MIAMI = uuid.UUID(int=1), uuid.UUID(int=2)
GUIDE_ID = uuid.UUID(int=9)
DIALECTS = ["postgres", "sqlite"]


def campus(*classes: DataClass) -> Scope:
    return scope_for_orgs(
        Actor(None, "t@example"), [AUSTIN], classes=classes or tuple(DataClass), actions=(Action.READ,)
    )


def guide() -> Scope:
    grants = {(dc, Action.READ): frozenset({AUSTIN}) for dc in (DataClass.DIRECTORY, DataClass.ATTENDANCE)}
    return Scope(actor=Actor(None, "g@example"), grants=grants, guide_user_id=GUIDE_ID)


def refused(sql: str, scope: Scope, dialect: str = "postgres") -> SqlRefused:
    with pytest.raises(SqlRefused) as caught:
        guard_sql(sql, scope, dialect=dialect)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("DELETE FROM students", "select_only"),
        ("SELECT 1; SELECT 2", "one_statement"),
        ("WITH d AS (DELETE FROM student RETURNING id) SELECT * FROM d", "write"),
        ("SELECT first_name FROM students FOR UPDATE", "locking"),
        ("SELECT * INTO x FROM students", "into"),
        ("SELECT * FROM student", "unknown_view"),
        ("SELECT * FROM pg_catalog.pg_class", "catalog"),
        ("SELECT * FROM public.students", "schema_qualified"),
        ("SELECT * FROM generate_series(1, 10)", "table_function"),
        ("SELECT pg_sleep(1)", "function"),
        ("SELECT s FROM students s", "whole_row"),
        ("SELECT (s).first_name FROM students s", "field_access"),
        ("SELECT first_name FROM students LIMIT (SELECT 1)", "limit"),
        ("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT n FROM r", "recursive"),
        ("SELECT count(*) FROM attendance a, attendance b", "cartesian"),
        ("WITH guide_assignment AS (SELECT 1 AS x) SELECT first_name FROM students", "identifier"),
        ("SELECT nope FROM students", "unknown_column"),
        ("SELECT org_id FROM students s JOIN enrollments e ON e.student_id = s.student_id", "ambiguous_column"),
    ],
)
def test_the_guard_refuses_with_the_rule_broken(sql, rule, dialect):
    assert refused(sql, campus(), dialect).rule.value == rule


def test_an_overlong_statement_is_refused_before_parsing():
    assert refused("SELECT '" + "x" * MAX_SQL_CHARS + "'", campus()).rule.value == "too_long"


def test_a_restricted_column_is_a_permission_refusal_in_every_clause():
    scope = campus(DataClass.DIRECTORY)
    for sql in (
        "SELECT birth_on FROM students",
        "SELECT first_name FROM students WHERE birth_on IS NULL",
        "SELECT first_name FROM students ORDER BY email",
        "SELECT count(*) FROM students GROUP BY sex",
        "SELECT first_name, rank() OVER (PARTITION BY ethnicity ORDER BY phone) FROM students",
    ):
        err = refused(sql, scope)
        assert isinstance(err, SqlForbidden) and isinstance(err, PermissionDenied)
        assert err.rule.value == "column_restricted"


def test_select_star_expands_to_readable_columns_only():
    statement = guard_sql("SELECT * FROM students", campus(DataClass.DIRECTORY), dialect="postgres")
    names = [o.name for o in statement.outputs]
    assert "first_name" in names and "student_id" in names
    assert not {"birth_on", "email", "address", "phone", "sex", "ethnicity"} & set(names)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_view_reference_becomes_a_scoped_subquery(dialect):
    sql = (
        "WITH students AS (SELECT student_id FROM students) "
        "SELECT s.student_id FROM students s WHERE s.student_id IN (SELECT student_id FROM enrollments) "
        "UNION SELECT student_id FROM attendance"
    )
    statement = guard_sql(sql, guide(), dialect=dialect)
    tree = sqlglot.parse_one(statement.sql, read=dialect)
    real = [t for t in tree.find_all(exp.Table) if t.name in {"student", "enrollment", "attendance_record"}]
    assert len(real) == 3
    for table in real:
        where = table.find_ancestor(exp.Select).args["where"]
        assert where.find(exp.Placeholder, exp.Parameter) is not None
        assert "guide_assignment" in where.sql()
    assert GUIDE_ID in statement.params or GUIDE_ID.hex in statement.params
    assert {"student", "enrollment", "attendance_record", "guide_assignment"} <= statement.tables


def test_scope_values_are_bind_parameters_never_literals():
    statement = guard_sql("SELECT first_name FROM students", campus(), dialect="postgres")
    assert str(AUSTIN) not in statement.sql
    assert [AUSTIN] in statement.params


def test_a_column_readable_at_fewer_campuses_than_its_rows_is_blanked_elsewhere():
    grants = {
        (DataClass.DIRECTORY, Action.READ): frozenset({AUSTIN, MIAMI}),
        (DataClass.DEMOGRAPHICS, Action.READ): frozenset({AUSTIN}),
    }
    scope = Scope(actor=Actor(None, "x@example"), grants=grants)
    statement = guard_sql("SELECT first_name, birth_on FROM students", scope, dialect="postgres")
    assert "CASE WHEN" in statement.sql
    assert sorted([AUSTIN, MIAMI]) in statement.params and [AUSTIN] in statement.params


@pytest.mark.parametrize(
    ("sql", "probe"), [("SELECT first_name FROM students", 201), ("SELECT first_name FROM students LIMIT 5", 5)]
)
def test_the_row_cap_probes_one_row_past_the_limit(sql, probe):
    statement = guard_sql(sql, campus(), dialect="sqlite", limit=200)
    assert statement.params[-1] == probe


def test_output_columns_carry_postgres_names_and_student_lineage():
    statement = guard_sql(
        "SELECT e.student_id, count(*), date_trunc('month', e.start_on)::date FROM enrollments e GROUP BY 1, 3",
        campus(),
        dialect="sqlite",
    )
    assert [o.name for o in statement.outputs] == ["student_id", "count", "date_trunc"]
    assert [o.identifies_student for o in statement.outputs] == [True, False, False]


def test_sqlite_gets_date_arithmetic_and_id_literals_it_understands():
    some_id = uuid.uuid4()
    statement = guard_sql(
        f"SELECT start_on + 7, EXTRACT(YEAR FROM start_on), start_on - INTERVAL '2 weeks' FROM enrollments "
        f"WHERE student_id = '{some_id}'",
        campus(),
        dialect="sqlite",
    )
    assert "PRINTF('%+d days', 7)" in statement.sql
    assert "STRFTIME('%Y'" in statement.sql
    assert "'-14 days'" in statement.sql
    assert f"'{some_id.hex}'" in statement.sql


def test_refusals_keep_the_original_sql_for_the_query_log():
    err = refused("SELECT pg_sleep(5)", campus())
    fields = err.query_log_fields()
    assert fields["sql_original"] == "SELECT pg_sleep(5)"
    assert fields["details"] == {"decision": "refused", "rule": "function"}
