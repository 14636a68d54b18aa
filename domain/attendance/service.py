"""Attendance measured against the school calendar, computed with SQL aggregates.

Semantics:

- A ``SchoolDay`` row is an instructional day of a campus.
- A student's *membership days* over a period are the distinct days that are school days of a
  campus where the student has an enrollment stint active on that day (``Enrollment.active_on``:
  ``start_on <= day <= coalesce(end_on, day)`` and status not ``pending``) and that fall inside
  the period. Concurrent stints on one day count that day once.
- ``AttendanceRecord`` rows exist only for non-present statuses (tardy, excused absence,
  unexcused absence). A membership day without a row is a present day. Records on days that are
  not membership days (a holiday, before entry, after exit) are ignored by every measure.
- *Absent days* are membership days whose record status is in ``ABSENT_STATUSES``; tardy days
  count as present. The *attendance rate* is ``(membership - absent) / membership``.
- A student is *chronically absent* when the rate is at or below the threshold (0.90 by
  default: missing 10% or more of membership days) over at least ``min_membership_days``
  (default 10) membership days, so a student enrolled last week is not flagged.
- Recording ``present`` deletes the day's record, if any, after logging the status change to
  ``present`` as change events; recording ``present`` on a day without a record writes nothing.
- Scope: a membership day is visible when the enrollment's campus is inside the caller's
  ATTENDANCE scope (and, for a guide, the student is assigned to them).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CTE, Subquery

from db.models import (
    ABSENT_STATUSES,
    AttendanceRecord,
    AttendanceStatus,
    Enrollment,
    EnrollmentStatus,
    SchoolDay,
    Student,
)
from domain.attendance.rules import attendance_rate, threshold_ratio
from domain.attendance.schemas import (
    AttendanceDayRead,
    AttendanceSummaryPage,
    AttendanceSummaryQuery,
    AttendanceTotals,
    ChronicAbsencePage,
    ChronicAbsenceQuery,
    Period,
    RecordAttendanceInput,
    StudentAttendance,
    TransferredAttendance,
)
from domain.audit.changes import record_changes
from domain.errors import EnrollmentNotActive, NotASchoolDay, PermissionDenied
from domain.org.service import org_names
from domain.paging import page_meta
from domain.visibility import org_condition, transfers_of, visible_student, with_transferred
from policies.scope import Action, DataClass, Scope

# Every status but pending grants membership on the days the stint covers (Enrollment.active_on).
MEMBERSHIP_STATUSES = tuple(s for s in EnrollmentStatus if s is not EnrollmentStatus.PENDING)


def _stints(
    session: Session,
    scope: Scope,
    data: AttendanceSummaryQuery | ChronicAbsenceQuery,
    *,
    student_id: uuid.UUID | None = None,
    at_org: uuid.UUID | None = None,
) -> CTE:
    """Visible stints granting membership, clipped to the period: (enrollment_id, student_id, org_id, lo, hi).

    For one student, stints at campuses the student transferred from travel with the record.
    """
    e = Enrollment
    scope, in_org = org_condition(session, scope, e.org_id, data.org_id, DataClass.ATTENDANCE)
    start, end = literal(data.start_on, Date), literal(data.end_on, Date)
    # Portable GREATEST/LEAST (SQLite has neither): the part of the stint inside the period.
    lo = case((e.start_on > start, e.start_on), else_=start)
    hi = case((or_(e.end_on.is_(None), e.end_on > end), end), else_=e.end_on)
    stmt = select(e.id.label("enrollment_id"), e.student_id, e.org_id, lo.label("lo"), hi.label("hi")).where(
        e.status.in_(MEMBERSHIP_STATUSES),
        e.start_on <= data.end_on,
        or_(e.end_on.is_(None), e.end_on >= data.start_on),
        in_org,
    )
    if student_id is not None:
        stmt = stmt.where(
            e.student_id == student_id,
            with_transferred(scope, e.org_id, e.student_id, e.start_on, DataClass.ATTENDANCE),
        )
    else:
        stmt = stmt.where(scope.row_filter(e.org_id, e.student_id, DataClass.ATTENDANCE))
    if at_org is not None:
        stmt = stmt.where(e.org_id == at_org)
    if data.grade is not None:
        stmt = stmt.where(e.grade_level == data.grade)
    return stmt.cte("stint")


def _status_counts(status: Any) -> list[Any]:
    """Per-status day counts over rows carrying an attendance status (null: present)."""

    def days_with(*statuses: AttendanceStatus) -> Any:
        return func.sum(case((status.in_(statuses), 1), else_=0))

    return [
        days_with(AttendanceStatus.TARDY).label("tardy_days"),
        days_with(AttendanceStatus.EXCUSED_ABSENCE).label("excused_days"),
        days_with(AttendanceStatus.UNEXCUSED_ABSENCE).label("unexcused_days"),
        days_with(*ABSENT_STATUSES).label("absent_days"),
    ]


def _no_status_counts() -> list[Any]:
    """Zero counts, for union members that carry membership days only."""
    return [literal(0, Integer).label(name) for name in ("tardy_days", "excused_days", "unexcused_days", "absent_days")]


def _per_student(stint: CTE, period: Period) -> Subquery:
    """Per-student membership days and non-present day counts, without expanding most students into days.

    Most students' stints do not overlap in time, so a day lies in at most one of them: their
    membership days are a sum of per-stint school-day counts (computed once per distinct campus
    and date range, which students share), and their records are matched to the one stint that
    covers them. Only students with overlapping stints are expanded into distinct (student, day)
    rows, so that a day is never counted twice. This keeps a year over 100k students to a few
    hash joins instead of a DISTINCT over tens of millions of rows.
    """
    other = stint.alias("other_stint")
    overlapping = (
        select(stint.c.student_id)
        .join(
            other,
            and_(
                other.c.student_id == stint.c.student_id,
                other.c.enrollment_id != stint.c.enrollment_id,
                other.c.lo <= stint.c.hi,
                stint.c.lo <= other.c.hi,
            ),
        )
        .distinct()
        .cte("overlapping")
    )
    simple = select(stint).where(stint.c.student_id.not_in(select(overlapping))).cte("simple_stint")
    tangled = select(stint).where(stint.c.student_id.in_(select(overlapping))).cte("tangled_stint")

    span = select(simple.c.org_id, simple.c.lo, simple.c.hi).distinct().subquery("span")
    span_days = (
        select(span.c.org_id, span.c.lo, span.c.hi, func.count().label("days"))
        .join(
            SchoolDay,
            and_(SchoolDay.org_id == span.c.org_id, SchoolDay.day_on >= span.c.lo, SchoolDay.day_on <= span.c.hi),
        )
        .group_by(span.c.org_id, span.c.lo, span.c.hi)
        .subquery("span_days")
    )
    simple_membership = (
        select(simple.c.student_id, func.sum(span_days.c.days).label("membership_days"), *_no_status_counts())
        .join(
            span_days,
            and_(span_days.c.org_id == simple.c.org_id, span_days.c.lo == simple.c.lo, span_days.c.hi == simple.c.hi),
        )
        .group_by(simple.c.student_id)
    )
    ar = AttendanceRecord
    simple_records = (
        select(simple.c.student_id, literal(0, Integer).label("membership_days"), *_status_counts(ar.status))
        .join(
            ar,
            and_(ar.student_id == simple.c.student_id, ar.day_on >= simple.c.lo, ar.day_on <= simple.c.hi),
        )
        .join(SchoolDay, and_(SchoolDay.org_id == simple.c.org_id, SchoolDay.day_on == ar.day_on))
        # Redundant with the stint bounds, but lets the planner skip records outside the period early.
        .where(ar.day_on >= period.start_on, ar.day_on <= period.end_on)
        .group_by(simple.c.student_id)
    )
    tangled_days = (
        select(tangled.c.student_id, SchoolDay.day_on)
        .join(
            SchoolDay,
            and_(
                SchoolDay.org_id == tangled.c.org_id, SchoolDay.day_on >= tangled.c.lo, SchoolDay.day_on <= tangled.c.hi
            ),
        )
        .distinct()
        .subquery("tangled_day")
    )
    tangled_counts = (
        select(tangled_days.c.student_id, func.count().label("membership_days"), *_status_counts(ar.status))
        .outerjoin(ar, and_(ar.student_id == tangled_days.c.student_id, ar.day_on == tangled_days.c.day_on))
        .group_by(tangled_days.c.student_id)
    )
    part = union_all(simple_membership, simple_records, tangled_counts).subquery("part")
    return (
        select(part.c.student_id, *(func.sum(c).label(c.name) for c in list(part.c)[1:]))
        .group_by(part.c.student_id)
        .subquery("per_student")
    )


def _rows(per: Subquery) -> Select[Any]:
    """Per-student counts with the student's directory fields, and the match count over all pages."""
    return select(
        Student.id,
        Student.student_number,
        Student.first_name,
        Student.last_name,
        Student.grade_level,
        Student.org_id,
        per.c.membership_days,
        per.c.tardy_days,
        per.c.excused_days,
        per.c.unexcused_days,
        per.c.absent_days,
        func.count().over().label("total"),
    ).join(per, per.c.student_id == Student.id)


