"""What compliance is worked out from, read in as few round trips as possible.

Three reads, each shaped for the report's hot path: an org's campus and inherited jurisdiction
(remembered per org tree version), a jurisdiction's requirement rules (parsed once per version of
the requirement table), and a student set's doses, exemptions, evidence and provisional
enrollments as one UNION ALL whose rows say which table they came from (`HealthRowKind`).
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import CompoundSelect, Date, Select, String, bindparam, cast, literal_column, null, select, union_all
from sqlalchemy.orm import Session, aliased

from db.freshness import reference_version
from db.idset import chunked, ids_in, in_ids_param
from db.memo import LruMemo
from db.models import (
    ExemptionKind,
    ImmunityEvidence,
    ImmunizationExemption,
    ImmunizationRecord,
    ImmunizationRequirement,
    Organization,
    OrgLevel,
    ProvisionalEnrollment,
)
from domain.health.requirements import RequirementRule, jurisdiction_key, jurisdiction_spellings
from domain.health.rules import DoseInput
from domain.org.service import TreeMemo
from policies.scope import Scope

# -- an org's campus and jurisdiction ------------------------------------------------------------


@dataclass(frozen=True)
class OrgContext:
    """What the report says about an enrollment's org: its campus, the jurisdiction it inherits, its name."""

    campus_name: str
    jurisdiction: str | None
    name: str


# Made once: adapting the columns of a new alias is costly on every call.
_OWN_ORG = aliased(Organization)


def org_contexts(session: Session, scope: Scope, org_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, OrgContext]:
    """Campus name and inherited jurisdiction of each org in `org_ids` (read once per org tree version)."""

    def load(missing: list[uuid.UUID]) -> dict[uuid.UUID, OrgContext]:
        own = _OWN_ORG
        rows = session.execute(
            select(own.id.label("own_id"), own.path.label("own_path"), Organization)
            .join(Organization, own.path.startswith(Organization.path))
            .where(ids_in(own.id, missing))
        ).all()
        ancestors: dict[uuid.UUID, list[Organization]] = defaultdict(list)
        for row in rows:
            # LIKE treats "_" in slugs as a wildcard; keep only true path prefixes.
            if row.own_path.startswith(row.Organization.path):
                ancestors[row.own_id].append(row.Organization)
        contexts = {}
        for own_id, chain in ancestors.items():
            chain.sort(key=lambda o: len(o.path), reverse=True)
            own_org = chain[0]
            campus = next((o for o in chain if o.level == OrgLevel.CAMPUS), own_org)
            jurisdiction = next((o.jurisdiction for o in chain if o.jurisdiction), None)
            contexts[own_id] = OrgContext(campus.name, jurisdiction, own_org.name)
        return contexts

    return _contexts.get_many(scope.tree_version, org_ids, load)


_contexts: TreeMemo[OrgContext] = TreeMemo()


# -- requirement rules ---------------------------------------------------------------------------

_R = ImmunizationRequirement
_REQUIREMENTS = select(
    _R.id,
    _R.jurisdiction,
    _R.vaccine_group,
    _R.antigen,
    _R.min_doses,
    _R.conditions,
    _R.grade_min,
    _R.grade_max,
    _R.effective_school_year,
)
# Built once; one jurisdiction is the usual case, and an equality needs no expanding IN list.
_REQUIREMENTS_OF_ONE = _REQUIREMENTS.where(_R.jurisdiction == bindparam("jurisdiction"))
_REQUIREMENTS_OF_MANY = _REQUIREMENTS.where(_R.jurisdiction.in_(bindparam("jurisdictions", expanding=True)))


def requirement_rules(session: Session, jurisdictions: Iterable[str]) -> Mapping[str, tuple[RequirementRule, ...]]:
    """Every requirement row of the given jurisdictions, as rules grouped by the jurisdiction asked for.

    Tolerant of spelling: an org's "US-FL" finds rows stored as "FL" and the other way round
    (`jurisdiction_key`). Read once per version of the requirement table (triggers replace its
    token on any change, so a newly defined chart applies to the next read).

    Raises:
        RequirementDataError: a stored row's conditions are malformed.
    """
    asked = tuple(sorted(set(jurisdictions)))
    if not asked:
        return {}
    wanted = tuple(sorted({spelling for code in asked for spelling in jurisdiction_spellings(code)}))
    version = reference_version(session, "immunization_requirement")
    if not version:
        by_key = _read_requirements(session, wanted)
    else:
        key = (session.get_bind().engine.url.render_as_string(hide_password=True), version, wanted)
        by_key = _rule_sets.get_or_make(key, lambda: _read_requirements(session, wanted))
    return {code: by_key[jurisdiction_key(code)] for code in asked if jurisdiction_key(code) in by_key}


