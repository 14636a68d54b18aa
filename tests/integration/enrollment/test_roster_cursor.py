"""Keyset paging of the roster: a cursor walk returns every stint once, in the offset walk's order, refuses a
forged or foreign cursor by name, and never repeats a row when stints are added while it walks."""

from __future__ import annotations

import datetime as dt

import pytest

from db.models import OrgLevel
from domain.enrollment.roster import query_roster
from domain.enrollment.schemas import RosterQuery
from domain.errors import InvalidInput
from tests.factories import create_enrollment, create_offering, create_org, create_student, scope_at

AS_OF = dt.date(2025, 10, 1)


@pytest.fixture()
def campus(session):
    """A campus whose roster has name ties (same last and first name) and students with two stints on one day."""
    network = create_org(session, level=OrgLevel.NETWORK)
    org = create_org(session, parent=network)
    year, camp = create_offering(session, org), create_offering(session, org, capacity=None)
    for i in range(23):
        student = create_student(session, org, first_name="Ana" if i % 3 else "Bo", last_name=f"Name{i % 7}")
        create_enrollment(session, student, year)
        if i % 4 == 0:
            create_enrollment(session, student, camp, start_on=year.start_on)  # same day: the id breaks the tie
    return {"org": org, "offering": year, "scope": scope_at(org)}


def _walk_by_cursor(session, scope, **query):
    pages, after = [], None
    while True:
        page = query_roster(session, scope, RosterQuery(as_of=AS_OF, limit=4, after=after, **query))
        pages.append(page)
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


def _walk_by_offset(session, scope, **query):
    pages, offset = [], 0
    while offset is not None:
        page = query_roster(session, scope, RosterQuery(as_of=AS_OF, limit=4, offset=offset, **query))
        pages.append(page)
        offset = page.next_offset
    return pages


def test_a_cursor_walk_returns_every_stint_once_in_the_order_of_the_offset_walk(session, campus):
    by_cursor = _walk_by_cursor(session, campus["scope"])
    by_offset = _walk_by_offset(session, campus["scope"])
    cursor_ids = [i.enrollment_id for p in by_cursor for i in p.items]
    offset_ids = [i.enrollment_id for p in by_offset for i in p.items]
    assert cursor_ids == offset_ids
    assert len(cursor_ids) == len(set(cursor_ids)) == by_offset[0].total == 29
    # The pages agree on where they stand and on the totals, counted once on the first page.
    assert [p.offset for p in by_cursor] == [p.offset for p in by_offset]
    assert {(p.total, p.total_students) for p in by_cursor} == {(29, 23)}
    assert by_cursor[-1].next_offset is None and by_offset[-1].next_cursor is None


def test_a_forged_or_edited_cursor_is_refused_naming_after(session, campus):
    first = query_roster(session, campus["scope"], RosterQuery(as_of=AS_OF, limit=4))
    assert first.next_cursor
    payload, _, check = first.next_cursor.partition(".")
    for forged in ("not-a-cursor", first.next_cursor[:-3], payload[::-1] + "." + check, "eyJ2IjoxfQ.0000"):
        with pytest.raises(InvalidInput) as refused:
            query_roster(session, campus["scope"], RosterQuery(as_of=AS_OF, limit=4, after=forged))
        assert refused.value.field == "after"


def test_a_cursor_from_another_query_or_beside_an_offset_is_refused(session, campus):
    first = query_roster(session, campus["scope"], RosterQuery(as_of=AS_OF, limit=4))
    with pytest.raises(InvalidInput, match="another query") as foreign:
        query_roster(session, campus["scope"], RosterQuery(as_of=AS_OF, limit=4, grade=4, after=first.next_cursor))
    assert foreign.value.field == "after"
    with pytest.raises(InvalidInput) as both:
        query_roster(session, campus["scope"], RosterQuery(as_of=AS_OF, limit=4, offset=4, after=first.next_cursor))
    assert both.value.field == "offset"
    # A page size may change in the middle of a walk: it is not part of the query.
    assert query_roster(session, campus["scope"], RosterQuery(as_of=AS_OF, limit=9, after=first.next_cursor)).items


def test_stints_added_during_a_cursor_walk_never_repeat_a_row(session, campus):
    """Inserting before the reader's position shifts an offset walk (a row seen twice); a cursor walk is unmoved."""
    org, offering, scope = campus["org"], campus["offering"], campus["scope"]

    def add_student(last_name):
        create_enrollment(session, create_student(session, org, first_name="New", last_name=last_name), offering)

    seen_by_cursor, seen_by_offset = [], []
    after, offset = None, 0
    for _ in range(20):
        by_cursor = query_roster(session, scope, RosterQuery(as_of=AS_OF, limit=4, after=after))
        by_offset = query_roster(session, scope, RosterQuery(as_of=AS_OF, limit=4, offset=offset))
        seen_by_cursor += [i.enrollment_id for i in by_cursor.items]
        seen_by_offset += [i.enrollment_id for i in by_offset.items]
        if by_cursor.next_cursor is None:
            break
        after, offset = by_cursor.next_cursor, by_offset.next_offset
        add_student("Aaa")  # sorts before every position: shifts the offset walk
        add_student("Zzz")  # after every position: the cursor walk reaches it
    assert len(seen_by_cursor) == len(set(seen_by_cursor))
    assert len(seen_by_offset) > len(set(seen_by_offset))
    last_names = [i.last_name for i in by_cursor.items]
    assert "Zzz" in last_names


def test_through_the_runner_a_forged_cursor_is_a_400_naming_after_and_a_real_one_resumes(demo_deps, persona):
    from tools.runner import ToolCallError, run_tool

    registrar = persona("registrar_austin")
    first = run_tool(demo_deps, registrar, "query_roster", {"limit": 3}).data
    second = run_tool(demo_deps, registrar, "query_roster", {"limit": 3, "after": first["next_cursor"]}).data
    assert second["offset"] == 3 and second["items"][0] != first["items"][-1]
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, registrar, "query_roster", {"limit": 3, "after": first["next_cursor"] + "x"})
    assert (refused.value.status, refused.value.field) == (422, "after")
