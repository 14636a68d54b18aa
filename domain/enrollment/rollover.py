"""Year rollover as data: clone a school year's offerings into the next, continue students one grade up.

A new school year is new rows, never new code. `plan_rollover` works out, for the offerings
labelled `from_year` in an org subtree, the clone of each in `to_year` (linked by
previous_offering_id; dates from the campus's school calendar when it has next year's school
days, else shifted a year keeping the weekday; tuition the same or changed by basis points), the
next-grade stint of every continuing student (linked by previous_enrollment_id, starting on the
clone's first day) and who does not continue, with the reason. With `apply` it writes exactly
that plan in the caller's transaction: any failure raises and the whole call rolls back. Both
links make it idempotent: a second run finds the clones and stints and creates nothing.

Fee definitions are not cloned: fees are versioned billing rules that apply by version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    Enrollment,
    EnrollmentStatus,
    OfferingStatus,
    Organization,
    OrgKind,
    Program,
    ProgramKind,
    ProgramOffering,
    SchoolDay,
    Student,
)
from domain.audit.changes import record_changes
from domain.billing.access import ancestors
from domain.calendar import add_months, school_year
from domain.enrollment.offering_schemas import (
    NotContinuing,
    PlannedOffering,
    PlannedStint,
    RolloverInput,
    RolloverPlan,
    school_year_first,
)
from domain.enrollment.offerings import offering_payload
from domain.enrollment.service import HOLDING, create_stint
from domain.errors import InvalidInput, PermissionDenied
from domain.events import emit_event
from domain.visibility import org_condition
from policies.scope import Action, DataClass, Scope

# (stage, done, total): how far a long rollover is (the CLI draws a progress bar from it).
Progress = Callable[[str, int, int], None]
# Stints that reached the offering's end and so continue next year (completed: after its last day).
CONTINUING = (*HOLDING, EnrollmentStatus.COMPLETED)


def new_tuition(old_cents: int, change_bp: int) -> int:
    """Apply a basis-point change to a price, rounding half-up to the cent."""
    return (old_cents * (10_000 + change_bp) + 5_000) // 10_000


def shifted(day: dt.date, years: int) -> dt.date:
    """`day` moved by whole years to the nearest same weekday (a Monday start stays a Monday)."""
    moved = add_months(day, 12 * years)
    back = (moved.weekday() - day.weekday()) % 7
    return moved - dt.timedelta(days=back) if back <= 3 else moved + dt.timedelta(days=7 - back)


def _clone_name(name: str, data: RolloverInput) -> str:
    return name.replace(data.from_year, data.to_year) if data.from_year in name else f"{name} ({data.to_year})"


@dataclass
class _Offering:
    """One old offering and what the rollover makes of it."""

    old: ProgramOffering
    program_kind: ProgramKind
    roster_only: bool
    clone: ProgramOffering | None
    planned: PlannedOffering


def _calendar_dates(session: Session, org_id: uuid.UUID, first_year: int) -> tuple[dt.date, dt.date] | None:
    """The first and last school day of the campus's calendar for the school year starting in `first_year`."""
    start, end = school_year(first_year)
    first, last = session.execute(
        select(func.min(SchoolDay.day_on), func.max(SchoolDay.day_on)).where(
            SchoolDay.org_id == org_id, SchoolDay.day_on >= start, SchoolDay.day_on <= end
        )
    ).one()
    return (first, last) if first is not None else None


def _old_offerings(session: Session, scope: Scope, data: RolloverInput) -> Sequence[ProgramOffering]:
    scope, in_org = org_condition(session, scope, ProgramOffering.org_id, data.org_id, DataClass.ADMINISTRATION)
    rows = (
        session.execute(
            select(ProgramOffering)
            .join(Organization, Organization.id == ProgramOffering.org_id)
            .where(
                ProgramOffering.session_label == data.from_year,
                in_org,
                scope.org_filter(ProgramOffering.org_id, DataClass.ADMINISTRATION, Action.WRITE),
            )
            .order_by(Organization.path, ProgramOffering.name, ProgramOffering.id)
        )
        .scalars()
        .all()
    )
    if not rows:
        raise InvalidInput(f"no offerings labelled {data.from_year!r} that you may change here", field="from_year")
    return rows


