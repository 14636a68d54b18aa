"""Immunization compliance tools (data class immunization): the report, history, doses and exemptions."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field
from sqlalchemy.orm import Session

from domain.health import charts, report, service
from domain.health.schemas import (
    DefinedRequirementRead,
    DefineImmunizationRequirementInput,
    ExemptionRead,
    ImmunizationHistoryRead,
    ImmunizationRead,
    ListImmunizationRequirementsQuery,
    MissingImmunizationsPage,
    MissingImmunizationsQuery,
    RecordExemptionInput,
    RecordImmunizationInput,
    RequirementChartRead,
)
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool


class FindMissingImmunizationsInput(ToolInput, MissingImmunizationsQuery):
    as_of: dt.date | None = Field(default=None, description="Evaluate as of this date (default: today).")  # type: ignore[assignment]


@tool(data_class=DataClass.IMMUNIZATION, title="Missing immunizations", autocommit_read=True)
def find_missing_immunizations(
    session: Session, scope: Scope, data: FindMissingImmunizationsInput, ctx: ToolContext
) -> MissingImmunizationsPage:
    """List enrolled students whose immunization records fall short of their grade's state requirements.

    Use for "5th graders with incomplete immunization records at Austin": grade=5, org_id of Austin (from
    whoami). Per student: each vaccine group's doses counted vs required; exempt and provisional students
    are listed with their own status, never as missing. Filter by vaccine_group ("MMR", "Varicella",
    "DTaP/Tdap/Td", "Polio", "HepB", "HepA", "Meningococcal"). `warnings` names campuses with no rules.
    """
    query = data.as_domain(MissingImmunizationsQuery, as_of=data.as_of or ctx.today)
    return report.find_missing_immunizations(session, scope, query)


class GetImmunizationHistoryInput(ToolInput):
    student_id: uuid.UUID = Field(description="The student (from search_students or find_missing_immunizations).")
    as_of: dt.date | None = Field(default=None, description="Also evaluate compliance as of this date.")


@tool(data_class=DataClass.IMMUNIZATION, title="Immunization history")
def get_immunization_history(
    session: Session, scope: Scope, data: GetImmunizationHistoryInput, ctx: ToolContext
) -> ImmunizationHistoryRead:
    """Show a student's recorded doses (with the antigens each counts for), exemptions, evidence of immunity
    and provisional enrollment, plus compliance per vaccine group when as_of is given.
    """
    return service.get_immunization_history(session, scope, data.student_id, as_of=data.as_of)


@tool(data_class=DataClass.IMMUNIZATION, action=Action.WRITE, title="Record an immunization", idempotent=False)
def record_immunization(
    session: Session, scope: Scope, data: RecordImmunizationInput, ctx: ToolContext
) -> ImmunizationRead:
    """Record one vaccine dose for a student: a CVX code (preferred; combination vaccines count for every
    antigen they cover) or a vaccine group, and the date given (not in the future).

    Fails for an unknown CVX code, a future date, or the same dose already recorded.
    """
    return service.record_immunization(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.IMMUNIZATION, action=Action.WRITE, title="Record an exemption", idempotent=False)
def record_exemption(session: Session, scope: Scope, data: RecordExemptionInput, ctx: ToolContext) -> ExemptionRead:
    """Record an immunization exemption: medical (yearly unless lifelong) or religious/conscientious (valid
    two years from notarization). An exemption counts only while valid.
    """
    return service.record_exemption(session, scope, data, today=ctx.today)


@tool(
    data_class=DataClass.IMMUNIZATION,
    action=Action.WRITE,
    title="Define an immunization requirement",
    idempotent=True,
)
def define_immunization_requirement(
    session: Session, scope: Scope, data: DefineImmunizationRequirementInput, ctx: ToolContext
) -> DefinedRequirementRead:
    """Add or change one rule of a jurisdiction's school immunization chart for a school year (network admins).

    A school year without a chart starts a new version carrying the previous chart's other rules forward;
    it applies from that year's August 1. Read the current chart first with list_immunization_requirements.
    Fails for malformed conditions, an antigen outside the group, or a grade band overlapping another row.
    """
    return charts.define_immunization_requirement(session, scope, data, today=ctx.today)


@tool(data_class=DataClass.IMMUNIZATION, title="Immunization requirements")
def list_immunization_requirements(
    session: Session, scope: Scope, data: ListImmunizationRequirementsQuery, ctx: ToolContext
) -> RequirementChartRead:
    """Show a jurisdiction's school immunization chart: every rule (grade band, vaccine group, doses, conditions).

    Default: the chart in effect today; give effective_school_year for another version. Jurisdiction as
    "US-FL" or "FL". Fails (not found) for a jurisdiction or school year without rules.
    """
    return charts.list_immunization_requirements(session, data, today=ctx.today)