def _read_requirements(session: Session, wanted: tuple[str, ...]) -> dict[str, tuple[RequirementRule, ...]]:
    """Rules of the stored spellings `wanted`, by `jurisdiction_key`."""
    rows = (
        session.execute(_REQUIREMENTS_OF_ONE, {"jurisdiction": wanted[0]})
        if len(wanted) == 1
        else session.execute(_REQUIREMENTS_OF_MANY, {"jurisdictions": list(wanted)})
    )
    by_jurisdiction: dict[str, list[RequirementRule]] = defaultdict(list)
    for row in rows:
        by_jurisdiction[jurisdiction_key(row.jurisdiction)].append(RequirementRule.of(row))
    return {jurisdiction: tuple(found) for jurisdiction, found in by_jurisdiction.items()}


# Parsed rule sets per (database, requirement table version, jurisdictions).
_rule_sets: LruMemo[tuple[str, str, tuple[str, ...]], dict[str, tuple[RequirementRule, ...]]] = LruMemo(64)


# -- a student set's health rows -----------------------------------------------------------------


@dataclass(frozen=True)
class ExemptionRow:
    """An exemption as read for evaluation and the report (the fields of ExemptionRead)."""

    id: uuid.UUID
    student_id: uuid.UUID
    kind: ExemptionKind
    vaccine_group: str | None
    signed_on: dt.date
    expires_on: dt.date | None
    note: str | None


@dataclass(frozen=True)
class EvidenceRow:
    """Evidence of immunity (a titer, a documented history) as read (the fields of ImmunityEvidenceRead)."""

    id: uuid.UUID
    student_id: uuid.UUID
    antigen: str
    kind: str
    observation_code: str | None
    recorded_on: dt.date


@dataclass(frozen=True)
class ProvisionalRow:
    """A provisional enrollment as read (the fields of ProvisionalEnrollmentRead)."""

    id: uuid.UUID
    student_id: uuid.UUID
    vaccine_group: str | None
    granted_on: dt.date
    due_on: dt.date


@dataclass
class HealthRows:
    """A student set's health rows by student id: doses as rules inputs, the rest in date order."""

    records: dict[uuid.UUID, list[DoseInput]]
    exemptions: dict[uuid.UUID, list[ExemptionRow]]
    evidence: dict[uuid.UUID, list[EvidenceRow]]
    provisionals: dict[uuid.UUID, list[ProvisionalRow]]


class HealthRowKind(enum.StrEnum):
    """Which table a row of the health UNION came from."""

    DOSE = "dose"
    EXEMPTION = "exemption"
    EVIDENCE = "evidence"
    PROVISIONAL = "provisional"


class _HealthRow(NamedTuple):
    """One row of the health UNION: which table it came from, and that table's values.

    The statement's columns are these fields, in this order and under these names. Each field is
    typed as the tables that have it give it; in a row from a table without it, it is None.
    """

    row_kind: str
    student_id: uuid.UUID
    id: uuid.UUID
    vaccine_group: str  # doses; exemptions and provisional enrollments, where None means every group
    cvx_code: str | None  # doses
    product: str | None  # doses
    kind: str  # exemptions (an ExemptionKind value), evidence
    note: str | None  # exemptions
    antigen: str  # evidence
    observation_code: str | None  # evidence
    dated_on: dt.date  # administered_on, signed_on, recorded_on or granted_on
    ends_on: dt.date  # expires_on (None: lifelong) or due_on


_DATE_FIELDS = {"dated_on", "ends_on"}


def _branch(row_kind: HealthRowKind, table: Any, /, **values: Any) -> Select[Any]:
    """One table's part of the UNION: `values` by `_HealthRow` field, a typed null for every other field.

    Typed nulls keep the column types of the first branch, which convert the results (dates on SQLite).
    """
    given = {"row_kind": literal_column(f"'{row_kind.value}'", String), "student_id": table.student_id, "id": table.id}
    given |= values
    unknown = set(given) - set(_HealthRow._fields)
    assert not unknown, f"not a health row field: {unknown}"
    columns = [
        given.get(name, cast(null(), Date if name in _DATE_FIELDS else String)).label(name)
        for name in _HealthRow._fields
    ]
    return select(*columns).where(in_ids_param(table.student_id, "ids"))