def _plan_offering(session: Session, scope: Scope, data: RolloverInput, old: ProgramOffering, years: int) -> _Offering:
    org = session.get_one(Organization, old.org_id)
    if not scope.allows_org(org.id, DataClass.DIRECTORY, Action.WRITE):
        raise PermissionDenied(f"your role may not enroll students at {org.name}", field="org_id")
    roster_only = any(o.kind is OrgKind.ROSTER_ONLY for o in ancestors(session, org.id))
    if data.tuition_change_bp and not roster_only and not scope.allows_org(org.id, DataClass.FINANCIAL, Action.WRITE):
        raise PermissionDenied(f"changing prices needs financial write access at {org.name}", field="tuition_change_bp")
    kind = session.get_one(Program, old.program_id).kind
    clone = session.execute(
        select(ProgramOffering).where(
            ProgramOffering.previous_offering_id == old.id, ProgramOffering.session_label == data.to_year
        )
    ).scalar_one_or_none()
    assert old.end_on is not None  # continuous offerings are not rolled over
    calendar = _calendar_dates(session, org.id, school_year_first(data.to_year, "to_year"))
    if clone is not None:
        start, end, source = clone.start_on, clone.end_on or clone.start_on, "existing"
        tuition = clone.tuition_cents
    else:
        if calendar and kind is ProgramKind.REGULAR_YEAR:
            (start, end), source = calendar, "calendar"
        else:
            start, end, source = shifted(old.start_on, years), shifted(old.end_on, years), "shifted"
        tuition = old.tuition_cents if roster_only else new_tuition(old.tuition_cents, data.tuition_change_bp)
    planned = PlannedOffering(
        from_offering_id=old.id,
        offering_id=clone.id if clone else None,
        org_id=org.id,
        name=clone.name if clone else _clone_name(old.name, data),
        start_on=start,
        end_on=end,
        dates_from=source,
        tuition_cents=tuition if scope.allows_org(org.id, DataClass.FINANCIAL) else None,
        exists=clone is not None,
    )
    if clone is None:
        # Built now, added to the session only when the plan is applied.
        clone = ProgramOffering(
            id=uuid.uuid4(),
            program_id=old.program_id,
            org_id=old.org_id,
            name=planned.name,
            session_label=data.to_year,
            start_on=start,
            end_on=end,
            status=OfferingStatus.OPEN,
            capacity=old.capacity,
            tuition_cents=tuition,
            grade_min=old.grade_min,
            grade_max=old.grade_max,
            previous_offering_id=old.id,
        )
    return _Offering(old, kind, roster_only, clone, planned)


def _student_name(student: Student) -> str:
    return f"{student.preferred_name or student.first_name} {student.last_name}"


def _plan_students(
    session: Session, scope: Scope, data: RolloverInput, item: _Offering
) -> tuple[list[tuple[PlannedStint, Enrollment, Student]], list[NotContinuing]]:
    """The continuing students of one old offering and those who do not continue."""
    old, clone = item.old, item.clone
    assert clone is not None and old.end_on is not None
    rows = session.execute(
        select(Enrollment, Student)
        .join(Student, Student.id == Enrollment.student_id)
        .where(
            Enrollment.offering_id == old.id,
            scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.DIRECTORY),
        )
        .order_by(Student.last_name, Student.first_name, Student.student_number, Enrollment.start_on)
    ).all()
    latest: dict[uuid.UUID, tuple[Enrollment, Student]] = {}
    for enrollment, student in rows:
        latest[student.id] = (enrollment, student)  # ordered by start: the last stint wins
    rolled = dict(
        session.execute(
            select(Enrollment.previous_enrollment_id, Enrollment.id).where(
                Enrollment.offering_id == clone.id, Enrollment.previous_enrollment_id.is_not(None)
            )
        ).all()
    )
    next_year = set(
        session.execute(
            select(Enrollment.student_id)
            .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
            .where(
                ProgramOffering.program_id == old.program_id,
                ProgramOffering.session_label == data.to_year,
                Enrollment.status.in_(CONTINUING),
            )
        ).scalars()
    )
    seats = (
        session.execute(
            select(func.count()).where(Enrollment.offering_id == clone.id, Enrollment.status.in_(HOLDING))
        ).scalar_one()
        if item.planned.exists
        else 0
    )
    stints: list[tuple[PlannedStint, Enrollment, Student]] = []
    leaving: list[NotContinuing] = []

    def leaves(enrollment: Enrollment, student: Student, reason: str, detail: str) -> None:
        leaving.append(
            NotContinuing(
                student_id=student.id,
                student_number=student.student_number,
                name=_student_name(student),
                from_enrollment_id=enrollment.id,
                grade_level=enrollment.grade_level,
                reason=reason,
                detail=detail,
            )
        )

    for enrollment, student in latest.values():
        grade = enrollment.grade_level + 1
        planned = PlannedStint(
            student_id=student.id,
            student_number=student.student_number,
            name=_student_name(student),
            from_enrollment_id=enrollment.id,
            from_offering_id=old.id,
            to_offering_id=clone.id if item.planned.exists else None,
            grade_level=grade,
            start_on=item.planned.start_on,
            exists=enrollment.id in rolled,
        )
        if planned.exists:
            stints.append((planned, enrollment, student))
        elif enrollment.status in (EnrollmentStatus.WITHDRAWN, EnrollmentStatus.TRANSFERRED):
            leaves(enrollment, student, enrollment.status.value, f"{enrollment.status.value} on {enrollment.end_on}")
        elif enrollment.status not in CONTINUING or (enrollment.end_on is not None and enrollment.end_on < old.end_on):
            leaves(enrollment, student, "withdrawn", f"stint ended {enrollment.end_on}, before the year's end")
        elif enrollment.grade_level >= old.grade_max:
            leaves(enrollment, student, "graduating", f"finished grade {enrollment.grade_level}, the top grade here")
        elif student.id in next_year:
            leaves(enrollment, student, "already_enrolled", f"already has a {data.to_year} stint in this program")
        elif not clone.grade_min <= grade <= clone.grade_max:
            leaves(enrollment, student, "grade_not_offered", f"grade {grade} is not offered in {data.to_year}")
        elif clone.capacity is not None and seats >= clone.capacity:
            leaves(enrollment, student, "no_seat", f"{clone.name} is full ({clone.capacity} seats)")
        else:
            seats += 1
            stints.append((planned, enrollment, student))
    return stints, leaving


