"""Medical records a nurse keeps (data class health): medications, allergies, conditions, and the profile.

Visibility follows the student, as for immunizations: a student outside the caller's health
scope is not found, and so is a medication or allergy of such a student. The profile shows the
immunization status only to a caller who may also read immunization records of that student.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import Base
from db.models import Allergy, HealthCondition, Medication, Student
from domain.audit.changes import record_changes
from domain.errors import InvalidInput, NotFound
from domain.health.medical_schemas import (
    AllergyRead,
    ConditionRead,
    EndMedicationInput,
    HealthProfileRead,
    ImmunizationStatusRead,
    MedicationRead,
    RecordAllergyInput,
    RecordConditionInput,
    RecordMedicationInput,
    UpdateAllergyInput,
)
from domain.health.rules import ComplianceState
from domain.health.service import get_immunization_history
from domain.visibility import visible_student
from policies.scope import CLASS_WORDS, Action, DataClass, Scope

_Row = TypeVar("_Row", Medication, Allergy)
_WORST_FIRST = [ComplianceState.MISSING, ComplianceState.PROVISIONAL, ComplianceState.EXEMPT]


def _writable_student(session: Session, scope: Scope, student_id: uuid.UUID) -> Student:
    return visible_student(session, scope, student_id, DataClass.HEALTH, Action.WRITE)


def _row_of_visible_student(
    session: Session, scope: Scope, model: type[_Row], row_id: uuid.UUID, field: str, action: Action
) -> _Row:
    """A medication or allergy row whose student the caller may see (and, for a write, change).

    Raises:
        NotFound: no such row, or its student is outside the caller's health scope.
        PermissionDenied: visible, but the caller may not change the student's health records.
    """
    row = session.get(model, row_id)
    label = model.__tablename__
    if row is None:
        raise NotFound(f"{label} {row_id} not found", field=field)
    try:
        visible_student(session, scope, row.student_id, DataClass.HEALTH, action)
    except NotFound:
        raise NotFound(f"{label} {row_id} not found", field=field) from None
    return row


def _add(session: Session, scope: Scope, row: Base, reason: str) -> None:
    session.add(row)
    record_changes(session, scope, row, reason=reason)
    session.flush()


# -- writes ------------------------------------------------------------------------------------------


def record_medication(session: Session, scope: Scope, data: RecordMedicationInput, *, today: dt.date) -> MedicationRead:
    """Record a medication a student takes at school.

    Raises:
        NotFound, PermissionDenied: the student is outside the caller's health scope, or read-only there.
        InvalidInput: end_on before start_on (including the default start, today).
    """
    student = _writable_student(session, scope, data.student_id)
    start_on = data.start_on or today
    if data.end_on is not None and data.end_on < start_on:
        raise InvalidInput(f"end_on {data.end_on} is before start_on {start_on}", field="end_on")
    medication = Medication(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=student.org_id,
        name=data.name,
        dosage=data.dosage,
        schedule=data.schedule,
        start_on=start_on,
        end_on=data.end_on,
        notes=data.notes,
    )
    _add(session, scope, medication, data.reason or "medication recorded")
    return MedicationRead.model_validate(medication)


def end_medication(session: Session, scope: Scope, data: EndMedicationInput, *, today: dt.date) -> MedicationRead:
    """End a medication on end_on (default today); the row is kept.

    Raises:
        NotFound, PermissionDenied: as for record_medication.
        InvalidInput: already ended, or end_on before the medication's start.
    """
    medication = _row_of_visible_student(session, scope, Medication, data.medication_id, "medication_id", Action.WRITE)
    end_on = data.end_on or today
    if medication.end_on is not None and medication.end_on < today:
        raise InvalidInput(f"medication {medication.id} already ended on {medication.end_on}", field="medication_id")
    if medication.start_on is not None and end_on < medication.start_on:
        raise InvalidInput(f"end_on {end_on} is before the medication's start {medication.start_on}", field="end_on")
    medication.end_on = end_on
    record_changes(session, scope, medication, reason=data.reason or "medication ended")
    session.flush()
    return MedicationRead.model_validate(medication)


def record_allergy(session: Session, scope: Scope, data: RecordAllergyInput) -> AllergyRead:
    """Record an allergy; a second allergy to the same allergen is refused (update it instead).

    Raises:
        NotFound, PermissionDenied: as for record_medication.
        InvalidInput: the student already has an allergy to this allergen.
    """
    student = _writable_student(session, scope, data.student_id)
    _refuse_same_allergen(session, student.id, data.allergen, field="allergen")
    allergy = Allergy(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=student.org_id,
        allergen=data.allergen,
        severity=data.severity.value,
        reaction=data.reaction,
    )
    _add(session, scope, allergy, data.reason or "allergy recorded")
    return AllergyRead.model_validate(allergy)


def _refuse_same_allergen(
    session: Session, student_id: uuid.UUID, allergen: str, *, field: str, other_than: uuid.UUID | None = None
) -> None:
    recorded = session.execute(select(Allergy.id, Allergy.allergen).where(Allergy.student_id == student_id)).all()
    for allergy_id, name in recorded:
        if allergy_id != other_than and name.casefold() == allergen.casefold():
            raise InvalidInput(f"an allergy to {name} is already recorded ({allergy_id}); update it", field=field)


def update_allergy(session: Session, scope: Scope, data: UpdateAllergyInput) -> AllergyRead:
    """Change an allergy's allergen, severity or reaction (field-level change events record the old values).

    Raises:
        NotFound, PermissionDenied: as for record_medication.
        InvalidInput: the new allergen duplicates another of the student's allergies.
    """
    allergy = _row_of_visible_student(session, scope, Allergy, data.allergy_id, "allergy_id", Action.WRITE)
    if data.allergen is not None:
        _refuse_same_allergen(session, allergy.student_id, data.allergen, field="allergen", other_than=allergy.id)
        allergy.allergen = data.allergen
    if data.severity is not None:
        allergy.severity = data.severity.value
    if data.reaction is not None:
        allergy.reaction = data.reaction
    record_changes(session, scope, allergy, reason=data.reason or "allergy updated")
    session.flush()
    return AllergyRead.model_validate(allergy)


def record_condition(session: Session, scope: Scope, data: RecordConditionInput, *, today: dt.date) -> ConditionRead:
    """Record a medical condition (asthma, diabetes) staff must know about.

    Raises:
        NotFound, PermissionDenied: as for record_medication.
        InvalidInput: since_on in the future or before the student's birth.
    """
    student = _writable_student(session, scope, data.student_id)
    if data.since_on is not None and data.since_on > today:
        raise InvalidInput(f"since_on {data.since_on} is in the future", field="since_on")
    if data.since_on is not None and data.since_on < student.birth_on:
        raise InvalidInput(f"since_on {data.since_on} is before the student's birth", field="since_on")
    condition = HealthCondition(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=student.org_id,
        name=data.name,
        notes=data.notes,
        since_on=data.since_on,
        status=data.status.value,
    )
    _add(session, scope, condition, data.reason or "condition recorded")
    return ConditionRead.model_validate(condition)


# -- the profile -------------------------------------------------------------------------------------


def _rows(session: Session, model: Any, student_id: uuid.UUID, *order: Any) -> list[Any]:
    return list(session.execute(select(model).where(model.student_id == student_id).order_by(*order)).scalars())


def _immunization_status(
    session: Session, scope: Scope, student: Student, today: dt.date
) -> tuple[ImmunizationStatusRead | None, str | None]:
    """The student's compliance today, or why it is not shown (the caller may not read immunization records)."""
    readable = session.execute(
        select(Student.id).where(Student.id == student.id, scope.student_filter(DataClass.IMMUNIZATION))
    ).first()
    if readable is None:
        return None, f"{CLASS_WORDS[DataClass.IMMUNIZATION]} of this student are not visible to your role"
    history = get_immunization_history(session, scope, student.id, as_of=today)
    groups = history.compliance or []
    states = {g.status for g in groups}
    status = next((s for s in _WORST_FIRST if s in states), ComplianceState.COMPLIANT) if groups else None
    return ImmunizationStatusRead(as_of=today, status=status, groups=groups, warnings=history.warnings), None


def get_health_profile(session: Session, scope: Scope, student_id: uuid.UUID, *, today: dt.date) -> HealthProfileRead:
    """A student's allergies, medications (current and ended), conditions and, where visible, immunization status.

    Raises:
        NotFound: no such student, or outside the caller's health scope.
    """
    student = visible_student(session, scope, student_id, DataClass.HEALTH)
    medications = [
        MedicationRead.model_validate(m)
        for m in _rows(session, Medication, student.id, Medication.start_on, Medication.id)
    ]
    immunization, note = _immunization_status(session, scope, student, today)
    return HealthProfileRead(
        student_id=student.id,
        student_number=student.student_number,
        first_name=student.first_name,
        last_name=student.last_name,
        allergies=[AllergyRead.model_validate(a) for a in _rows(session, Allergy, student.id, Allergy.allergen)],
        current_medications=[m for m in medications if m.end_on is None or m.end_on >= today],
        ended_medications=[m for m in medications if m.end_on is not None and m.end_on < today],
        conditions=[
            ConditionRead.model_validate(c)
            for c in _rows(session, HealthCondition, student.id, HealthCondition.status, HealthCondition.name)
        ],
        immunization=immunization,
        immunization_note=note,
    )