def _student_attendance(row: Any) -> StudentAttendance:
    """The read model of one per-student row; present days and rate follow from the counts."""
    membership = int(row.membership_days)
    absent = int(row.absent_days)
    rate = attendance_rate(membership, absent)
    assert rate is not None  # every row has at least one membership day
    return StudentAttendance(
        student_id=row.id,
        student_number=row.student_number,
        first_name=row.first_name,
        last_name=row.last_name,
        grade_level=row.grade_level,
        org_id=row.org_id,
        membership_days=membership,
        present_days=membership - absent,
        tardy_days=int(row.tardy_days),
        excused_absence_days=int(row.excused_days),
        unexcused_absence_days=int(row.unexcused_days),
        absent_days=absent,
        attendance_rate=rate,
    )


def attendance_summary(session: Session, scope: Scope, data: AttendanceSummaryQuery) -> AttendanceSummaryPage:
    """Per-student membership, present, tardy and absent days over a period, with org-level totals.

    Raises:
        NotFound: the org or student is outside the caller's scope.
    """
    transferred: list[TransferredAttendance] = []
    if data.student_id is not None:
        student = visible_student(session, scope, data.student_id, DataClass.ATTENDANCE)
        transferred = _transferred_parts(session, scope, data, student)
    per = _per_student(_stints(session, scope, data, student_id=data.student_id), data)
    # Totals ride along as window sums over every matching student, so the aggregate runs once.
    totals = [
        func.sum(per.c.membership_days).over().label("all_membership"),
        func.sum(per.c.tardy_days).over().label("all_tardy"),
        func.sum(per.c.excused_days).over().label("all_excused"),
        func.sum(per.c.unexcused_days).over().label("all_unexcused"),
        func.sum(per.c.absent_days).over().label("all_absent"),
    ]
    rows = session.execute(
        _rows(per)
        .add_columns(*totals)
        .order_by(Student.last_name, Student.first_name, Student.student_number)
        .limit(data.limit)
        .offset(data.offset)
    ).all()
    if rows:
        first = rows[0]
        counts = (first.total, first.all_membership, first.all_tardy, first.all_excused, first.all_unexcused)
        students, membership, tardy, excused, unexcused = (int(v) for v in counts)
        absent = int(first.all_absent)
    else:
        # An empty page (nothing matches, or offset past the end): totals need their own pass.
        totals_row = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(per.c.membership_days), 0),
                func.coalesce(func.sum(per.c.tardy_days), 0),
                func.coalesce(func.sum(per.c.excused_days), 0),
                func.coalesce(func.sum(per.c.unexcused_days), 0),
                func.coalesce(func.sum(per.c.absent_days), 0),
            ).select_from(per)
        ).one()
        students, membership, tardy, excused, unexcused, absent = (int(v) for v in totals_row)
    return AttendanceSummaryPage(
        **page_meta(students, data.limit, data.offset),
        start_on=data.start_on,
        end_on=data.end_on,
        totals=AttendanceTotals(
            students=students,
            membership_days=membership,
            present_days=membership - absent,
            tardy_days=tardy,
            excused_absence_days=excused,
            unexcused_absence_days=unexcused,
            absent_days=absent,
            attendance_rate=attendance_rate(membership, absent),
        ),
        items=[_student_attendance(r) for r in rows],
        transferred_from=transferred,
    )


