"""Programs and their offerings as administration records: created, changed and closed, never deleted.

A program belongs to an org (usually a brand) and is shared with every campus below it; an
offering is the program's instance at one campus (or program node) below the program's org, for a
school year or session, or continuous (no fixed end) for rolling enrollment. Prices (tuition and
fee lines) exist only at FULL_SIS orgs and need financial write there besides administration write.
Closing an offering stops new enrollments; its stints are untouched.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.models import (
    Enrollment,
    FeeDefinition,
    OfferingStatus,
    Organization,
    OrgKind,
    OrgLevel,
    Program,
    ProgramOffering,
)
from domain.audit.changes import record_changes
from domain.billing.access import ancestors
from domain.billing.definition_schemas import DefineFeeInput
from domain.billing.definitions import define_fee
from domain.enrollment.offering_schemas import (
    CloseOfferingInput,
    CreateOfferingInput,
    CreateProgramInput,
    FeeLineInput,
    FeeLineRead,
    OfferingDetail,
    ProgramRead,
    UpdateOfferingInput,
)
from domain.enrollment.service import HOLDING
from domain.errors import DuplicateRecord, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from domain.events import emit_event
from policies.scope import Action, DataClass, Scope

ADMIN = DataClass.ADMINISTRATION
# Where an offering may run: a campus, or a program node below one.
OFFERING_LEVELS = (OrgLevel.CAMPUS, OrgLevel.PROGRAM)
EDITABLE_STATUSES = (OfferingStatus.PLANNED, OfferingStatus.OPEN, OfferingStatus.CLOSED)


# -- lookups -------------------------------------------------------------------------------


def writable_org(session: Session, scope: Scope, org_id: uuid.UUID, *, field: str = "org_id") -> Organization:
    """An active org the caller may change administration records at.

    Raises:
        NotFound: no such org, or outside the caller's administration scope.
        PermissionDenied: visible (administration read) but not writable.
        InvalidInput: the org is closed.
    """
    org = session.get(Organization, org_id)
    if org is None or not scope.allows_org(org_id, ADMIN, Action.READ):
        raise NotFound(f"organization {org_id} not found", field=field)
    if not scope.allows_org(org_id, ADMIN, Action.WRITE):
        raise PermissionDenied(f"your role may not change programs or offerings at {org.name}", field=field)
    if not org.is_active:
        raise InvalidInput(f"organization {org.name} is closed", field=field)
    return org


def visible_program(session: Session, scope: Scope, program_id: uuid.UUID) -> tuple[Program, Organization]:
    """The program and its org, if the caller's administration scope includes its org or an org below it.

    A brand's program is shared with its campuses: a campus director sees it to offer it at the campus.

    Raises:
        NotFound: no such program, or none of its org's subtree is in scope.
    """
    row = session.execute(
        select(Program, Organization)
        .join(Organization, Organization.id == Program.org_id)
        .where(Program.id == program_id)
    ).first()
    if row is not None:
        program, org = row
        if (
            scope.allows_org(org.id, ADMIN)
            or session.execute(
                select(Organization.id)
                .where(
                    Organization.path.startswith(org.path, autoescape=True), scope.org_filter(Organization.id, ADMIN)
                )
                .limit(1)
            ).first()
        ):
            return program, org
    raise NotFound(f"program {program_id} not found", field="program_id")


def writable_offering(session: Session, scope: Scope, offering_id: uuid.UUID) -> ProgramOffering:
    """The offering (locked: seat counts and edits serialise) if the caller may change it.

    Raises:
        NotFound: no such offering or outside the caller's administration scope.
        PermissionDenied: visible but not writable.
    """
    offering = session.execute(
        select(ProgramOffering)
        .where(ProgramOffering.id == offering_id, scope.org_filter(ProgramOffering.org_id, ADMIN))
        .with_for_update()
    ).scalar_one_or_none()
    if offering is None:
        raise NotFound(f"offering {offering_id} not found", field="offering_id")
    if not scope.allows_org(offering.org_id, ADMIN, Action.WRITE):
        raise PermissionDenied("your role may not change this offering", field="offering_id")
    return offering


def _holding(offering_id: uuid.UUID, today: dt.date) -> list[Any]:
    return [
        Enrollment.offering_id == offering_id,
        Enrollment.status.in_(HOLDING),
        or_(Enrollment.end_on.is_(None), Enrollment.end_on >= today),
    ]


def seats_taken(session: Session, offering_id: uuid.UUID, today: dt.date) -> int:
    """Stints holding a seat (active or pending, not ended before today)."""
    return session.execute(select(func.count()).where(*_holding(offering_id, today))).scalar_one()


def check_prices(session: Session, scope: Scope, org: Organization, *, field: str) -> None:
    """Prices may be set at a FULL_SIS org by a caller with financial write there.

    Raises:
        InvalidInput: the org (or an ancestor) is ROSTER_ONLY: its offerings carry no price.
        PermissionDenied: the caller may not change financial records at the org.
    """
    roster = next((o for o in ancestors(session, org.id) if o.kind is OrgKind.ROSTER_ONLY), None)
    if roster is not None:
        raise InvalidInput(
            f"{org.name} is under the roster-only organization {roster.name}: its offerings carry no price "
            "(billing is handled outside the SIS)",
            field=field,
        )
    if not scope.allows_org(org.id, DataClass.FINANCIAL, Action.WRITE):
        raise PermissionDenied(f"setting prices needs financial write access at {org.name}", field=field)


def _check_dates(start_on: dt.date, end_on: dt.date | None, field: str) -> None:
    if end_on is not None and end_on < start_on:
        raise InvalidInput(f"end_on {end_on} is before start_on {start_on}", field=field)


def _check_grades(grade_min: int, grade_max: int, field: str) -> None:
    if grade_min > grade_max:
        raise InvalidInput(f"grade_min {grade_min} is above grade_max {grade_max}", field=field)


# -- reads ---------------------------------------------------------------------------------


def offering_detail(session: Session, scope: Scope, offering: ProgramOffering, *, today: dt.date) -> OfferingDetail:
    """The offering as written, with its price only where the caller may read financial records."""
    priced = scope.allows_org(offering.org_id, DataClass.FINANCIAL)
    fees = None
    if priced:
        rows = session.execute(
            select(FeeDefinition)
            .where(FeeDefinition.offering_id == offering.id, FeeDefinition.is_active.is_(True))
            .order_by(FeeDefinition.code)
        ).scalars()
        fees = [FeeLineRead.model_validate(f) for f in rows]
    return OfferingDetail(
        id=offering.id,
        program_id=offering.program_id,
        org_id=offering.org_id,
        name=offering.name,
        session_label=offering.session_label,
        start_on=offering.start_on,
        end_on=offering.end_on,
        continuous=offering.end_on is None,
        status=offering.status,
        capacity=offering.capacity,
        seats_taken=seats_taken(session, offering.id, today),
        grade_min=offering.grade_min,
        grade_max=offering.grade_max,
        tuition_cents=offering.tuition_cents if priced else None,
        fees=fees,
        previous_offering_id=offering.previous_offering_id,
    )


def offering_payload(offering: ProgramOffering, *, cause: str) -> dict[str, Any]:
    """The data of an offering.* event (no prices: offering events are directory data)."""
    return {
        "offering_id": offering.id,
        "program_id": offering.program_id,
        "org_id": offering.org_id,
        "name": offering.name,
        "session_label": offering.session_label,
        "start_on": offering.start_on,
        "end_on": offering.end_on,
        "status": offering.status.value,
        "capacity": offering.capacity,
        "grade_min": offering.grade_min,
        "grade_max": offering.grade_max,
        "previous_offering_id": offering.previous_offering_id,
        "cause": cause,
    }


# -- writes --------------------------------------------------------------------------------


def create_program(session: Session, scope: Scope, data: CreateProgramInput) -> ProgramRead:
    """Add a program at an org; its code is unique within the org.

    Raises:
        NotFound, PermissionDenied, InvalidInput (closed org), DuplicateRecord (code taken).
    """
    org = writable_org(session, scope, data.org_id)
    taken = session.execute(
        select(Program.id).where(Program.org_id == org.id, func.lower(Program.code) == data.code.lower())
    ).first()
    if taken is not None:
        raise DuplicateRecord(f"{org.name} already has a program with code {data.code!r}", field="code")
    program = Program(id=uuid.uuid4(), org_id=org.id, code=data.code, name=data.name, kind=data.kind)
    session.add(program)
    record_changes(session, scope, program, reason="program created")
    emit_event(
        session,
        event_type="program.created",
        org_id=org.id,
        payload={"program_id": program.id, "org_id": org.id, "code": program.code, "name": program.name,
                 "kind": program.kind.value},
    )  # fmt: skip
    session.flush()
    return ProgramRead.model_validate(program)


def add_fee_lines(
    session: Session,
    scope: Scope,
    offering: ProgramOffering,
    lines: list[FeeLineInput],
    *,
    reason: str | None,
    today: dt.date,
) -> None:
    """Fees charged with an offering: version 1 of a fee series for that offering, as define_fee writes them.

    Callers have checked that prices may be set there; billing (domain/billing/definitions.py) then
    prices agreements with these versions like any other.

    Raises:
        InvalidInput: two lines share a code, or a line breaks a fee rule.
    """
    codes = [fee_code(line.code) for line in lines]
    if len(set(codes)) != len(codes):
        raise InvalidInput("two fee lines share a code", field="fees")
    for code, line in zip(codes, lines, strict=True):
        fee = DefineFeeInput(
            org_id=offering.org_id,
            code=code,
            name=line.name,
            kind=line.kind,
            amount_cents=line.amount_cents,
            offering_id=offering.id,
            timing=line.timing,
            prorated=line.prorated,
            refundable=line.refundable,
            reason=reason,
        )
        define_fee(session, scope, fee, today=today)


def fee_code(code: str) -> str:
    """A fee line's code in the billing rules' form: lower case, '-' and '.' as '_' ('DEPOSIT' -> 'deposit')."""
    return re.sub(r"[^a-z0-9_]", "_", code.lower())


def create_offering(session: Session, scope: Scope, data: CreateOfferingInput, *, today: dt.date) -> OfferingDetail:
    """Add an offering of a program at its org or a campus below it, with its price where billing applies.

    Raises:
        NotFound, PermissionDenied, InvalidInput (dates, grades, status, org level, closed org, prices).
    """
    if data.continuous and data.end_on is not None:
        raise InvalidInput("a continuous offering has no end_on; leave it out", field="end_on")
    if not data.continuous and data.end_on is None:
        raise InvalidInput("give end_on, or continuous=true for rolling enrollment with no fixed end", field="end_on")
    _check_dates(data.start_on, data.end_on, "end_on")
    _check_grades(data.grade_min, data.grade_max, "grade_max")
    if data.status not in (OfferingStatus.OPEN, OfferingStatus.PLANNED):
        raise InvalidInput("a new offering is open or planned", field="status")
    program, program_org = visible_program(session, scope, data.program_id)
    org = writable_org(session, scope, data.org_id or program.org_id)
    if not org.path.startswith(program_org.path):
        raise InvalidInput(
            f"{org.name} is not {program_org.name} or below it: a program is offered where it is defined",
            field="org_id",
        )
    if org.level not in OFFERING_LEVELS:
        raise InvalidInput(
            f"{org.name} is a {org.level.value}: offerings run at a campus or program node", field="org_id"
        )
    if data.tuition_cents or data.fees:
        check_prices(session, scope, org, field="tuition_cents" if data.tuition_cents else "fees")
    offering = ProgramOffering(
        id=uuid.uuid4(),
        program_id=program.id,
        org_id=org.id,
        name=data.name,
        session_label=data.session_label,
        start_on=data.start_on,
        end_on=data.end_on,
        status=data.status,
        capacity=data.capacity,
        tuition_cents=data.tuition_cents,
        grade_min=data.grade_min,
        grade_max=data.grade_max,
    )
    session.add(offering)
    record_changes(session, scope, offering, reason=data.reason or "offering created")
    session.flush()
    add_fee_lines(session, scope, offering, data.fees, reason=data.reason or "offering created", today=today)
    emit_event(
        session, event_type="offering.created", org_id=org.id, payload=offering_payload(offering, cause="created")
    )
    return offering_detail(session, scope, offering, today=today)


def _check_enrolled_fit(session: Session, offering: ProgramOffering, today: dt.date) -> None:
    """The offering's new capacity, grades and dates still hold every stint with a seat in it."""
    holding = _holding(offering.id, today)
    count, low, high, first, last = session.execute(
        select(
            func.count(),
            func.min(Enrollment.grade_level),
            func.max(Enrollment.grade_level),
            func.min(Enrollment.start_on),
            func.max(Enrollment.start_on),
        ).where(*holding)
    ).one()
    if not count:
        return
    if offering.capacity is not None and offering.capacity < count:
        raise InvalidInput(f"capacity {offering.capacity} is below the {count} seats taken", field="capacity")
    if low < offering.grade_min:
        raise InvalidInput(f"grade_min {offering.grade_min} would exclude enrolled grade {low}", field="grade_min")
    if high > offering.grade_max:
        raise InvalidInput(f"grade_max {offering.grade_max} would exclude enrolled grade {high}", field="grade_max")
    if first < offering.start_on:
        raise InvalidInput(f"start_on {offering.start_on} is after an enrolled stint's start {first}", field="start_on")
    if offering.end_on is not None and last > offering.end_on:
        raise InvalidInput(f"end_on {offering.end_on} is before an enrolled stint's start {last}", field="end_on")


