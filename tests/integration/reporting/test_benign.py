"""Benign analytics through run_sql return exactly the rows of an independent computation over the caller's scope.

The expected answer of each case is computed in Python from rows loaded with the ORM and filtered
explicitly to the persona's campus (not through the guard or Scope), so a rewrite that drops or
widens a predicate, or a translation that changes a date computation, shows up as a difference.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from db.demo.personas import AUSTIN_PATH
from db.models import (
    AttendanceRecord,
    BehaviorIncident,
    Enrollment,
    GuideAssignment,
    Household,
    HouseholdStudent,
    ImmunizationExemption,
    ImmunizationRecord,
    Organization,
    ProgramOffering,
    SchoolDay,
    Student,
    User,
)

ABSENT = ("excused_absence", "unexcused_absence")


@dataclass
class Data:
    """The rows one persona may see, loaded without the guard."""

    students: list[Student]
    enrollments: list[Enrollment]
    attendance: list[AttendanceRecord]
    incidents: list[BehaviorIncident]
    orgs: list[Organization]
    offerings: list[ProgramOffering]
    school_days: list[SchoolDay]
    members: list[tuple[HouseholdStudent, Household]]
    doses: list[ImmunizationRecord]
    exemptions: list[ImmunizationExemption]


def _load(session, path: str, only_students: set | None = None) -> Data:
    orgs = [o for o in session.execute(select(Organization)).scalars() if o.path.startswith(path)]
    ids = {o.id for o in orgs}

    def rows(model: Any) -> list[Any]:
        found = [r for r in session.execute(select(model).where(model.org_id.in_(ids))).scalars()]
        if only_students is not None and hasattr(model, "student_id"):
            found = [r for r in found if r.student_id in only_students]
        return found

    students = [s for s in rows(Student) if only_students is None or s.id in only_students]
    members = [
        (m, h)
        for m, h in session.execute(select(HouseholdStudent, Household).join(Household)).all()
        if h.org_id in ids and (only_students is None or m.student_id in only_students)
    ]
    return Data(
        students=students,
        enrollments=rows(Enrollment),
        attendance=rows(AttendanceRecord),
        incidents=rows(BehaviorIncident),
        orgs=orgs,
        offerings=rows(ProgramOffering),
        school_days=rows(SchoolDay),
        members=members,
        doses=rows(ImmunizationRecord),
        exemptions=rows(ImmunizationExemption),
    )


def s(v: Any) -> str:
    return str(v)


def iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def counted(values: Any) -> list[tuple[Any, int]]:
    return sorted(Counter(values).items(), key=lambda kv: (kv[0] is None, kv[0]))


@dataclass(frozen=True)
class Case:
    name: str
    sql: str
    expected: Callable[[Data], list[tuple[Any, ...]]]
    ordered: bool = False
    who: str = "registrar_austin"


def _band(grade: int) -> str:
    return "elementary" if grade < 6 else ("middle" if grade < 9 else "high")


def _absence_ranks(d: Data) -> list[tuple[Any, ...]]:
    counts = Counter(s(a.student_id) for a in d.attendance if a.status in ABSENT)
    return [(sid, n, 1 + sum(1 for m in counts.values() if m > n)) for sid, n in counts.items()]


def _row_numbers(d: Data) -> list[tuple[Any, ...]]:
    by_grade: dict[int, list[Student]] = defaultdict(list)
    for st in d.students:
        by_grade[st.grade_level].append(st)
    return [
        (s(st.id), g, i)
        for g, group in by_grade.items()
        for i, st in enumerate(sorted(group, key=lambda x: x.student_number), start=1)
    ]


def _lags(d: Data) -> list[tuple[Any, ...]]:
    out = []
    by_student: dict[Any, list[dt.date]] = defaultdict(list)
    for a in d.attendance:
        by_student[a.student_id].append(a.day_on)
    for sid, days in by_student.items():
        days.sort()
        out += [(s(sid), iso(day), iso(days[i - 1]) if i else None) for i, day in enumerate(days)]
    return out


def _offering_seats(d: Data) -> list[tuple[Any, ...]]:
    active = Counter(e.offering_id for e in d.enrollments if e.status == "active")
    return [(s(f.id), f.capacity, active.get(f.id, 0)) for f in d.offerings]


TODAY = dt.date(2026, 11, 20)

CASES = [
    Case("count", "SELECT count(*) AS n FROM students", lambda d: [(len(d.students),)]),
    Case(
        "by_grade",
        "SELECT grade_level, count(*) AS n FROM students GROUP BY grade_level ORDER BY grade_level",
        lambda d: counted(st.grade_level for st in d.students),
        ordered=True,
    ),
    Case(
        "join_active",
        "SELECT s.student_id, s.last_name, e.enrollment_id FROM students s "
        "JOIN enrollments e ON e.student_id = s.student_id WHERE e.status = 'active'",
        lambda d: [
            (s(st.id), st.last_name, s(e.id))
            for e in d.enrollments
            if e.status == "active"
            for st in d.students
            if st.id == e.student_id
        ],
    ),
    Case(
        "left_join_missing",
        "SELECT s.student_id FROM students s LEFT JOIN enrollments e "
        "ON e.student_id = s.student_id AND e.status = 'active' WHERE e.enrollment_id IS NULL",
        lambda d: [
            (s(st.id),)
            for st in d.students
            if not any(e.student_id == st.id and e.status == "active" for e in d.enrollments)
        ],
    ),
    Case(
        "cte_distinct",
        "WITH active AS (SELECT DISTINCT student_id FROM enrollments WHERE status = 'active') "
        "SELECT count(*) AS n FROM active",
        lambda d: [(len({e.student_id for e in d.enrollments if e.status == "active"}),)],
    ),
    Case(
        "row_number",
        "SELECT student_id, grade_level, row_number() OVER (PARTITION BY grade_level ORDER BY student_number) AS rn "
        "FROM students",
        _row_numbers,
    ),
    Case(
        "rank_absences",
        "SELECT student_id, count(*) AS absences, rank() OVER (ORDER BY count(*) DESC) AS r FROM attendance "
        "WHERE status IN ('excused_absence', 'unexcused_absence') GROUP BY student_id",
        _absence_ranks,
    ),
    Case(
        "date_trunc_month",
        "SELECT date_trunc('month', day_on)::date AS month, count(*) AS n FROM attendance GROUP BY 1 ORDER BY 1",
        lambda d: counted(a.day_on.replace(day=1).isoformat() for a in d.attendance),
        ordered=True,
    ),
    Case(
        "date_trunc_week",
        "SELECT date_trunc('week', occurred_on)::date AS week, count(*) AS n FROM behavior_incidents "
        "GROUP BY 1 ORDER BY 1",
        lambda d: counted(
            (b.occurred_on - dt.timedelta(days=b.occurred_on.weekday())).isoformat() for b in d.incidents
        ),
        ordered=True,
    ),
    Case(
        "extract_year",
        "SELECT EXTRACT(YEAR FROM birth_on) AS y, count(*) AS n FROM students GROUP BY 1 ORDER BY 1",
        lambda d: counted(st.birth_on.year for st in d.students),
        ordered=True,
    ),
    Case(
        "extract_dow",
        "SELECT EXTRACT(DOW FROM day_on) AS dow, count(*) AS n FROM attendance GROUP BY 1 ORDER BY 1",
        lambda d: counted((a.day_on.weekday() + 1) % 7 for a in d.attendance),
        ordered=True,
    ),
    Case(
        "interval_window",
        "SELECT incident_id FROM behavior_incidents WHERE occurred_on >= DATE '2026-11-20' - INTERVAL '30 days'",
        lambda d: [(s(b.id),) for b in d.incidents if b.occurred_on >= TODAY - dt.timedelta(days=30)],
    ),
    Case(
        # Month arithmetic past day 28 differs between engines (PostgreSQL clamps, SQLite overflows).
        "interval_add_cast",
        "SELECT enrollment_id, (start_on + INTERVAL '1 month')::date AS next_month FROM enrollments "
        "WHERE EXTRACT(DAY FROM start_on) <= 28",
        lambda d: [
            (
                s(e.id),
                e.start_on.replace(
                    month=e.start_on.month % 12 + 1, year=e.start_on.year + e.start_on.month // 12
                ).isoformat(),
            )
            for e in d.enrollments
            if e.start_on.day <= 28
        ],
    ),
    Case(
        "date_plus_days",
        "SELECT enrollment_id, start_on + 30 AS plus30 FROM enrollments",
        lambda d: [(s(e.id), (e.start_on + dt.timedelta(days=30)).isoformat()) for e in d.enrollments],
    ),
    Case(
        "date_minus_date",
        "SELECT enrollment_id, end_on - start_on AS days FROM enrollments WHERE end_on IS NOT NULL",
        lambda d: [(s(e.id), (e.end_on - e.start_on).days) for e in d.enrollments if e.end_on is not None],
    ),
    Case(
        "case_bands",
        "SELECT CASE WHEN grade_level < 6 THEN 'elementary' WHEN grade_level < 9 THEN 'middle' ELSE 'high' END "
        "AS band, count(*) AS n FROM students GROUP BY 1",
        lambda d: counted(_band(st.grade_level) for st in d.students),
    ),
    Case(
        "coalesce",
        "SELECT student_id, COALESCE(preferred_name, first_name) AS name FROM students",
        lambda d: [(s(st.id), st.preferred_name or st.first_name) for st in d.students],
    ),
    Case(
        "union",
        "SELECT student_id FROM attendance UNION SELECT student_id FROM behavior_incidents",
        lambda d: [(x,) for x in {s(a.student_id) for a in d.attendance} | {s(b.student_id) for b in d.incidents}],
    ),
    Case(
        "union_all_tagged",
        "SELECT 'attendance' AS source, count(*) AS n FROM attendance "
        "UNION ALL SELECT 'incidents', count(*) FROM behavior_incidents ORDER BY source",
        lambda d: [("attendance", len(d.attendance)), ("incidents", len(d.incidents))],
        ordered=True,
    ),
    Case(
        "except",
        "SELECT student_id FROM students EXCEPT SELECT student_id FROM attendance",
        lambda d: [(x,) for x in {s(st.id) for st in d.students} - {s(a.student_id) for a in d.attendance}],
    ),
    Case(
        "intersect",
        "SELECT student_id FROM attendance INTERSECT SELECT student_id FROM behavior_incidents",
        lambda d: [(x,) for x in {s(a.student_id) for a in d.attendance} & {s(b.student_id) for b in d.incidents}],
    ),
    Case(
        "in_subquery",
        "SELECT count(*) AS n FROM students WHERE student_id IN "
        "(SELECT student_id FROM behavior_incidents WHERE severity IN ('high', 'critical'))",
        lambda d: [
            (
                len(
                    {st.id for st in d.students}
                    & {b.student_id for b in d.incidents if b.severity in ("high", "critical")}
                ),
            )
        ],
    ),
    Case(
        "exists_correlated",
        "SELECT s.student_id FROM students s WHERE EXISTS "
        "(SELECT 1 FROM attendance a WHERE a.student_id = s.student_id AND a.status = 'unexcused_absence')",
        lambda d: [
            (s(st.id),)
            for st in d.students
            if any(a.student_id == st.id and a.status == "unexcused_absence" for a in d.attendance)
        ],
    ),
    Case(
        "scalar_subquery",
        "SELECT o.name, (SELECT count(*) FROM students s WHERE s.org_id = o.org_id) AS n FROM organizations o",
        lambda d: [(o.name, sum(1 for st in d.students if st.org_id == o.id)) for o in d.orgs],
    ),
    Case(
        "having",
        "SELECT student_id, count(*) AS n FROM behavior_incidents GROUP BY student_id HAVING count(*) > 1",
        lambda d: [(k, v) for k, v in Counter(s(b.student_id) for b in d.incidents).items() if v > 1],
    ),
    Case(
        "filter",
        "SELECT count(*) FILTER (WHERE status = 'tardy') AS tardy, count(*) AS total FROM attendance",
        lambda d: [(sum(1 for a in d.attendance if a.status == "tardy"), len(d.attendance))],
    ),
    Case(
        "string_functions",
        "SELECT lower(last_name) || ', ' || upper(first_name) AS n FROM students WHERE length(last_name) > 6",
        lambda d: [(f"{st.last_name.lower()}, {st.first_name.upper()}",) for st in d.students if len(st.last_name) > 6],
    ),
    Case(
        "ilike",
        "SELECT student_id FROM students WHERE last_name ILIKE 'm%'",
        lambda d: [(s(st.id),) for st in d.students if st.last_name.lower().startswith("m")],
    ),
    Case(
        "offering_seats",
        "SELECT f.offering_id, f.capacity, count(e.enrollment_id) AS n FROM offerings f "
        "LEFT JOIN enrollments e ON e.offering_id = f.offering_id AND e.status = 'active' "
        "GROUP BY f.offering_id, f.capacity",
        _offering_seats,
    ),
    Case(
        "min_max_text",
        "SELECT grade_level, min(last_name) AS lo, max(last_name) AS hi FROM students GROUP BY grade_level",
        lambda d: [
            (
                g,
                min(x.last_name for x in d.students if x.grade_level == g),
                max(x.last_name for x in d.students if x.grade_level == g),
            )
            for g in {st.grade_level for st in d.students}
        ],
    ),
    Case(
        "school_days",
        "SELECT org_id, count(*) AS days FROM school_days GROUP BY org_id",
        lambda d: [(s(k), v) for k, v in Counter(x.org_id for x in d.school_days).items()],
    ),
    Case(
        "split_households",
        "SELECT student_id, count(*) AS n FROM household_members GROUP BY student_id HAVING count(*) > 1",
        lambda d: [(k, v) for k, v in Counter(s(m.student_id) for m, _ in d.members).items() if v > 1],
    ),
    Case(
        "to_char",
        "SELECT to_char(day_on, 'YYYY-MM') AS ym, count(*) AS n FROM attendance GROUP BY 1 ORDER BY 1",
        lambda d: counted(a.day_on.strftime("%Y-%m") for a in d.attendance),
        ordered=True,
    ),
    Case(
        "derived_table",
        "SELECT max(n) AS most FROM (SELECT student_id, count(*) AS n FROM attendance GROUP BY student_id) t",
        lambda d: [(max(Counter(a.student_id for a in d.attendance).values(), default=None),)],
    ),
    Case(
        "lag",
        "SELECT student_id, day_on, lag(day_on) OVER (PARTITION BY student_id ORDER BY day_on) AS prev FROM attendance",
        _lags,
    ),
    Case(
        "round_avg",
        "SELECT round(avg(grade_level), 2) AS avg_grade FROM students",
        lambda d: [(round(sum(st.grade_level for st in d.students) / len(d.students), 2),)],
    ),
    Case(
        "fetch_first",
        "SELECT student_id FROM students ORDER BY student_number FETCH FIRST 5 ROWS ONLY",
        lambda d: [(s(st.id),) for st in sorted(d.students, key=lambda x: x.student_number)[:5]],
        ordered=True,
    ),
    Case(
        "greatest",
        "SELECT enrollment_id, greatest(start_on, DATE '2026-01-01') AS g FROM enrollments",
        lambda d: [(s(e.id), max(e.start_on, dt.date(2026, 1, 1)).isoformat()) for e in d.enrollments],
    ),
    Case(
        "health_by_group",
        "SELECT vaccine_group, count(DISTINCT student_id) AS n FROM immunizations GROUP BY vaccine_group",
        lambda d: [
            (g, len({x.student_id for x in d.doses if x.vaccine_group == g}))
            for g in {x.vaccine_group for x in d.doses}
        ],
        who="nurse_austin",
    ),
    Case(
        "exemption_kinds",
        "SELECT kind, count(*) AS n FROM exemptions GROUP BY kind",
        lambda d: counted(x.kind.value for x in d.exemptions),
        who="nurse_austin",
    ),
    Case(
        "guide_students",
        "SELECT count(*) AS n, count(DISTINCT grade_level) AS grades FROM students",
        lambda d: [(len(d.students), len({st.grade_level for st in d.students}))],
        who="guide_austin",
    ),
    Case(
        "network_by_campus",
        "SELECT o.path, count(*) AS n FROM students s JOIN organizations o ON o.org_id = s.org_id GROUP BY o.path",
        lambda d: [
            (o.path, sum(1 for st in d.students if st.org_id == o.id))
            for o in d.orgs
            if any(st.org_id == o.id for st in d.students)
        ],
        who="network_admin",
    ),
]


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if hasattr(value, "value") and not isinstance(value, str | int):
        return value.value
    return value


def _rows(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple(_normal(v) for v in row) for row in rows]


def _data_for(session, who: str) -> Data:
    if who == "network_admin":
        return _load(session, "/")
    if who == "guide_austin":
        guide = session.execute(select(User.id).where(User.email == "guide.austin@sis.example")).scalar_one()
        mine = set(
            session.execute(select(GuideAssignment.student_id).where(GuideAssignment.guide_user_id == guide)).scalars()
        )
        return _load(session, AUSTIN_PATH, only_students=mine)
    return _load(session, AUSTIN_PATH)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_benign_query_returns_exactly_the_rows_in_scope(run_sql, demo_session, case):
    data = _data_for(demo_session, case.who)
    expected = _rows(case.expected(data))
    outcome = run_sql(case.who, case.sql, limit=1000)
    assert outcome.error is None, outcome.error and outcome.error.message
    assert outcome.output is not None
    assert not outcome.output["truncated"]
    got = _rows(outcome.output["rows"])
    if case.ordered:
        assert got == expected
    else:
        assert sorted(got, key=repr) == sorted(expected, key=repr)


def test_the_benign_suite_has_at_least_thirty_queries():
    assert len(CASES) >= 30