def _transferred_parts(
    session: Session, scope: Scope, data: AttendanceSummaryQuery, student: Student
) -> list[TransferredAttendance]:
    """The part of one student's attendance that came with a transfer, per sending campus."""
    transfers = transfers_of(session, student)
    names = org_names(session, scope, transfers)
    parts = []
    for org_id, last_day in sorted(transfers.items(), key=lambda item: item[1]):
        stints = _stints(session, scope, data, student_id=student.id, at_org=org_id)
        row = session.execute(_rows(_per_student(stints, data))).first()
        if row is None:
            continue
        item = _student_attendance(row)
        parts.append(
            TransferredAttendance(
                org_id=org_id,
                campus=names.get(org_id, str(org_id)),
                last_day=last_day,
                **item.model_dump(include=set(TransferredAttendance.model_fields) - {"org_id", "campus", "last_day"}),
            )
        )
    return parts


def find_chronic_absence(session: Session, scope: Scope, data: ChronicAbsenceQuery) -> ChronicAbsencePage:
    """Students whose attendance rate is at or below the threshold, lowest rate first.

    Raises:
        NotFound: the org is outside the caller's scope.
    """
    per = _per_student(_stints(session, scope, data), data)
    numerator, denominator = threshold_ratio(data.threshold)
    present = per.c.membership_days - per.c.absent_days
    # Integer comparison of rate <= n/d: exact on both engines, unlike a float threshold.
    chronic = and_(
        per.c.membership_days >= data.min_membership_days,
        cast(present, BigInteger) * denominator <= cast(per.c.membership_days, BigInteger) * numerator,
    )
    rate = cast(present, Float) / per.c.membership_days
    rows = session.execute(
        _rows(per)
        .where(chronic)
        .order_by(rate, Student.last_name, Student.first_name, Student.student_number)
        .limit(data.limit)
        .offset(data.offset)
    ).all()
    if rows:
        total = int(rows[0].total)
    else:
        total = int(session.execute(select(func.count()).select_from(per).where(chronic)).scalar_one())
    return ChronicAbsencePage(
        **page_meta(total, data.limit, data.offset),
        start_on=data.start_on,
        end_on=data.end_on,
        threshold=data.threshold,
        min_membership_days=data.min_membership_days,
        items=[_student_attendance(r) for r in rows],
    )


