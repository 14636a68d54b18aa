"""Student directory: search by name or number, profiles masked by data class, scope as not-found."""

from __future__ import annotations

import pytest

from domain.errors import NotFound
from domain.student.schemas import StudentSearchQuery
from domain.student.service import get_student, search_students
from policies.scope import DataClass
from tests.factories import create_org, create_student, create_user, scope_at


def test_search_finds_students_by_name_fragment_and_number(session):
    austin = create_org(session)
    ada = create_student(session, austin, first_name="Ada", last_name="Lovelace")
    create_student(session, austin, first_name="Alan", last_name="Turing")
    scope = scope_at(austin)
    assert [s.id for s in search_students(session, scope, StudentSearchQuery(text="lovel")).items] == [ada.id]
    assert [s.id for s in search_students(session, scope, StudentSearchQuery(text="ada LOVE")).items] == [ada.id]
    by_number = search_students(session, scope, StudentSearchQuery(text=str(ada.student_number)))
    assert [s.id for s in by_number.items] == [ada.id]


def test_search_treats_like_wildcards_as_text(session):
    austin = create_org(session)
    create_student(session, austin, first_name="Bob", last_name="Smith")
    assert search_students(session, scope_at(austin), StudentSearchQuery(text="%")).total == 0


def test_search_never_returns_students_outside_scope(session):
    austin, miami = create_org(session), create_org(session)
    create_student(session, miami, first_name="Maria", last_name="Lopez")
    assert search_students(session, scope_at(austin), StudentSearchQuery(text="lopez")).total == 0


def test_profile_hides_contact_and_demographics_from_a_directory_only_role(session):
    austin = create_org(session)
    student = create_student(session, austin)
    student.address, student.phone = "1 Main St", "555-0100"
    session.flush()
    directory_only = scope_at(austin, classes=[DataClass.DIRECTORY])
    profile = get_student(session, directory_only, student.id)
    assert (profile.address, profile.phone, profile.birth_on) == (None, None, None)
    assert profile.hidden == ["contact", "demographics"]
    full = get_student(session, scope_at(austin), student.id)
    assert (full.address, full.phone, full.birth_on) == ("1 Main St", "555-0100", student.birth_on)
    assert full.hidden == []


def test_out_of_campus_student_profile_is_not_found(session):
    austin, miami = create_org(session), create_org(session)
    with pytest.raises(NotFound):
        get_student(session, scope_at(austin), create_student(session, miami).id)


def test_guide_finds_only_assigned_students(session):
    from tests.factories import assign_guide

    austin = create_org(session)
    guide = create_user(session)
    mine = create_student(session, austin, last_name="Mine")
    create_student(session, austin, last_name="Other")
    assign_guide(session, guide, mine, start_on=mine.birth_on)
    scope = scope_at(austin, guide_user_id=guide.id)
    assert [s.id for s in search_students(session, scope, StudentSearchQuery()).items] == [mine.id]
