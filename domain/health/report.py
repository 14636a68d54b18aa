"""The compliance report: enrolled students short of their grade's requirements, paged in memory.

The students are found by one scoped, dated SQL read; their health rows, org contexts and rules
come from domain/health/loading.py, and each is evaluated in Python (the rules engine is Python),
so the report sorts and pages after evaluating. Queries do not grow with the number of students.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Enrollment, Student
from domain.health.evaluation import evaluate, grade_label, group_read, rules_content_key
from domain.health.loading import HealthRows, health_rows, org_contexts, requirement_rules
from domain.health.requirements import RequirementRule, current_rules
from domain.health.rules import ComplianceState, StudentCompliance
from domain.health.schemas import (
    ComplianceSummaryRead,
    ExemptionRead,
    MissingImmunizationsPage,
    MissingImmunizationsQuery,
    StudentComplianceRead,
)
from domain.visibility import org_condition
from policies.scope import DataClass, Scope

_LISTED_GROUP_STATES = {ComplianceState.MISSING, ComplianceState.EXEMPT, ComplianceState.PROVISIONAL}


class _Pupil(NamedTuple):
    """An enrolled student as the report reads them (plain columns: no ORM entity per student).

    The select below has these fields as its columns, in this order and under these names.
    """

    id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    birth_on: dt.date
    # The enrollment the student is evaluated under.
    org_id: uuid.UUID
    grade: int


_PUPIL_COLUMNS: dict[str, Any] = {
    "id": Student.id,
    "student_number": Student.student_number,
    "first_name": Student.first_name,
    "last_name": Student.last_name,
    "birth_on": Student.birth_on,
    "org_id": Enrollment.org_id,
    "grade": Enrollment.grade_level,
}
_ENROLLED = select(*(_PUPIL_COLUMNS[name].label(name) for name in _Pupil._fields)).join(
    Student, Student.id == Enrollment.student_id
)


def _enrollment_filters(session: Session, scope: Scope, data: MissingImmunizationsQuery) -> list[ColumnElement[bool]]:
    """Enrollments active on data.as_of in the visible part of data.org_id's subtree (and grade).

    Raises:
        NotFound: data.org_id does not exist or none of its subtree is in the caller's immunization scope.
    """
    scope, in_org = org_condition(session, scope, Enrollment.org_id, data.org_id, DataClass.IMMUNIZATION)
    filters = [
        Enrollment.active_on(data.as_of),
        scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.IMMUNIZATION),
        in_org,
    ]
    if data.grade is not None:
        filters.append(Enrollment.grade_level == data.grade)
    return filters


def find_missing_immunizations(
    session: Session, scope: Scope, data: MissingImmunizationsQuery
) -> MissingImmunizationsPage:
    """Students enrolled on data.as_of whose doses fall short of their grade's requirements.

    Exempt and provisional students are listed with their own status, never as missing. Naming an
    org answers for the part of its subtree the caller may see.

    Raises:
        NotFound: data.org_id does not exist or none of its subtree is in the caller's immunization scope.
    """
    filters = _enrollment_filters(session, scope, data)

    # A student may hold concurrent stints (main year + camp, or both sides of a transfer day):
    # evaluate under the most recently started one.
    chosen: dict[uuid.UUID, _Pupil] = {}
    enrolled = session.execute(
        _ENROLLED.where(*filters).order_by(Enrollment.student_id, Enrollment.start_on.desc(), Enrollment.id)
    ).all()
    for pupil in map(_Pupil._make, enrolled):
        if pupil.id not in chosen:
            chosen[pupil.id] = pupil

    contexts = org_contexts(session, scope, {pupil.org_id for pupil in chosen.values()})
    requirements = requirement_rules(session, (c.jurisdiction for c in contexts.values() if c.jurisdiction))
    health = health_rows(session, chosen.keys())

    applicable: dict[tuple[str, int], list[RequirementRule]] = {}
    wanted: dict[tuple[str, int], tuple[list[RequirementRule], tuple[Any, ...]]] = {}
    unevaluated: dict[str, int] = defaultdict(int)
    counts: dict[ComplianceState, int] = defaultdict(int)
    listed: list[_Listed] = []
    for pupil in chosen.values():
        grade, context = pupil.grade, contexts[pupil.org_id]
        if context.jurisdiction is None:
            unevaluated[f"no immunization jurisdiction set for {context.name} or any org above it"] += 1
            continue
        jurisdiction_rules = requirements.get(context.jurisdiction, ())
        if not jurisdiction_rules:
            unevaluated[f"no immunization requirements configured for jurisdiction {context.jurisdiction}"] += 1
            continue
        key = (context.jurisdiction, grade)
        if key not in applicable:
            applicable[key] = current_rules(jurisdiction_rules, grade, data.as_of)
        if not applicable[key]:
            unevaluated[
                f"no {context.jurisdiction} immunization requirements configured for grade {grade_label(grade)}"
            ] += 1
            continue
        if key not in wanted:
            # A grade without rows for the asked group simply has nothing to meet in it.
            asked = [r for r in applicable[key] if data.vaccine_group in (None, r.vaccine_group)]
            wanted[key] = (asked, rules_content_key(asked))
        asked, rules_key = wanted[key]
        result = evaluate(pupil.id, pupil.birth_on, asked, health, data.as_of, rules_key)
        state = ComplianceState.COMPLIANT if result.state == ComplianceState.EVIDENCE else result.state
        counts[state] += 1
        if (
            state == ComplianceState.MISSING
            or (state == ComplianceState.EXEMPT and data.include_exempt)
            or (state == ComplianceState.PROVISIONAL and data.include_provisional)
        ):
            listed.append(_Listed(pupil, context.campus_name, context.jurisdiction, state, result))

    listed.sort(key=lambda x: (x.pupil.last_name.casefold(), x.pupil.first_name.casefold(), x.pupil.student_number))
    total = len(listed)
    next_offset = data.offset + data.limit
    return MissingImmunizationsPage(
        as_of=data.as_of,
        items=[x.read(health, data.as_of) for x in listed[data.offset : next_offset]],
        total=total,
        limit=data.limit,
        offset=data.offset,
        next_offset=next_offset if next_offset < total else None,
        summary=ComplianceSummaryRead(
            students_evaluated=sum(counts.values()),
            compliant=counts[ComplianceState.COMPLIANT],
            missing=counts[ComplianceState.MISSING],
            provisional=counts[ComplianceState.PROVISIONAL],
            exempt=counts[ComplianceState.EXEMPT],
            not_evaluated=sum(unevaluated.values()),
        ),
        warnings=[
            f"{message} ({n} {'student' if n == 1 else 'students'} not evaluated)"
            for message, n in sorted(unevaluated.items())
        ],
    )


@dataclass(frozen=True)
class _Listed:
    """A student kept for the report; turned into a read model only if on the requested page."""

    pupil: _Pupil
    campus_name: str
    jurisdiction: str
    state: ComplianceState
    result: StudentCompliance

    def read(self, health: HealthRows, as_of: dt.date) -> StudentComplianceRead:
        """The report row."""
        return StudentComplianceRead(
            student_id=self.pupil.id,
            student_number=self.pupil.student_number,
            first_name=self.pupil.first_name,
            last_name=self.pupil.last_name,
            grade=self.pupil.grade,
            org_id=self.pupil.org_id,
            campus_name=self.campus_name,
            jurisdiction=self.jurisdiction,
            status=self.state,
            groups=[group_read(g) for g in self.result.groups if g.state in _LISTED_GROUP_STATES],
            exemptions=[
                ExemptionRead.model_validate(e)
                for e in health.exemptions.get(self.pupil.id, ())
                if e.signed_on <= as_of
            ],
            data_issues=[i.message for i in self.result.data_issues],
        )
