"""Keyset paging of search_students: the cursor walk equals the offset walk, a forged cursor is refused by name,
and students added while walking never repeat one already seen."""

from __future__ import annotations

import pytest

from db.models import OrgLevel
from domain.errors import InvalidInput
from domain.student.schemas import StudentSearchQuery
from domain.student.service import search_students
from tests.factories import create_org, create_student, scope_at


@pytest.fixture()
def campus(session):
    network = create_org(session, level=OrgLevel.NETWORK)
    org = create_org(session, parent=network)
    for i in range(17):  # name ties: the student number decides
        create_student(session, org, first_name="Ana" if i % 2 else "Bo", last_name=f"Same{i % 3}")
    return org


def _walk(session, scope, org, **paging):
    ids, after, offset = [], None, 0
    while True:
        query = StudentSearchQuery(org_id=org.id, limit=4, **({"after": after} if after else {"offset": offset}))
        page = search_students(session, scope, query)
        ids += [s.id for s in page.items]
        if paging.get("by") == "cursor":
            if page.next_cursor is None:
                return ids
            after = page.next_cursor
        else:
            if page.next_offset is None:
                return ids
            offset = page.next_offset


def test_a_cursor_walk_of_the_search_equals_the_offset_walk(session, campus):
    scope = scope_at(campus)
    by_cursor = _walk(session, scope, campus, by="cursor")
    assert by_cursor == _walk(session, scope, campus, by="offset")
    assert len(by_cursor) == len(set(by_cursor)) == 17


def test_a_forged_search_cursor_is_refused_naming_after(session, campus):
    page = search_students(session, scope_at(campus), StudentSearchQuery(org_id=campus.id, limit=4))
    with pytest.raises(InvalidInput) as refused:
        search_students(session, scope_at(campus), StudentSearchQuery(org_id=campus.id, after=page.next_cursor[1:]))
    assert refused.value.field == "after"


def test_students_added_during_a_search_walk_never_repeat_one(session, campus):
    scope, seen, after = scope_at(campus), [], None
    for _ in range(10):
        page = search_students(session, scope, StudentSearchQuery(org_id=campus.id, limit=4, after=after))
        seen += [s.id for s in page.items]
        if page.next_cursor is None:
            break
        after = page.next_cursor
        create_student(session, campus, last_name="Aaa")
        create_student(session, campus, last_name="Zzz")
    assert len(seen) == len(set(seen))
    assert "Zzz" in {s.last_name for s in page.items}
