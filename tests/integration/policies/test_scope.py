"""How grants become a Scope: subtrees by path segment, ROSTER_ONLY orgs, guides, keys, caching."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select

from db.models import Enrollment, OrgKind, OrgLevel, Student
from domain.errors import NotFound
from policies.authorize import decide
from policies.enforcer import PolicyEnforcer, default_enforcer
from policies.orgtree import org_index
from policies.principal import AuthMethod, load_principal
from policies.scope import Action, DataClass
from tests.factories import assign_guide, create_enrollment, create_offering, create_org, create_student, create_user
from tests.integration.policies.conftest import grant, persona, scope_of

D, R, W = DataClass, Action.READ, Action.WRITE


def test_grant_at_a_node_never_reaches_a_sibling_whose_name_extends_it(session):
    root = create_org(session, slug=f"n{uuid.uuid4().hex[:6]}", level=OrgLevel.NETWORK)
    b = create_org(session, parent=root, slug="b", level=OrgLevel.BRAND)
    bc = create_org(session, parent=root, slug="bc", level=OrgLevel.BRAND)
    b_campus = create_org(session, parent=b, slug="c")
    bc_campus = create_org(session, parent=bc, slug="c")
    user, principal = persona(session, ("network_admin", b))
    scope = scope_of(session, principal)
    index = org_index(session)
    casbin = PolicyEnforcer()
    casbin.add_grant_line(str(user.id), "network_admin", b.path)

    assert scope.orgs(D.DIRECTORY) == {b.id, b_campus.id}
    for org, inside in ((b, True), (b_campus, True), (bc, False), (bc_campus, False), (root, False)):
        assert decide(default_enforcer(), index, principal, D.DIRECTORY, R, org.id) is inside, org.path
        assert casbin.enforce(str(user.id), org.path, D.DIRECTORY, R) is inside, org.path


def test_roster_only_orgs_never_carry_financial_or_admissions_data(session):
    root = create_org(session, level=OrgLevel.NETWORK)
    full = create_org(session, parent=root)
    roster = create_org(session, parent=root, kind=OrgKind.ROSTER_ONLY)
    # A program node below a ROSTER_ONLY school is roster-only too, whatever its own kind.
    roster_program = create_org(session, parent=roster, level=OrgLevel.PROGRAM, kind=OrgKind.FULL_SIS)
    _, admin = persona(session, ("network_admin", root))
    scope = scope_of(session, admin)
    index = org_index(session)

    for data_class in (D.FINANCIAL, D.ADMISSIONS):
        for action in Action:
            assert scope.orgs(data_class, action) == {root.id, full.id}
            assert not decide(default_enforcer(), index, admin, data_class, action, roster_program.id)
    assert scope.orgs(D.DIRECTORY) == {root.id, full.id, roster.id, roster_program.id}
    assert scope.orgs(D.HEALTH) == {root.id, full.id, roster.id, roster_program.id}


def test_integration_client_maintains_rosters_at_its_roster_only_school(session):
    root = create_org(session, level=OrgLevel.NETWORK)
    roster = create_org(session, parent=root, kind=OrgKind.ROSTER_ONLY)
    other = create_org(session, parent=root, kind=OrgKind.ROSTER_ONLY)
    _, client = persona(session, ("integration", roster))
    scope = scope_of(session, client)

    assert scope.orgs(D.DIRECTORY, W) == {roster.id}
    assert not scope.allows_org(other.id, D.DIRECTORY)
    assert not scope.can(D.CONTACT) and not scope.can(D.ADMISSIONS)


def test_guide_sees_only_assigned_students(session):
    campus = create_org(session)
    mine, theirs = create_student(session, campus), create_student(session, campus)
    offering = create_offering(session, campus)
    for student in (mine, theirs):
        create_enrollment(session, student, offering)
    guide_user, guide = persona(session, ("guide", campus))
    assign_guide(session, guide_user, mine, start_on=dt.date(2025, 8, 18))
    scope = scope_of(session, guide)

    students = set(session.execute(select(Student.id).where(scope.student_filter(D.DIRECTORY))).scalars())
    enrolled = set(
        session.execute(
            select(Enrollment.student_id).where(
                scope.row_filter(Enrollment.org_id, Enrollment.student_id, D.ATTENDANCE)
            )
        ).scalars()
    )
    assert scope.guide_user_id == guide_user.id
    assert students == {mine.id}
    assert enrolled == {mine.id}
    assert not scope.can(D.HEALTH) and not scope.can(D.FINANCIAL) and not scope.can(D.CONTACT)


def test_guide_who_is_also_registrar_elsewhere_sees_that_whole_campus(session):
    root = create_org(session, level=OrgLevel.NETWORK)
    coached, registered = create_org(session, parent=root), create_org(session, parent=root)
    mine, not_mine = create_student(session, coached), create_student(session, coached)
    at_registered = create_student(session, registered)
    user, principal = persona(session, ("guide", coached), ("registrar", registered))
    assign_guide(session, user, mine, start_on=dt.date(2025, 8, 18))
    scope = scope_of(session, principal)

    seen = set(session.execute(select(Student.id).where(scope.student_filter(D.DIRECTORY))).scalars())
    assert seen == {mine.id, at_registered.id}
    assert not_mine.id not in seen
    # Behavior: the guide's own students at the coached campus, everyone at the registrar's campus.
    behavior = set(session.execute(select(Student.id).where(scope.student_filter(D.BEHAVIOR))).scalars())
    assert behavior == {mine.id, at_registered.id}


def test_guide_who_is_also_registrar_at_the_campus_keeps_guide_limits_only_where_registrar_lacks_them(session):
    campus = create_org(session)
    students = {create_student(session, campus).id for _ in range(3)}
    user, principal = persona(session, ("guide", campus), ("registrar", campus))
    mine = create_student(session, campus)
    assign_guide(session, user, mine, start_on=dt.date(2025, 8, 18))
    scope = scope_of(session, principal)

    def visible(data_class, action=R):
        return set(session.execute(select(Student.id).where(scope.student_filter(data_class, action))).scalars())

    # The registrar role reads the whole campus; only the guide role writes behavior, for its own student.
    assert visible(D.DIRECTORY) == students | {mine.id}
    assert visible(D.BEHAVIOR) == students | {mine.id}
    assert visible(D.BEHAVIOR, W) == {mine.id}


def test_expired_grants_are_ignored(session):
    campus = create_org(session)
    user = create_user(session)
    grant(session, user, "registrar", campus, expires_on=dt.date(2020, 1, 1))
    grant(session, user, "nurse", campus, expires_on=dt.date(2999, 1, 1))
    principal = load_principal(session, user_id=user.id)

    assert principal.roles == ("nurse",)
    assert not scope_of(session, principal).can(D.ATTENDANCE)


def test_principal_is_loaded_by_email_in_any_case_and_unknown_users_are_not_found(session):
    user = create_user(session, email=f"Mixed{uuid.uuid4().hex[:6]}@Example.org")
    assert load_principal(session, email=user.email.upper()).user_id == user.id
    with pytest.raises(NotFound):
        load_principal(session, email="nobody@example.org")
    user.is_active = False
    session.flush()
    with pytest.raises(NotFound):
        load_principal(session, user_id=user.id)


def test_api_key_org_limit_and_scopes_only_narrow_the_owners_grants(session):
    root = create_org(session, level=OrgLevel.NETWORK)
    austin, miami = create_org(session, parent=root), create_org(session, parent=root)
    _, admin = persona(session, ("network_admin", root))
    _, nurse = persona(session, ("nurse", austin))

    keyed = replace(admin, auth_method=AuthMethod.API_KEY, token_scopes=("roster.readonly",), org_limit_id=austin.id)
    scope = scope_of(session, keyed)
    assert scope.orgs(D.DIRECTORY) == {austin.id}
    assert not scope.can(D.DIRECTORY, W) and not scope.can(D.HEALTH)

    # A key cannot widen: a nurse's sis.write key limited to the whole network is still a nurse at Austin.
    widened = replace(nurse, token_scopes=("sis.write",), org_limit_id=root.id)
    scope = scope_of(session, widened)
    assert scope.orgs(D.HEALTH, W) == {austin.id}
    assert not scope.allows_org(miami.id, D.DIRECTORY)
    assert not scope.can(D.ATTENDANCE)

    outside = replace(nurse, token_scopes=("sis.read",), org_limit_id=miami.id)
    assert not scope_of(session, outside).can(D.DIRECTORY)


def test_columns_of_unreadable_classes_are_hidden(session):
    campus = create_org(session)
    _, guide = persona(session, ("guide", campus))
    _, registrar = persona(session, ("registrar", campus))
    guide_scope, registrar_scope = scope_of(session, guide), scope_of(session, registrar)

    assert guide_scope.hides("student", "birth_on") and guide_scope.hides("student", "address")
    assert not guide_scope.hides("student", "first_name")
    assert not registrar_scope.hides("student", "birth_on")
    assert registrar_scope.hides("medication", "name") and registrar_scope.hides("allergy", "allergen")
    assert not registrar_scope.hides("immunization_record", "cvx_code")
    assert guide_scope.hides("immunization_record", "cvx_code")
    assert registrar_scope.hides("api_key", "secret_hash")


def test_a_new_org_below_a_grant_is_in_scope_on_the_next_request(session):
    brand = create_org(session, level=OrgLevel.BRAND)
    _, principal = persona(session, ("registrar", brand))
    assert scope_of(session, principal).orgs(D.DIRECTORY) == {brand.id}

    campus = create_org(session, parent=brand)
    assert scope_of(session, principal).orgs(D.DIRECTORY) == {brand.id, campus.id}


def test_each_request_gets_its_own_operation_id_and_a_summary_for_the_log(session):
    campus = create_org(session)
    _, principal = persona(session, ("nurse", campus))
    first, second = scope_of(session, principal), scope_of(session, principal)

    assert first.actor.operation_id != second.actor.operation_id
    assert first.actor.label == principal.email and first.roles == ("nurse",)
    assert first.summary["health:write"] == (campus.path,)
    assert first.policy_version == default_enforcer().version


def test_a_scope_over_every_org_sends_no_id_list_and_sees_the_same_rows(session):
    from db.models import Organization

    create_student(session, create_org(session, slug=f"w{uuid.uuid4().hex[:6]}", level=OrgLevel.NETWORK))
    roots = session.execute(select(Organization).where(Organization.parent_id.is_(None))).scalars().all()
    _, principal = persona(session, *[("network_admin", root) for root in roots])
    scope = scope_of(session, principal)
    listed = replace(scope, all_orgs=None)  # the same decision, filtered by the id list

    assert scope.all_orgs is not None and scope.orgs(D.DIRECTORY) >= scope.all_orgs
    covering = scope.student_filter(D.DIRECTORY)
    assert "IS NOT NULL" in str(covering.compile(session.get_bind()))
    got = set(session.execute(select(Student.id).where(covering)).scalars())
    assert got == set(session.execute(select(Student.id).where(listed.student_filter(D.DIRECTORY))).scalars())
    assert got == set(session.execute(select(Student.id)).scalars())
    # Health excludes roster-only schools, so its set does not cover the tree: the list stays.
    if scope.orgs(D.HEALTH) < scope.all_orgs:
        assert "IS NOT NULL" not in str(scope.student_filter(D.HEALTH).compile(session.get_bind()))
