"""Medical record tools (data class health): medications, allergies, conditions and a student's health profile."""

from __future__ import annotations

import uuid

from pydantic import Field
from sqlalchemy.orm import Session

from domain.health import medical
from domain.health.medical_schemas import (
    AllergyRead,
    ConditionRead,
    EndMedicationInput,
    HealthProfileRead,
    MedicationRead,
    RecordAllergyInput,
    RecordConditionInput,
    RecordMedicationInput,
    UpdateAllergyInput,
)
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool


class GetHealthProfileInput(ToolInput):
    student_id: uuid.UUID = Field(description="The student (from search_students).")


@tool(data_class=DataClass.HEALTH, title="Health profile")
def get_health_profile(
    session: Session, scope: Scope, data: GetHealthProfileInput, ctx: ToolContext
) -> HealthProfileRead:
    """Show one student's allergies, medications (current and ended), medical conditions and immunization status.

    Use before a field trip or when a nurse asks "what should staff know about this student?". student_id
    comes from search_students. The immunization part is shown only if your role may read immunization
    records there (immunization_note says why not). A student outside your scope is not found.
    """
    return medical.get_health_profile(session, scope, data.student_id, today=ctx.today)


@tool(data_class=DataClass.HEALTH, action=Action.WRITE, title="Record a medication", idempotent=False)
def record_medication(session: Session, scope: Scope, data: RecordMedicationInput, ctx: ToolContext) -> MedicationRead:
    """Record a medication a student takes at school: name, dosage, schedule, start (default today), optional end.

    student_id comes from search_students. Fails when the name is empty or end_on is before start_on.
    To stop a medication later use end_medication.
    """
    return medical.record_medication(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.HEALTH, action=Action.WRITE, title="End a medication", idempotent=False)
def end_medication(session: Session, scope: Scope, data: EndMedicationInput, ctx: ToolContext) -> MedicationRead:
    """End a medication on end_on (default today); the record is kept as an ended medication.

    medication_id comes from get_health_profile. Fails when it already ended or end_on is before its start.
    """
    return medical.end_medication(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.HEALTH, action=Action.WRITE, title="Record an allergy", idempotent=False)
def record_allergy(session: Session, scope: Scope, data: RecordAllergyInput, ctx: ToolContext) -> AllergyRead:
    """Record a student's allergy with its severity (mild, moderate, severe) and reaction.

    student_id comes from search_students. Fails when the allergen is empty or already recorded for the
    student (use update_allergy to change it).
    """
    return medical.record_allergy(session, scope, data)


@tool(data_class=DataClass.HEALTH, action=Action.WRITE, title="Update an allergy", idempotent=False)
def update_allergy(session: Session, scope: Scope, data: UpdateAllergyInput, ctx: ToolContext) -> AllergyRead:
    """Change an allergy's severity, reaction or allergen name; the old values stay in the audit trail.

    allergy_id comes from get_health_profile. Give at least one field to change.
    """
    return medical.update_allergy(session, scope, data)


@tool(data_class=DataClass.HEALTH, action=Action.WRITE, title="Record a condition", idempotent=False)
def record_condition(session: Session, scope: Scope, data: RecordConditionInput, ctx: ToolContext) -> ConditionRead:
    """Record a medical condition staff must know about (asthma, diabetes, epilepsy), with notes and since when.

    student_id comes from search_students. Fails when the name is empty or since_on is in the future.
    """
    return medical.record_condition(session, scope, data, today=ctx.today)
