"""Enrollment: stints are created, ended and chained, never reactivated; rosters are scoped in SQL."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from db.models import (
    Enrollment,
    EnrollmentStatus,
    Organization,
    Program,
    ProgramOffering,
    Student,
)
from db.models.enrollment import OfferingStatus
from domain.audit.changes import record_changes
from domain.billing.withdrawal import on_enrollment_ended
from domain.calendar import month_end
from domain.enrollment import lifecycle, rules

# The roster moved to roster.py; its callers still find it (and HOLDING) here.
from domain.enrollment.roster import HOLDING as HOLDING
from domain.enrollment.roster import query_roster as query_roster
from domain.enrollment.schemas import (
    EnrollmentRead,
    EnrollmentTrend,
    EnrollmentTrendQuery,
    EnrollStudentInput,
    OfferingPage,
    OfferingQuery,
    OfferingRead,
    ReenrollStudentInput,
    TransferResult,
    TransferStudentInput,
    TrendPoint,
    WithdrawEnrollmentInput,
)
from domain.errors import (
    EnrollmentNotActive,
    EnrollmentOverlap,
    GradeNotOffered,
    InvalidInput,
    NotFound,
    OfferingClosed,
    OfferingFull,
    PermissionDenied,
)
from domain.events import emit_event, enrollment_payload
from domain.org.writes import require_open
from domain.paging import page_meta
from domain.visibility import org_condition, visible_enrollment, visible_student
from policies.scope import Action, DataClass, Scope

# -- lookups -------------------------------------------------------------------------------


def get_offering_for(
    session: Session, scope: Scope, offering_id: uuid.UUID, action: Action = Action.READ, *, lock: bool = False
) -> ProgramOffering:
    """The offering if its org is visible; for writes, also writable. `lock` serialises seat counting.

    Raises:
        NotFound: no such offering or outside the caller's scope.
        PermissionDenied: visible but the caller may not enroll there.
    """
    stmt = select(ProgramOffering).where(
        ProgramOffering.id == offering_id, scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY)
    )
    if lock:
        stmt = stmt.with_for_update()
    offering = session.execute(stmt).scalar_one_or_none()
    if offering is None:
        raise NotFound(f"offering {offering_id} not found", field="offering_id")
    if action is Action.WRITE and not scope.allows_org(offering.org_id, DataClass.DIRECTORY, Action.WRITE):
        raise PermissionDenied("your role may not enroll students in this offering", field="offering_id")
    return offering


# -- writes --------------------------------------------------------------------------------


def _check_can_start(
    session: Session, offering: ProgramOffering, student: Student, start_on: dt.date, grade: int
) -> None:
    require_open(session, offering.org_id, field="offering_id")
    if offering.status is not OfferingStatus.OPEN:
        raise OfferingClosed(f"offering '{offering.name}' is {offering.status.value}, not open", field="offering_id")
    # A continuous offering has no end (rolling enrollment).
    if start_on < offering.start_on or (offering.end_on is not None and start_on > offering.end_on):
        raise OfferingClosed(
            f"start_on {start_on} is outside the offering's dates {offering.start_on}..{offering.end_on or ''}",
            field="start_on",
        )
    if not offering.grade_min <= grade <= offering.grade_max:
        raise GradeNotOffered(
            f"grade {grade} is not offered by '{offering.name}' (grades {offering.grade_min}..{offering.grade_max})",
            field="grade_level",
        )
    existing = session.execute(
        select(Enrollment.start_on, Enrollment.end_on, Enrollment.status).where(
            Enrollment.offering_id == offering.id, Enrollment.student_id == student.id
        )
    ).all()
    new = rules.Stint(start_on, None)
    for start, end, status in existing:
        # A stint that ended as transferred/withdrawn has a real end date; an open one blocks everything after.
        if rules.overlaps(new, rules.Stint(start, end)) or status in HOLDING:
            raise EnrollmentOverlap(
                f"student {student.student_number} already has a {status.value} stint in '{offering.name}' "
                f"from {start}" + (f" to {end}" if end else ""),
                field="offering_id",
            )
    if offering.capacity is not None:
        taken = session.execute(
            select(func.count()).where(
                Enrollment.offering_id == offering.id,
                Enrollment.status.in_(HOLDING),
                or_(Enrollment.end_on.is_(None), Enrollment.end_on >= start_on),
            )
        ).scalar_one()
        if taken >= offering.capacity:
            raise OfferingFull(f"offering '{offering.name}' is full ({taken}/{offering.capacity})", field="offering_id")


def create_stint(
    session: Session,
    scope: Scope,
    student: Student,
    offering: ProgramOffering,
    *,
    start_on: dt.date,
    grade: int,
    previous: Enrollment | None = None,
    event_type: str = "created",
    reason: str | None = None,
    today: dt.date | None = None,
) -> Enrollment:
    """Check the offering's rules and add a new stint: pending before `start_on`, active from it.

    Pass `today` (the caller's clock); without it the machine's date is used. A stint created
    active also emits `enrollment.activated`, so every stint that ever grants access emits it once.

    Raises:
        OfferingClosed, GradeNotOffered, EnrollmentOverlap, OfferingFull: the named rule failed.
    """
    _check_can_start(session, offering, student, start_on, grade)
    status = lifecycle.status_at_creation(start_on, today or dt.date.today())
    enrollment = Enrollment(
        id=uuid.uuid4(),
        student_id=student.id,
        offering_id=offering.id,
        org_id=offering.org_id,
        grade_level=grade,
        start_on=start_on,
        end_on=None,
        status=status,
        previous_enrollment_id=previous.id if previous else None,
    )
    session.add(enrollment)
    record_changes(session, scope, enrollment, reason=reason)
    lifecycle.add_event(session, scope, enrollment, event_type, None, start_on, reason)
    emit_event(
        session,
        event_type="enrollment.created",
        org_id=enrollment.org_id,
        payload=enrollment_payload(enrollment, cause=event_type),
    )
    if status is EnrollmentStatus.ACTIVE:
        lifecycle.emit_activated(session, enrollment, cause=event_type)
    session.flush()
    return enrollment


def enroll_student(session: Session, scope: Scope, data: EnrollStudentInput, *, today: dt.date) -> EnrollmentRead:
    """Enroll a student in an open offering with capacity; concurrent stints in other offerings are fine.

    Raises:
        NotFound, PermissionDenied, OfferingClosed, GradeNotOffered, EnrollmentOverlap, OfferingFull.
    """
    student = visible_student(session, scope, data.student_id)
    offering = get_offering_for(session, scope, data.offering_id, Action.WRITE, lock=True)
    start_on = data.start_on or max(today, offering.start_on)
    grade = data.grade_level if data.grade_level is not None else student.grade_level
    enrollment = create_stint(
        session, scope, student, offering, start_on=start_on, grade=grade, reason=data.reason, today=today
    )
    return EnrollmentRead.model_validate(enrollment)


def withdraw_enrollment(session: Session, scope: Scope, data: WithdrawEnrollmentInput) -> EnrollmentRead:
    """End an active stint on `end_on` with a reason; the row keeps its history.

    Raises:
        NotFound, PermissionDenied, EnrollmentNotActive, InvalidInput.
    """
    enrollment = visible_enrollment(session, scope, data.enrollment_id, Action.WRITE)
    _end_stint(session, scope, enrollment, data.end_on, EnrollmentStatus.WITHDRAWN, data.reason, "withdrawn")
    emit_event(
        session,
        event_type="enrollment.withdrawn",
        org_id=enrollment.org_id,
        payload=enrollment_payload(enrollment, cause="withdrawn"),
    )
    return EnrollmentRead.model_validate(enrollment)


def _end_stint(
    session: Session,
    scope: Scope,
    enrollment: Enrollment,
    end_on: dt.date,
    status: EnrollmentStatus,
    reason: str,
    event_type: str,
) -> None:
    if enrollment.status not in HOLDING:
        raise EnrollmentNotActive(
            f"enrollment {enrollment.id} is already {enrollment.status.value}", field="enrollment_id"
        )
    if end_on < enrollment.start_on - dt.timedelta(days=1):
        raise InvalidInput(f"end_on {end_on} is before the stint's start {enrollment.start_on}", field="end_on")
    previous = enrollment.status.value
    # A stint withdrawn before its first day ends the day before it started (no membership days).
    enrollment.end_on = max(end_on, enrollment.start_on - dt.timedelta(days=1))
    if enrollment.end_on < enrollment.start_on:
        enrollment.start_on = enrollment.end_on
    enrollment.status = status
    enrollment.exit_reason = reason
    record_changes(session, scope, enrollment, reason=reason)
    lifecycle.add_event(session, scope, enrollment, event_type, previous, end_on, reason)
    session.flush()
    # Billing follows the stint: later installments are cancelled and the refund rule applied.
    on_enrollment_ended(session, scope, enrollment)


def transfer_student(
    session: Session, scope: Scope, data: TransferStudentInput, *, today: dt.date | None = None
) -> TransferResult:
    """Move a student to another campus: end the old stint, start a new one linked to it.

    Raises:
        NotFound, PermissionDenied, EnrollmentNotActive, InvalidInput, and the enrollment rules.
    """
    old = visible_enrollment(session, scope, data.enrollment_id, Action.WRITE)
    offering = get_offering_for(session, scope, data.to_offering_id, Action.WRITE, lock=True)
    if offering.id == old.offering_id:
        raise InvalidInput("a transfer needs a different offering", field="to_offering_id")
    if data.effective_on <= old.start_on:
        raise InvalidInput(f"effective_on must be after the stint's start {old.start_on}", field="effective_on")
    student = session.get_one(Student, old.student_id)
    _end_stint(
        session,
        scope,
        old,
        data.effective_on - dt.timedelta(days=1),
        EnrollmentStatus.TRANSFERRED,
        data.reason,
        "transferred",
    )
    new = create_stint(
        session,
        scope,
        student,
        offering,
        start_on=data.effective_on,
        grade=old.grade_level,
        previous=old,
        event_type="transferred_in",
        reason=data.reason,
        today=today,
    )
    if student.org_id != offering.org_id:
        student.org_id = offering.org_id  # the student's records now belong to the receiving campus
        record_changes(session, scope, student, reason=data.reason)
        session.flush()
    emit_event(
        session,
        event_type="enrollment.transferred",
        org_id=old.org_id,
        payload=enrollment_payload(old, cause="transferred")
        | {"new_enrollment_id": new.id, "to_offering_id": new.offering_id, "to_org_id": new.org_id},
    )
    return TransferResult(ended=EnrollmentRead.model_validate(old), started=EnrollmentRead.model_validate(new))


def reenroll_student(
    session: Session, scope: Scope, data: ReenrollStudentInput, *, today: dt.date | None = None
) -> EnrollmentRead:
    """Start a new stint for a returning student, linked to their latest ended stint (never reactivated).

    Raises:
        NotFound, PermissionDenied, InvalidInput (no earlier stint), and the enrollment rules.
    """
    student = visible_student(session, scope, data.student_id)
    offering = get_offering_for(session, scope, data.offering_id, Action.WRITE, lock=True)
    previous = session.execute(
        select(Enrollment)
        .where(Enrollment.student_id == student.id, Enrollment.status.not_in(HOLDING))
        .order_by(Enrollment.end_on.desc(), Enrollment.start_on.desc())
        .limit(1)
    ).scalar_one_or_none()
    if previous is None:
        raise InvalidInput(
            f"student {student.student_number} has no ended stint to return from; use enroll_student",
            field="student_id",
        )
    grade = data.grade_level if data.grade_level is not None else student.grade_level
    enrollment = create_stint(
        session,
        scope,
        student,
        offering,
        start_on=data.start_on,
        grade=grade,
        previous=previous,
        event_type="reenrolled",
        reason=data.reason,
        today=today,
    )
    return EnrollmentRead.model_validate(enrollment)


# -- reads ---------------------------------------------------------------------------------


def enrollment_trend(session: Session, scope: Scope, data: EnrollmentTrendQuery, *, today: dt.date) -> EnrollmentTrend:
    """Distinct students enrolled on any day of each month, through its last day (or today, this month).

    Any day, not the last day: a school year ending May 29 still has its students in May.
    """
    scope, in_org = org_condition(session, scope, Enrollment.org_id, data.org_id)
    months = [m.replace(day=1) for m in rules.months_between(data.start_month, data.end_month)]
    periods = [(first, min(month_end(first), today)) for first in months if first <= today]
    days = [last for _, last in periods]
    columns = [
        func.count(
            func.distinct(
                case(
                    (
                        and_(
                            Enrollment.start_on <= last,
                            or_(Enrollment.end_on.is_(None), Enrollment.end_on >= first),
                        ),
                        Enrollment.student_id,
                    ),
                )
            )
        ).label(f"m{i}")
        for i, (first, last) in enumerate(periods)
    ]
    where = [
        scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.DIRECTORY),
        in_org,
        Enrollment.status != EnrollmentStatus.PENDING,
    ]
    if not days:
        return EnrollmentTrend(points=[])
    if data.by_program:
        stmt = (
            select(Program.name, *columns)
            .select_from(Enrollment)
            .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
            .join(Program, Program.id == ProgramOffering.program_id)
            .where(*where)
            .group_by(Program.name)
            .order_by(Program.name)
        )
        points = [
            TrendPoint(
                month=d.strftime("%Y-%m"),
                period_start=d.replace(day=1),
                measured_on=d,
                active_students=row[i + 1],
                program=row[0],
            )
            for row in session.execute(stmt).all()
            for i, d in enumerate(days)
        ]
        points.sort(key=lambda p: (p.month, p.program or ""))
        return EnrollmentTrend(points=points)
    row = session.execute(select(*columns).select_from(Enrollment).where(*where)).one()
    return EnrollmentTrend(
        points=[
            TrendPoint(month=d.strftime("%Y-%m"), period_start=d.replace(day=1), measured_on=d, active_students=row[i])
            for i, d in enumerate(days)
        ]
    )


def list_offerings(session: Session, scope: Scope, data: OfferingQuery) -> OfferingPage:
    """Offerings in the caller's scope with seats taken on as_of; sorted by campus, start date, name."""
    scope, in_org = org_condition(session, scope, ProgramOffering.org_id, data.org_id)
    taken = (
        select(Enrollment.offering_id, func.count().label("n"))
        # The seats the capacity check counts: pending stints hold theirs before their first day.
        .where(Enrollment.status.in_(HOLDING), or_(Enrollment.end_on.is_(None), Enrollment.end_on >= data.as_of))
        .group_by(Enrollment.offering_id)
        .subquery()
    )
    conditions = [
        scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY),
        in_org,
    ]
    if data.session_label:
        conditions.append(ProgramOffering.session_label == data.session_label)
    if data.status:
        conditions.append(ProgramOffering.status == data.status)
    if data.program_kind:
        conditions.append(Program.kind == data.program_kind)
    base = (
        select(ProgramOffering, Program, Organization, func.coalesce(taken.c.n, 0))
        .join(Program, Program.id == ProgramOffering.program_id)
        .join(Organization, Organization.id == ProgramOffering.org_id)
        .outerjoin(taken, taken.c.offering_id == ProgramOffering.id)
        .where(*conditions)
    )
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        base.order_by(Organization.name, ProgramOffering.start_on, ProgramOffering.name)
        .limit(data.limit)
        .offset(data.offset)
    ).all()
    items = [
        OfferingRead(
            id=off.id,
            program_id=p.id,
            program=p.name,
            program_kind=p.kind,
            org_id=o.id,
            campus=o.name,
            name=off.name,
            session_label=off.session_label,
            start_on=off.start_on,
            end_on=off.end_on,
            status=off.status,
            capacity=off.capacity,
            seats_taken=n,
            seats_left=None if off.capacity is None else max(off.capacity - n, 0),
            grade_min=off.grade_min,
            grade_max=off.grade_max,
            # Tuition is a financial record (policies/columns.py): only to callers who read those at the campus.
            tuition_cents=off.tuition_cents if scope.allows_org(o.id, DataClass.FINANCIAL) else None,
        )
        for off, p, o, n in rows
    ]
    return OfferingPage(items=items, **page_meta(total, data.limit, data.offset))
