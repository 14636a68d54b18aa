"""One student's compliance from loaded rows, remembered by its whole input, and its read models.

The rules engine (domain/health/rules.py) is pure, so a result is keyed by everything it depends
on and never needs invalidating; the report and a student's history both evaluate through here.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Hashable, Sequence
from typing import Any

from db.memo import LruMemo
from domain.health import rules
from domain.health.loading import HealthRows
from domain.health.requirements import RequirementRule
from domain.health.rules import StudentCompliance
from domain.health.schemas import GroupComplianceRead


def evaluate(
    student_id: uuid.UUID,
    birth_on: dt.date,
    applicable: Sequence[RequirementRule],
    health: HealthRows,
    as_of: dt.date,
    rules_key: Hashable | None = None,
) -> StudentCompliance:
    """One student's compliance with the rows that apply to their grade (remembered when `rules_key` is given)."""
    records = tuple(health.records.get(student_id, ()))
    exemptions = tuple(health.exemptions.get(student_id, ()))
    evidence = tuple(health.evidence.get(student_id, ()))
    provisionals = tuple(health.provisionals.get(student_id, ()))
    key = None if rules_key is None else (rules_key, birth_on, as_of, records, exemptions, evidence, provisionals)
    if key is not None:
        known = _evaluations.get(key)
        if known is not None:
            return known
    result = rules.evaluate_student(
        birth_on=birth_on,
        as_of=as_of,
        rules=applicable,
        records=records,
        exemptions=[rules.ExemptionInput(e.kind.value, e.signed_on, e.expires_on, e.vaccine_group) for e in exemptions],
        evidence=[rules.EvidenceInput(e.antigen, e.kind, e.recorded_on) for e in evidence],
        provisionals=[rules.ProvisionalInput(p.granted_on, p.due_on, p.vaccine_group) for p in provisionals],
    )
    if key is not None:
        _evaluations.put(key, result)
    return result


def rules_content_key(applicable: Sequence[RequirementRule]) -> tuple[Any, ...]:
    """What an evaluation depends on from its rules: their content, not which rows or objects hold it."""
    return tuple(
        (
            r.vaccine_group,
            r.antigen,
            r.min_doses,
            r.grade_min,
            r.grade_max,
            r.effective_school_year,
            json.dumps(r.conditions, sort_keys=True),
        )
        for r in applicable
    )


# Compliance results remembered by their whole input, least recently used forgotten first.
# Evaluation is a pure function of a student's doses, exemptions, evidence and provisional
# enrollments, their birth date, the as-of date and the rules (and the shipped CDSi map), all read
# afresh on every call and all part of the key; so nothing needs invalidating: a new dose, a
# changed rule or another date is simply another key. A report asked again, or a student who
# appears in several reports, is then not worked out twice. About 5 KB per entry.
_evaluations: LruMemo[Hashable, StudentCompliance] = LruMemo(4096)


def group_read(group: rules.GroupStatus) -> GroupComplianceRead:
    """A vaccine group's status as the report and the history show it."""
    return GroupComplianceRead(
        vaccine_group=group.vaccine_group,
        status=group.state,
        doses_counted=group.doses_counted,
        doses_required=group.doses_required,
        reason=group.reason,
        exemption_kind=group.exemption_kind,
        exemption_expires_on=group.exemption_expires_on,
        provisional_due_on=group.provisional_due_on,
        evidence_kinds=list(group.evidence_kinds),
    )


def grade_label(grade: int) -> str:
    """A grade as warnings name it (pre-K, K, 1 ... 12)."""
    return {-1: "pre-K", 0: "K"}.get(grade, str(grade))