def _health_statement() -> CompoundSelect[Any]:
    """Doses, exemptions, evidence and provisional enrollments of `ids` as one UNION ALL: one round trip, not four.

    Each branch is an index lookup on its student_id. Rows come in no order: the doses need none
    and `health_rows` puts the few others in date order.
    """
    rec, exm, evi, pro = ImmunizationRecord, ImmunizationExemption, ImmunityEvidence, ProvisionalEnrollment
    return union_all(
        _branch(
            HealthRowKind.DOSE,
            rec,
            vaccine_group=rec.vaccine_group,
            cvx_code=rec.cvx_code,
            product=rec.product,
            dated_on=rec.administered_on,
        ),
        _branch(
            HealthRowKind.EXEMPTION,
            exm,
            kind=cast(exm.kind, String),
            vaccine_group=exm.vaccine_group,
            note=exm.note,
            dated_on=exm.signed_on,
            ends_on=exm.expires_on,
        ),
        _branch(
            HealthRowKind.EVIDENCE,
            evi,
            antigen=evi.antigen,
            kind=evi.kind,
            observation_code=evi.observation_code,
            dated_on=evi.recorded_on,
        ),
        _branch(
            HealthRowKind.PROVISIONAL,
            pro,
            vaccine_group=pro.vaccine_group,
            dated_on=pro.granted_on,
            ends_on=pro.due_on,
        ),
    )


# Built once: constructing this union costs more than running it.
_HEALTH = _health_statement()


def _columns(*names: str) -> Callable[[Any], Any]:
    """A getter of the named columns of a health row (their positions found once, from the names)."""
    return operator.itemgetter(*(_HealthRow._fields.index(name) for name in names))


# Doses are most of the rows: they go straight into a DoseInput, without a named tuple per row
# (which would cost about as much again as the rest of the loop). DoseInput field -> row column:
_DOSE_COLUMNS = {
    "administered_on": "dated_on",
    "vaccine_group": "vaccine_group",
    "cvx_code": "cvx_code",
    "product": "product",
}
assert tuple(_DOSE_COLUMNS) == DoseInput._fields, "a DoseInput field has no health row column"
_DOSE = _columns(*_DOSE_COLUMNS.values())
_KIND_AND_STUDENT = _columns("row_kind", "student_id")


def health_rows(session: Session, student_ids: Collection[uuid.UUID]) -> HealthRows:
    """Doses, exemptions, evidence and provisional enrollments of a student set: one query per chunk of ids.

    The ids go as one array parameter, so the query is index lookups and never re-runs the
    (scoped, dated) question that found the students.
    """
    found = HealthRows(defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list))
    records, dose_kind, make_dose = found.records, HealthRowKind.DOSE, DoseInput._make
    for ids in chunked(student_ids):
        # .all(): fetched at once, rather than row by row through the cursor.
        for fetched in session.execute(_HEALTH, {"ids": ids}).all():
            row_kind, student_id = _KIND_AND_STUDENT(fetched)
            if row_kind == dose_kind:
                records[student_id].append(make_dose(_DOSE(fetched)))
                continue
            # A named tuple reads the columns by name at a fraction of the cost of a Row's attributes.
            row = _HealthRow._make(fetched)
            if row_kind == HealthRowKind.EXEMPTION:
                found.exemptions[row.student_id].append(
                    ExemptionRow(
                        id=row.id,
                        student_id=row.student_id,
                        kind=ExemptionKind(row.kind),
                        vaccine_group=row.vaccine_group,
                        signed_on=row.dated_on,
                        expires_on=row.ends_on,
                        note=row.note,
                    )
                )
            elif row_kind == HealthRowKind.EVIDENCE:
                found.evidence[row.student_id].append(
                    EvidenceRow(
                        id=row.id,
                        student_id=row.student_id,
                        antigen=row.antigen,
                        kind=row.kind,
                        observation_code=row.observation_code,
                        recorded_on=row.dated_on,
                    )
                )
            else:
                found.provisionals[row.student_id].append(
                    ProvisionalRow(
                        id=row.id,
                        student_id=row.student_id,
                        vaccine_group=row.vaccine_group,
                        granted_on=row.dated_on,
                        due_on=row.ends_on,
                    )
                )
    # Date order, then id (as the database orders uuids).
    for exemptions in found.exemptions.values():
        exemptions.sort(key=lambda e: (e.signed_on, e.id))
    for evidence in found.evidence.values():
        evidence.sort(key=lambda v: (v.recorded_on, v.id))
    for provisionals in found.provisionals.values():
        provisionals.sort(key=lambda p: (p.granted_on, p.id))
    return found
