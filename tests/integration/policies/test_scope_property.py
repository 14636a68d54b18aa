"""Property: for random personas on random trees, scoped queries return exactly the rows the grants allow.

The expected rows are computed here in plain Python from the grants, the hand-written matrix
(tests/integration/policies/expected.py), org paths and guide assignments, independently of
policies/authorize.py; the actual rows come from SQL filtered by the Scope.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from db.models import Enrollment, Organization, OrgKind, OrgLevel, Student
from policies.principal import TOKEN_SCOPES
from policies.scope import Action, DataClass
from tests.factories import assign_guide, create_enrollment, create_offering, create_org, create_student
from tests.integration.policies.conftest import persona, scope_of
from tests.integration.policies.expected import FULL_SIS_ONLY, ROLES, role_allows

# A tree as a list of parent indexes (node 0 is the root); kinds and students per node.
trees = st.integers(min_value=2, max_value=9).flatmap(
    lambda n: st.tuples(
        st.tuples(*[st.integers(min_value=0, max_value=i - 1) for i in range(1, n)]),
        st.lists(st.booleans(), min_size=n, max_size=n),  # ROSTER_ONLY?
        st.lists(st.integers(min_value=0, max_value=2), min_size=n, max_size=n),  # students per node
    )
)
queries = st.tuples(st.sampled_from(list(DataClass)), st.sampled_from(list(Action)))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tree=trees,
    # Guides are drawn more often: their relationship limit is the subtlest part of a scope.
    grant_picks=st.lists(
        st.tuples(st.one_of(st.just("guide"), st.sampled_from(ROLES)), st.integers(min_value=0)),
        min_size=1,
        max_size=3,
    ),
    limit_pick=st.one_of(st.none(), st.integers(min_value=0)),
    token=st.one_of(st.none(), st.lists(st.sampled_from(sorted(TOKEN_SCOPES)), min_size=1, max_size=2)),
    assigned_picks=st.lists(st.integers(min_value=0), max_size=4),
    query_list=st.lists(queries, min_size=1, max_size=4),
)
def test_scoped_queries_return_exactly_the_rows_the_grants_allow(
    session, tree, grant_picks, limit_pick, token, assigned_picks, query_list
):
    parents, roster_flags, student_counts = tree
    savepoint = session.begin_nested()
    try:
        slug = f"p{uuid.uuid4().hex[:8]}"
        nodes: list[Organization] = [create_org(session, slug=slug, level=OrgLevel.NETWORK)]
        for i, parent in enumerate(parents, start=1):
            kind = OrgKind.ROSTER_ONLY if roster_flags[i] else OrgKind.FULL_SIS
            nodes.append(create_org(session, parent=nodes[parent], kind=kind, level=OrgLevel.CAMPUS))
        students: list[Student] = []
        enrollment_orgs: dict[uuid.UUID, list[Organization]] = {}
        for node, count in zip(nodes, student_counts, strict=True):
            for _ in range(count):
                student = create_student(session, node)
                students.append(student)
                # Each student is also enrolled at a (possibly different) node: rows carry their own org.
                where = nodes[(len(students) * 7) % len(nodes)]
                create_enrollment(session, student, create_offering(session, where, capacity=None))
                enrollment_orgs.setdefault(student.id, []).append(where)

        picked = {(role, pick % len(nodes)) for role, pick in grant_picks}
        grants = [(role, nodes[i]) for role, i in sorted(picked)]
        user, principal = persona(session, *grants)
        assigned = {students[p % len(students)].id for p in assigned_picks} if students else set()
        for student in students:
            if student.id in assigned:
                assign_guide(session, user, student, start_on=dt.date(2025, 8, 18))
        limit = nodes[limit_pick % len(nodes)] if limit_pick is not None else None
        if limit is not None or token is not None:
            principal = replace(principal, org_limit_id=limit.id if limit else None, token_scopes=tuple(token or ()))
        scope = scope_of(session, principal)

        def roster_only(org: Organization) -> bool:
            return any(org.path.startswith(n.path) and n.kind == OrgKind.ROSTER_ONLY for n in nodes)

        def token_allows(data_class: DataClass, action: Action) -> bool:
            if token is None and limit is None:
                return True
            return any((data_class, action) in TOKEN_SCOPES[name] for name in token or ())

        def allowed(org: Organization, student_id: uuid.UUID, data_class: DataClass, action: Action) -> bool:
            if data_class in FULL_SIS_ONLY and roster_only(org):
                return False
            if limit is not None and not org.path.startswith(limit.path):
                return False
            if not token_allows(data_class, action):
                return False
            return any(
                role_allows(role, data_class, action)
                and org.path.startswith(at.path)
                and (role != "guide" or student_id in assigned)
                for role, at in grants
            )

        by_id = {n.id: n for n in nodes}
        for data_class, action in query_list:
            got_students = set(
                session.execute(select(Student.id).where(scope.student_filter(data_class, action))).scalars()
            )
            want_students = {s.id for s in students if allowed(by_id[s.org_id], s.id, data_class, action)}
            assert got_students == want_students, (data_class, action, grants)

            rows = session.execute(
                select(Enrollment.student_id, Enrollment.org_id).where(
                    scope.row_filter(Enrollment.org_id, Enrollment.student_id, data_class, action)
                )
            )
            got_enrollments = {(sid, oid) for sid, oid in rows}
            want_enrollments = {
                (sid, org.id)
                for sid, orgs in enrollment_orgs.items()
                for org in orgs
                if allowed(org, sid, data_class, action)
            }
            assert got_enrollments == want_enrollments, (data_class, action, grants)

            # Cut down to one node's subtree (a question about one campus), the answer is the same
            # rows restricted to that subtree: Scope.within is exact on the column it filters.
            at = nodes[(len(students) + len(query_list)) % len(nodes)]
            narrowed = scope.within(at.id)
            assert narrowed is not None
            below = {n.id for n in nodes if n.path.startswith(at.path)}
            rows = session.execute(
                select(Enrollment.student_id, Enrollment.org_id).where(
                    narrowed.row_filter(Enrollment.org_id, Enrollment.student_id, data_class, action),
                    narrowed.subtree_filter(Enrollment.org_id, at.id),
                )
            )
            assert {(sid, oid) for sid, oid in rows} == {p for p in want_enrollments if p[1] in below}
    finally:
        savepoint.rollback()
