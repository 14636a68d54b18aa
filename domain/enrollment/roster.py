"""The roster: enrollment stints on a date in the caller's scope, sorted by name, paged by offset or cursor.

The order is (last name, first name, student number, start date, enrollment id): the student
number is unique, so the first three name one student, and the enrollment id breaks the last
tie, so every row has one place and a keyset cursor (domain/cursor.py) can resume right after
it. A cursor walk reads each page from its position (PostgreSQL seeks ix_student_roster_order,
migration 0016) and counts the totals once, on its first page; an offset page skips and counts
again every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Enrollment, EnrollmentStatus, Program, ProgramOffering, Student
from domain import cursor
from domain.enrollment.schemas import RosterEntry, RosterPage, RosterQuery
from domain.errors import InvalidInput
from domain.org.service import org_names
from domain.paging import page_meta, total_from_page
from domain.visibility import org_condition
from policies.scope import DataClass, Scope

# Stints that hold a seat or block a second stint in the same offering.
HOLDING = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)

# The student's part of the order and the stint's part; together unique.
_STUDENT_KEY = (Student.last_name, Student.first_name, Student.student_number)
_STINT_KEY = (Enrollment.start_on, Enrollment.id)
_KINDS = ("str", "str", "int", "date", "uuid")
_LIST = "query_roster"


def _status_filter(data: RosterQuery) -> ColumnElement[bool]:
    if data.status is None:
        # Membership on the day, including stints that have ended since (historic rosters stay true).
        return Enrollment.active_on(data.as_of)
    if data.status is EnrollmentStatus.ACTIVE:
        return and_(Enrollment.active_on(data.as_of), Enrollment.status.in_(HOLDING))
    if data.status is EnrollmentStatus.PENDING:
        # Stored pending (the job moves it on its first day), or a historic roster of a stint not yet begun.
        return or_(
            Enrollment.status == EnrollmentStatus.PENDING,
            and_(Enrollment.status.in_(HOLDING), Enrollment.start_on > data.as_of),
        )
    return and_(Enrollment.status == data.status, Enrollment.end_on <= data.as_of)


# Plain columns, not ORM entities: a roster page is read-only and this path is hot. Built once
# (building it per call cost about as much as running it). Each column is labelled with the
# RosterEntry field it fills; `campus` comes from the org memo.
_ROSTER_PAGE = (
    select(
        Enrollment.id.label("enrollment_id"),
        Student.id.label("student_id"),
        Student.student_number.label("student_number"),
        Student.first_name.label("first_name"),
        Student.last_name.label("last_name"),
        Enrollment.grade_level.label("grade_level"),
        Enrollment.org_id.label("org_id"),
        ProgramOffering.id.label("offering_id"),
        ProgramOffering.name.label("offering"),
        Program.name.label("program"),
        Enrollment.status.label("status"),
        Enrollment.start_on.label("start_on"),
        Enrollment.end_on.label("end_on"),
    )
    .select_from(Enrollment)
    .join(Student, Student.id == Enrollment.student_id)
    .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
    .join(Program, Program.id == ProgramOffering.program_id)
    .order_by(*_STUDENT_KEY, *_STINT_KEY)
)


def _bound(columns: tuple[Any, ...], values: tuple[Any, ...]) -> Any:
    return tuple_(*(bindparam(None, v, type_=c.type) for c, v in zip(columns, values, strict=True)))


def _after(key: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows after `key` in roster order: the student part as its own (index-seekable) bound, then the tie."""
    student, stint = key[:3], key[3:]
    return and_(
        tuple_(*_STUDENT_KEY) >= _bound(_STUDENT_KEY, student),
        or_(tuple_(*_STUDENT_KEY) > _bound(_STUDENT_KEY, student), tuple_(*_STINT_KEY) > _bound(_STINT_KEY, stint)),
    )


def _conditions(session: Session, scope: Scope, data: RosterQuery) -> tuple[Scope, list[ColumnElement[bool]]]:
    scope, in_org = org_condition(session, scope, Enrollment.org_id, data.org_id)
    conditions = [
        scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.DIRECTORY),
        in_org,
        _status_filter(data),
    ]
    if data.offering_id is not None:
        conditions.append(Enrollment.offering_id == data.offering_id)
    if data.program_id is not None:
        conditions.append(
            Enrollment.offering_id.in_(select(ProgramOffering.id).where(ProgramOffering.program_id == data.program_id))
        )
    if data.grade is not None:
        conditions.append(Enrollment.grade_level == data.grade)
    return scope, conditions


def _totals(
    session: Session, conditions: list[ColumnElement[bool]], rows: Sequence[Any], data: RosterQuery
) -> dict[str, int]:
    total = total_from_page(len(rows), data.limit, data.offset)
    if total is None:
        # The count needs no joins: every filter is on the enrollment row itself.
        total = session.execute(select(func.count()).select_from(Enrollment).where(*conditions)).scalar_one()
    if data.offset == 0 and total == len(rows):
        students = len({row.student_id for row in rows})
    else:
        students = session.execute(
            select(func.count(func.distinct(Enrollment.student_id))).where(*conditions)
        ).scalar_one()
    return {"total": total, "students": students}


def query_roster(session: Session, scope: Scope, data: RosterQuery) -> RosterPage:
    """Stints matching the filters as of a date, in the caller's scope, sorted by name; paginated.

    `total` and `total_enrollments` count stints; `total_students` counts distinct students (a
    student in the main year and a camp is one student, two enrollments). With `after`, the totals
    are those of the walk's first page.

    Raises:
        InvalidInput: `after` is not a cursor of this query, or is combined with an offset.
    """
    bound_to = cursor.fingerprint(_LIST, data.model_dump(mode="json", exclude={"limit", "offset", "after"}))
    position = None
    if data.after is not None:
        if data.offset:
            raise InvalidInput("give either after (a cursor) or offset, not both", field="offset")
        position = cursor.decode(data.after, bound_to, _KINDS, field="after")
    scope, conditions = _conditions(session, scope, data)
    where = [*conditions, _after(position.key)] if position else conditions
    # One row more than the page shows whether another page follows, without counting.
    fetched = session.execute(_ROSTER_PAGE.where(*where).limit(data.limit + 1).offset(data.offset)).all()
    rows, more = fetched[: data.limit], len(fetched) > data.limit
    if position is None:
        totals, passed = _totals(session, conditions, rows, data), data.offset
    else:
        totals, passed = dict(position.totals), position.passed
    next_cursor = None
    if more:
        last = rows[-1]
        key = (last.last_name, last.first_name, last.student_number, last.start_on, last.enrollment_id)
        next_cursor = cursor.encode(bound_to, _KINDS, cursor.Position(key, passed + len(rows), totals))
    # Campus names come from the org tree's version, not a fifth join: planning that join cost
    # PostgreSQL more than running the whole query.
    names = org_names(session, scope, {row.org_id for row in rows})
    items = [RosterEntry(**row._mapping, campus=names[row.org_id]) for row in rows]
    meta = page_meta(max(totals["total"], passed + len(rows) + more), data.limit, passed)
    if not more:
        meta["next_offset"] = None
    return RosterPage(
        as_of=data.as_of,
        items=items,
        total_enrollments=meta["total"],
        total_students=totals["students"],
        next_cursor=next_cursor,
        **meta,
    )