def _campus_for_day(session: Session, student: Student, data: RecordAttendanceInput) -> uuid.UUID:
    """The campus whose school day `data.day_on` is, among the student's stints active that day.

    Raises:
        EnrollmentNotActive: no stint of the student is active on the day.
        NotASchoolDay: the day is not a school day of any campus the student is enrolled at.
    """
    rows = session.execute(
        select(Enrollment.org_id, SchoolDay.day_on)
        .outerjoin(SchoolDay, and_(SchoolDay.org_id == Enrollment.org_id, SchoolDay.day_on == data.day_on))
        .where(Enrollment.student_id == student.id, Enrollment.active_on(data.day_on))
    ).all()
    if not rows:
        raise EnrollmentNotActive(
            f"student {student.id} has no active enrollment on {data.day_on.isoformat()}", field="day_on"
        )
    campuses = {org_id for org_id, school_day in rows if school_day is not None}
    if not campuses:
        raise NotASchoolDay(f"{data.day_on.isoformat()} is not a school day of the student's campus", field="day_on")
    # Concurrent stints at two campuses on one school day: the home campus wins, then a stable order.
    return min(campuses, key=lambda org_id: (org_id != student.org_id, str(org_id)))


def record_attendance(session: Session, scope: Scope, data: RecordAttendanceInput) -> AttendanceDayRead:
    """Set one student's status for one school day (upsert); `present` removes the day's record.

    Raises:
        NotFound: the student is outside the caller's ATTENDANCE scope.
        EnrollmentNotActive: the student is not enrolled on the day.
        NotASchoolDay: the day is not a school day of the student's enrolled campus.
        PermissionDenied: the caller may read but not write attendance at that campus.
    """
    student = visible_student(session, scope, data.student_id, DataClass.ATTENDANCE)
    campus_id = _campus_for_day(session, student, data)
    if not scope.allows_org(campus_id, DataClass.ATTENDANCE, Action.WRITE):
        raise PermissionDenied("you may not record attendance at this campus", field="student_id")
    # Concurrent writes for one student queue on the student's row, so the second sees the first's
    # record and updates it instead of inserting a twin (a unique violation) into the same day.
    session.execute(select(Student.id).where(Student.id == student.id).with_for_update())
    record = session.execute(
        select(AttendanceRecord).where(
            AttendanceRecord.student_id == student.id, AttendanceRecord.day_on == data.day_on
        )
    ).scalar_one_or_none()

    if data.status is AttendanceStatus.PRESENT:
        if record is None:
            return AttendanceDayRead(
                student_id=student.id,
                org_id=campus_id,
                day_on=data.day_on,
                status=AttendanceStatus.PRESENT,
                note=None,
                record_id=None,
                changed=False,
            )
        # Log the change to present through the one audit path, then drop the row (absence of a
        # row is what "present" means to every measure).
        record.status = AttendanceStatus.PRESENT
        record.note = data.note
        record.recorded_by_user_id = scope.actor.user_id
        record_changes(session, scope, record, reason=data.reason)
        session.delete(record)
        session.flush()
        return AttendanceDayRead(
            student_id=student.id,
            org_id=campus_id,
            day_on=data.day_on,
            status=AttendanceStatus.PRESENT,
            note=None,
            record_id=None,
            changed=True,
        )

    if record is None:
        record = AttendanceRecord(student_id=student.id, org_id=campus_id, day_on=data.day_on)
        session.add(record)
    changed = record.status != data.status or record.note != data.note or record.org_id != campus_id
    if changed:
        record.status = data.status
        record.note = data.note
        record.org_id = campus_id
        record.recorded_by_user_id = scope.actor.user_id
        record_changes(session, scope, record, reason=data.reason)
        session.flush()
    return AttendanceDayRead(
        student_id=student.id,
        org_id=campus_id,
        day_on=data.day_on,
        status=data.status,
        note=record.note,
        record_id=record.id,
        changed=changed,
    )
