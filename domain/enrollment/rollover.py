"""Year rollover as data: clone a session's offerings with new dates and prices, continue students.

A new school year is new rows, never new code: offerings of `from_session` are cloned into
`to_session` (linked by previous_offering_id), and every student still enrolled on the last
day of an old offering gets a stint in its clone one grade up. Students past the clone's top
grade (e.g. seniors) are not continued. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Enrollment, OfferingStatus, ProgramOffering, Student
from domain.audit.changes import record_changes
from domain.enrollment.service import HOLDING, create_stint
from domain.errors import EnrollmentOverlap, GradeNotOffered, InvalidInput, OfferingFull
from domain.visibility import org_condition
from policies.scope import Action, DataClass, Scope


class RolloverInput(BaseModel):
    org_id: uuid.UUID = Field(description="Org node whose offerings roll over (its whole subtree).")
    from_session: str = Field(min_length=1, max_length=40, description="Session label to clone, e.g. '2025-26'.")
    to_session: str = Field(min_length=1, max_length=40, description="New session label, e.g. '2026-27'.")
    start_on: dt.date = Field(description="First day of the new offerings.")
    end_on: dt.date = Field(description="Last day of the new offerings.")
    tuition_change_bp: int = Field(
        default=0, ge=-10_000, le=10_000, description="Price change in basis points (500 = +5%), rounded half-up."
    )
    tuition_overrides: dict[uuid.UUID, int] = Field(
        default_factory=dict, description="New tuition in cents per program id, instead of the percentage."
    )

    @model_validator(mode="after")
    def _check(self) -> RolloverInput:
        if self.end_on < self.start_on:
            raise ValueError("end_on must not be before start_on")
        if self.from_session == self.to_session:
            raise ValueError("to_session must differ from from_session")
        return self


class RolloverResult(BaseModel):
    offerings_created: int
    offerings_reused: int
    stints_created: int
    students_graduated: int
    students_skipped: int = Field(description="Continuing students who could not be placed (e.g. already enrolled).")


def new_tuition(old_cents: int, change_bp: int) -> int:
    """Apply a basis-point change to a price, rounding half-up to the cent."""
    return (old_cents * (10_000 + change_bp) + 5_000) // 10_000


def rollover_year(session: Session, scope: Scope, data: RolloverInput) -> RolloverResult:
    """Clone offerings into the next session and create next-year stints for continuing students.

    Raises:
        NotFound (org outside scope), PermissionDenied, InvalidInput (nothing to roll over).
    """
    scope, in_org = org_condition(session, scope, ProgramOffering.org_id, data.org_id)
    old_offerings = (
        session.execute(
            select(ProgramOffering)
            .where(
                ProgramOffering.session_label == data.from_session,
                in_org,
                scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY, Action.WRITE),
            )
            .order_by(ProgramOffering.org_id, ProgramOffering.name)
        )
        .scalars()
        .all()
    )
    if not old_offerings:
        raise InvalidInput(
            f"no offerings labelled {data.from_session!r} that you may change here", field="from_session"
        )
    created = reused = stints = graduated = skipped = 0
    for old in old_offerings:
        clone = session.execute(
            select(ProgramOffering).where(
                ProgramOffering.previous_offering_id == old.id, ProgramOffering.session_label == data.to_session
            )
        ).scalar_one_or_none()
        if clone is None:
            clone = ProgramOffering(
                id=uuid.uuid4(),
                program_id=old.program_id,
                org_id=old.org_id,
                name=old.name.replace(data.from_session, data.to_session)
                if data.from_session in old.name
                else f"{old.name} ({data.to_session})",
                session_label=data.to_session,
                start_on=data.start_on,
                end_on=data.end_on,
                status=OfferingStatus.OPEN,
                capacity=old.capacity,
                tuition_cents=data.tuition_overrides.get(
                    old.program_id, new_tuition(old.tuition_cents, data.tuition_change_bp)
                ),
                grade_min=old.grade_min,
                grade_max=old.grade_max,
                previous_offering_id=old.id,
            )
            session.add(clone)
            record_changes(session, scope, clone, reason=f"rollover {data.from_session} -> {data.to_session}")
            session.flush()
            created += 1
        else:
            reused += 1
        continuing = session.execute(
            select(Enrollment, Student)
            .join(Student, Student.id == Enrollment.student_id)
            .where(Enrollment.offering_id == old.id, Enrollment.active_on(old.end_on), Enrollment.status.in_(HOLDING))
            .order_by(Student.last_name, Student.first_name, Student.student_number)
        ).all()
        for enrollment, student in continuing:
            grade = enrollment.grade_level + 1
            if grade > clone.grade_max or grade > 12:
                graduated += 1
                continue
            already = session.execute(
                select(Enrollment.id).where(Enrollment.offering_id == clone.id, Enrollment.student_id == student.id)
            ).first()
            if already is not None:
                skipped += 1
                continue
            try:
                # A savepoint per student: one who cannot be placed (full, grade) is skipped, not fatal.
                with session.begin_nested():
                    create_stint(
                        session,
                        scope,
                        student,
                        clone,
                        start_on=clone.start_on,
                        grade=grade,
                        previous=enrollment,
                        event_type="rolled_over",
                        reason=f"rollover {data.from_session} -> {data.to_session}",
                    )
            except (OfferingFull, GradeNotOffered, EnrollmentOverlap):
                skipped += 1
                continue
            stints += 1
    return RolloverResult(
        offerings_created=created,
        offerings_reused=reused,
        stints_created=stints,
        students_graduated=graduated,
        students_skipped=skipped,
    )