def plan_rollover(
    session: Session,
    scope: Scope,
    data: RolloverInput,
    *,
    apply: bool,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> RolloverPlan:
    """The rollover of `data.from_year` into `data.to_year` at an org subtree; with `apply`, written.

    Raises:
        NotFound (org outside scope), PermissionDenied (no directory write, or no financial write for a
        price change), InvalidInput (years, nothing to roll over); with `apply`, any enrollment rule that
        fails (the caller's transaction then rolls back, leaving nothing).
    """
    if not scope.can(DataClass.ADMINISTRATION, Action.WRITE):
        # preview_rollover is a read of the catalog, but what it shows is an administrative plan.
        raise PermissionDenied("previewing a rollover needs administration write access", field="org_id")
    years = school_year_first(data.to_year, "to_year") - school_year_first(data.from_year, "from_year")
    if years <= 0:
        raise InvalidInput(f"to_year {data.to_year} must come after from_year {data.from_year}", field="to_year")
    report = progress or (lambda stage, done, total: None)
    olds = _old_offerings(session, scope, data)
    skipped = [
        f"{o.name}: {'continuous (no fixed end; students stay enrolled)' if o.end_on is None else 'archived'}"
        for o in olds
        if o.end_on is None or o.status is OfferingStatus.ARCHIVED
    ]
    items = [
        _plan_offering(session, scope, data, o, years)
        for o in olds
        if o.end_on is not None and o.status is not OfferingStatus.ARCHIVED
    ]
    reason = f"rollover {data.from_year} -> {data.to_year}"
    offerings_created = stints_created = 0
    all_stints: list[PlannedStint] = []
    not_continuing: list[NotContinuing] = []
    for done, item in enumerate(items, start=1):
        assert item.clone is not None
        planned_stints, leaving = _plan_students(session, scope, data, item)
        not_continuing += leaving
        if apply and not item.planned.exists:
            session.add(item.clone)
            record_changes(session, scope, item.clone, reason=reason)
            session.flush()
            emit_event(
                session,
                event_type="offering.created",
                org_id=item.clone.org_id,
                payload=offering_payload(item.clone, cause="rollover"),
            )
            item.planned.offering_id = item.clone.id
            offerings_created += 1
        for index, (planned, enrollment, student) in enumerate(planned_stints, start=1):
            if apply and not planned.exists:
                create_stint(
                    session,
                    scope,
                    student,
                    item.clone,
                    start_on=item.clone.start_on,
                    grade=planned.grade_level,
                    previous=enrollment,
                    event_type="rolled_over",
                    reason=reason,
                    today=today,
                )
                planned.to_offering_id = item.clone.id
                stints_created += 1
            report(f"students of {item.old.name}"[:60], index, len(planned_stints))
        all_stints += [p for p, _, _ in planned_stints]
        report("offerings", done, len(items))
    return RolloverPlan(
        from_year=data.from_year,
        to_year=data.to_year,
        dry_run=not apply,
        offerings=[i.planned for i in items],
        stints=all_stints,
        not_continuing=not_continuing,
        offerings_created=offerings_created,
        stints_created=stints_created,
        skipped_offerings=skipped,
    )