def update_offering(session: Session, scope: Scope, data: UpdateOfferingInput, *, today: dt.date) -> OfferingDetail:
    """Change the fields given (dates, grades, capacity, status, name, tuition), keeping enrolled stints valid.

    Raises:
        NotFound, PermissionDenied, InvalidTransition (archived), InvalidInput (a broken rule).
    """
    offering = writable_offering(session, scope, data.offering_id)
    if offering.status is OfferingStatus.ARCHIVED:
        raise InvalidTransition(f"offering '{offering.name}' is archived", field="offering_id")
    given = data.model_fields_set - {"offering_id", "reason", "purpose"}
    if not given:
        raise InvalidInput("give at least one field to change", field="offering_id")
    for name in ("name", "start_on", "grade_min", "grade_max", "status"):
        if name in given and getattr(data, name) is None:
            raise InvalidInput(f"{name} cannot be cleared", field=name)
    if "status" in given and data.status not in EDITABLE_STATUSES:
        raise InvalidInput("status is planned, open or closed", field="status")
    if "tuition_cents" in given:
        if data.tuition_cents is None:
            raise InvalidInput("tuition_cents cannot be cleared (give 0)", field="tuition_cents")
        if data.tuition_cents != offering.tuition_cents:
            org = session.get_one(Organization, offering.org_id)
            check_prices(session, scope, org, field="tuition_cents")
    # Checked before anything is flushed (the table's checks would fail first); the change events
    # read the attribute history, which a flush would clear. A refusal rolls the whole call back.
    with session.no_autoflush:
        for name in sorted(given):
            setattr(offering, name, getattr(data, name))
        _check_dates(offering.start_on, offering.end_on, "end_on" if "end_on" in given else "start_on")
        _check_grades(offering.grade_min, offering.grade_max, "grade_max" if "grade_max" in given else "grade_min")
        _check_enrolled_fit(session, offering, today)
        recorded = record_changes(session, scope, offering, reason=data.reason)
    if recorded:
        emit_event(
            session,
            event_type="offering.updated",
            org_id=offering.org_id,
            payload=offering_payload(offering, cause="updated") | {"changed": sorted(given)},
        )
    session.flush()
    return offering_detail(session, scope, offering, today=today)


def close_offering(session: Session, scope: Scope, data: CloseOfferingInput, *, today: dt.date) -> OfferingDetail:
    """Close an offering to new enrollments; its stints are untouched.

    Raises:
        NotFound, PermissionDenied, InvalidTransition (already closed or archived).
    """
    offering = writable_offering(session, scope, data.offering_id)
    if offering.status in (OfferingStatus.CLOSED, OfferingStatus.ARCHIVED):
        raise InvalidTransition(f"offering '{offering.name}' is already {offering.status.value}", field="offering_id")
    offering.status = OfferingStatus.CLOSED
    record_changes(session, scope, offering, reason=data.reason)
    emit_event(
        session,
        event_type="offering.closed",
        org_id=offering.org_id,
        payload=offering_payload(offering, cause="closed"),
    )
    session.flush()
    return offering_detail(session, scope, offering, today=today)
