"""Immunization compliance: who is missing doses, a student's history, recording doses and exemptions."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import CompoundSelect, Date, String, bindparam, cast, literal_column, null, select, union_all
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from db.freshness import reference_version
from db.idset import chunked, ids_in, in_ids_param
from db.memo import LruMemo
from db.models import (
    Enrollment,
    ExemptionKind,
    ImmunityEvidence,
    ImmunizationExemption,
    ImmunizationRecord,
    ImmunizationRequirement,
    Organization,
    OrgLevel,
    ProvisionalEnrollment,
    Student,
)
from domain.audit.changes import record_changes
from domain.errors import DuplicateRecord, InvalidInput, NotFound, PermissionDenied
from domain.health import rules
from domain.health.cdsi import add_age, load_map, normalise_cvx
from domain.health.requirements import RequirementRule, current_rules
from domain.health.rules import ComplianceState, StudentCompliance
from domain.health.schemas import (
    ComplianceSummaryRead,
    ExemptionRead,
    GroupComplianceRead,
    ImmunityEvidenceRead,
    ImmunizationHistoryRead,
    ImmunizationRead,
    MissingImmunizationsPage,
    MissingImmunizationsQuery,
    ProvisionalEnrollmentRead,
    RecordExemptionInput,
    RecordImmunizationInput,
    StudentComplianceRead,
)
from domain.org.service import TreeMemo, require_org, within_org
from policies.scope import Action, DataClass, Scope

# How long an exemption may last when signed: a medical certificate is renewed yearly, the
# DSHS affidavit (religious or conscientious) is valid for two years.
EXEMPTION_VALIDITY = {
    ExemptionKind.MEDICAL: "1 year",
    ExemptionKind.RELIGIOUS: "2 years",
    ExemptionKind.CONSCIENTIOUS: "2 years",
}
_LISTED_GROUP_STATES = {ComplianceState.MISSING, ComplianceState.EXEMPT, ComplianceState.PROVISIONAL}


@dataclass(frozen=True)
class _OrgContext:
    campus_name: str
    jurisdiction: str | None
    name: str


# -- loading -------------------------------------------------------------------------------------


# Made once: adapting the columns of a new alias costs about 1.5 ms on every call.
_OWN_ORG = aliased(Organization)


def _org_contexts(session: Session, scope: Scope, org_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, _OrgContext]:
    """Campus name and inherited jurisdiction of each org in `org_ids` (read once per org tree version)."""

    def load(missing: list[uuid.UUID]) -> dict[uuid.UUID, _OrgContext]:
        own = _OWN_ORG
        rows = session.execute(
            select(own.id, own.path, Organization)
            .join(Organization, own.path.startswith(Organization.path))
            .where(ids_in(own.id, missing))
        ).all()
        ancestors: dict[uuid.UUID, list[Organization]] = defaultdict(list)
        for own_id, own_path, org in rows:
            # LIKE treats "_" in slugs as a wildcard; keep only true path prefixes.
            if own_path.startswith(org.path):
                ancestors[own_id].append(org)
        contexts = {}
        for own_id, chain in ancestors.items():
            chain.sort(key=lambda o: len(o.path), reverse=True)
            own_org = chain[0]
            campus = next((o for o in chain if o.level == OrgLevel.CAMPUS), own_org)
            jurisdiction = next((o.jurisdiction for o in chain if o.jurisdiction), None)
            contexts[own_id] = _OrgContext(campus.name, jurisdiction, own_org.name)
        return contexts

    return _contexts.get_many(scope.tree_version, org_ids, load)


_contexts: TreeMemo[_OrgContext] = TreeMemo()


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


def _requirements(session: Session, jurisdictions: Iterable[str]) -> Mapping[str, tuple[RequirementRule, ...]]:
    """Every requirement row of the given jurisdictions, as rules grouped by jurisdiction.

    Read once per version of the requirement table (triggers replace its token on any change).
    """
    wanted = tuple(sorted(set(jurisdictions)))
    if not wanted:
        return {}
    version = reference_version(session, "immunization_requirement")
    if not version:
        return _read_requirements(session, wanted)
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), version, wanted)
    return _rule_sets.get_or_make(key, lambda: _read_requirements(session, wanted))


def _read_requirements(session: Session, wanted: tuple[str, ...]) -> dict[str, tuple[RequirementRule, ...]]:
    rows = (
        session.execute(_REQUIREMENTS_OF_ONE, {"jurisdiction": wanted[0]})
        if len(wanted) == 1
        else session.execute(_REQUIREMENTS_OF_MANY, {"jurisdictions": list(wanted)})
    )
    by_jurisdiction: dict[str, list[RequirementRule]] = defaultdict(list)
    for row in rows:
        by_jurisdiction[row.jurisdiction].append(RequirementRule.of(row))
    return {jurisdiction: tuple(found) for jurisdiction, found in by_jurisdiction.items()}


# Parsed rule sets per (database, requirement table version, jurisdictions).
_rule_sets: LruMemo[tuple[str, str, tuple[str, ...]], dict[str, tuple[RequirementRule, ...]]] = LruMemo(64)


@dataclass(frozen=True)
class _Exemption:
    """An exemption as read for evaluation and the report (the fields of ExemptionRead)."""

    id: uuid.UUID
    student_id: uuid.UUID
    kind: ExemptionKind
    vaccine_group: str | None
    signed_on: dt.date
    expires_on: dt.date | None
    note: str | None


@dataclass(frozen=True)
class _Evidence:
    id: uuid.UUID
    student_id: uuid.UUID
    antigen: str
    kind: str
    observation_code: str | None
    recorded_on: dt.date


@dataclass(frozen=True)
class _Provisional:
    id: uuid.UUID
    student_id: uuid.UUID
    vaccine_group: str | None
    granted_on: dt.date
    due_on: dt.date


@dataclass
class _HealthRows:
    records: dict[uuid.UUID, list[rules.DoseInput]]
    exemptions: dict[uuid.UUID, list[_Exemption]]
    evidence: dict[uuid.UUID, list[_Evidence]]
    provisionals: dict[uuid.UUID, list[_Provisional]]


def _health_statement() -> CompoundSelect[Any]:
    """Doses, exemptions, evidence and provisional enrollments of `ids` as one UNION ALL of
    (tag, student, id, a, b, c, day, until): one round trip instead of four.

    Each branch is an index lookup on its student_id. Rows come in no order: the doses need none
    and `_health_rows` puts the few others in date order.
    """
    rec, exm, evi, pro = ImmunizationRecord, ImmunizationExemption, ImmunityEvidence, ProvisionalEnrollment
    none = null()
    return union_all(
        select(
            literal_column("'d'").label("tag"),
            rec.student_id,
            rec.id,
            rec.vaccine_group.label("a"),
            rec.cvx_code.label("b"),
            rec.product.label("c"),
            rec.administered_on.label("day"),
            cast(none, Date).label("until"),
        ).where(in_ids_param(rec.student_id, "ids")),
        select(
            literal_column("'x'"),
            exm.student_id,
            exm.id,
            cast(exm.kind, String),
            exm.vaccine_group,
            exm.note,
            exm.signed_on,
            exm.expires_on,
        ).where(in_ids_param(exm.student_id, "ids")),
        select(
            literal_column("'v'"),
            evi.student_id,
            evi.id,
            evi.antigen,
            evi.kind,
            evi.observation_code,
            evi.recorded_on,
            none,
        ).where(in_ids_param(evi.student_id, "ids")),
        select(
            literal_column("'p'"), pro.student_id, pro.id, pro.vaccine_group, none, none, pro.granted_on, pro.due_on
        ).where(in_ids_param(pro.student_id, "ids")),
    )


# Built once: constructing this union costs more than running it.
_HEALTH = _health_statement()


def _health_rows(session: Session, student_ids: Collection[uuid.UUID]) -> _HealthRows:
    """Doses, exemptions, evidence and provisional enrollments of a student set: one query per chunk of ids.

    The ids go as one array parameter, so the query is index lookups and never re-runs the
    (scoped, dated) question that found the students.
    """
    found = _HealthRows(defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list))
    dose, records = rules.DoseInput, found.records
    for ids in chunked(student_ids):
        # .all(): fetched at once, rather than row by row through the cursor.
        for tag, student_id, row_id, a, b, c, day, until in session.execute(_HEALTH, {"ids": ids}).all():
            if tag == "d":
                records[student_id].append(dose(day, a, b, c))
            elif tag == "x":
                found.exemptions[student_id].append(_Exemption(row_id, student_id, ExemptionKind(a), b, day, until, c))
            elif tag == "v":
                found.evidence[student_id].append(_Evidence(row_id, student_id, a, b, c, day))
            else:
                found.provisionals[student_id].append(_Provisional(row_id, student_id, a, day, until))
    # Date order, then id (as the database orders uuids).
    for exemptions in found.exemptions.values():
        exemptions.sort(key=lambda e: (e.signed_on, e.id))
    for evidence in found.evidence.values():
        evidence.sort(key=lambda v: (v.recorded_on, v.id))
    for provisionals in found.provisionals.values():
        provisionals.sort(key=lambda p: (p.granted_on, p.id))
    return found


def _dose_input(rec: ImmunizationRecord) -> rules.DoseInput:
    return rules.DoseInput(rec.administered_on, rec.vaccine_group, rec.cvx_code, rec.product)


def _group_read(group: rules.GroupStatus) -> GroupComplianceRead:
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


def _grade_label(grade: int) -> str:
    return {-1: "pre-K", 0: "K"}.get(grade, str(grade))


class _Pupil(NamedTuple):
    """The student fields the report reads (plain columns: no ORM entity per student)."""

    id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    birth_on: dt.date


def _evaluate(
    student: Student | _Pupil,
    applicable: Sequence[RequirementRule],
    health: _HealthRows,
    as_of: dt.date,
    rules_key: Hashable | None = None,
) -> StudentCompliance:
    """One student's compliance with the rows that apply to their grade (remembered when `rules_key` is given)."""
    records = tuple(health.records.get(student.id, ()))
    exemptions = tuple(health.exemptions.get(student.id, ()))
    evidence = tuple(health.evidence.get(student.id, ()))
    provisionals = tuple(health.provisionals.get(student.id, ()))
    key = (
        None if rules_key is None else (rules_key, student.birth_on, as_of, records, exemptions, evidence, provisionals)
    )
    if key is not None:
        known = _evaluations.get(key)
        if known is not None:
            return known
    result = rules.evaluate_student(
        birth_on=student.birth_on,
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


def _rules_key(applicable: Sequence[RequirementRule]) -> tuple[Any, ...]:
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


def forget_evaluations() -> None:
    """Forget every remembered evaluation (benchmarks and tests of the cold path)."""
    _evaluations.clear()


# -- the compliance report -------------------------------------------------------------------------


def _enrollment_filters(session: Session, scope: Scope, data: MissingImmunizationsQuery) -> list[ColumnElement[bool]]:
    scope, in_org = within_org(session, scope, Enrollment.org_id, data.org_id)
    filters = [
        Enrollment.active_on(data.as_of),
        scope.row_filter(Enrollment.org_id, Enrollment.student_id, DataClass.HEALTH),
        in_org,
    ]
    if data.grade is not None:
        filters.append(Enrollment.grade_level == data.grade)
    return filters


def find_missing_immunizations(
    session: Session, scope: Scope, data: MissingImmunizationsQuery
) -> MissingImmunizationsPage:
    """Students enrolled on data.as_of whose doses fall short of their grade's requirements.

    Exempt and provisional students are listed with their own status, never as missing.

    Raises:
        NotFound: data.org_id does not exist or is outside the caller's health scope.
    """
    if data.org_id is not None:
        require_org(scope, data.org_id, DataClass.HEALTH)
    filters = _enrollment_filters(session, scope, data)

    # A student may hold concurrent stints (main year + camp, or both sides of a transfer day):
    # evaluate under the most recently started one.
    chosen: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
    students: dict[uuid.UUID, _Pupil] = {}
    for student_id, number, first_name, last_name, birth_on, org_id, grade in session.execute(
        select(
            Student.id,
            Student.student_number,
            Student.first_name,
            Student.last_name,
            Student.birth_on,
            Enrollment.org_id,
            Enrollment.grade_level,
        )
        .join(Student, Student.id == Enrollment.student_id)
        .where(*filters)
        .order_by(Enrollment.student_id, Enrollment.start_on.desc(), Enrollment.id)
    ).all():
        if student_id not in chosen:
            chosen[student_id] = (org_id, grade)
            students[student_id] = _Pupil(student_id, number, first_name, last_name, birth_on)

    contexts = _org_contexts(session, scope, {org_id for org_id, _ in chosen.values()})
    requirements = _requirements(session, (c.jurisdiction for c in contexts.values() if c.jurisdiction))
    health = _health_rows(session, chosen.keys())

    applicable: dict[tuple[str, int], list[RequirementRule]] = {}
    wanted: dict[tuple[str, int], tuple[list[RequirementRule], tuple[Any, ...]]] = {}
    unevaluated: dict[str, int] = defaultdict(int)
    counts: dict[ComplianceState, int] = defaultdict(int)
    listed: list[_Listed] = []
    for student_id, (org_id, grade) in chosen.items():
        student, context = students[student_id], contexts[org_id]
        if context.jurisdiction is None:
            unevaluated[f"no immunization jurisdiction set for {context.name} or any org above it"] += 1
            continue
        jurisdiction_rules = requirements.get(context.jurisdiction, ())
        if not jurisdiction_rules:
            unevaluated[f"no immunization requirements configured for jurisdiction {context.jurisdiction}"] += 1
            continue
        key = (context.jurisdiction, grade)
        if key not in applicable:
            applicable[key] = current_rules(jurisdiction_rules, grade)
        if not applicable[key]:
            unevaluated[
                f"no {context.jurisdiction} immunization requirements configured for grade {_grade_label(grade)}"
            ] += 1
            continue
        if key not in wanted:
            # A grade without rows for the asked group simply has nothing to meet in it.
            asked = [r for r in applicable[key] if data.vaccine_group in (None, r.vaccine_group)]
            wanted[key] = (asked, _rules_key(asked))
        asked, rules_key = wanted[key]
        result = _evaluate(student, asked, health, data.as_of, rules_key)
        state = ComplianceState.COMPLIANT if result.state == ComplianceState.EVIDENCE else result.state
        counts[state] += 1
        if (
            state == ComplianceState.MISSING
            or (state == ComplianceState.EXEMPT and data.include_exempt)
            or (state == ComplianceState.PROVISIONAL and data.include_provisional)
        ):
            listed.append(_Listed(student, grade, org_id, context.campus_name, context.jurisdiction, state, result))

    listed.sort(
        key=lambda x: (x.student.last_name.casefold(), x.student.first_name.casefold(), x.student.student_number)
    )
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

    student: _Pupil
    grade: int
    org_id: uuid.UUID
    campus_name: str
    jurisdiction: str
    state: ComplianceState
    result: StudentCompliance

    def read(self, health: _HealthRows, as_of: dt.date) -> StudentComplianceRead:
        """The report row."""
        return StudentComplianceRead(
            student_id=self.student.id,
            student_number=self.student.student_number,
            first_name=self.student.first_name,
            last_name=self.student.last_name,
            grade=self.grade,
            org_id=self.org_id,
            campus_name=self.campus_name,
            jurisdiction=self.jurisdiction,
            status=self.state,
            groups=[_group_read(g) for g in self.result.groups if g.state in _LISTED_GROUP_STATES],
            exemptions=[
                ExemptionRead.model_validate(e)
                for e in health.exemptions.get(self.student.id, ())
                if e.signed_on <= as_of
            ],
            data_issues=[i.message for i in self.result.data_issues],
        )


# -- one student -------------------------------------------------------------------------------------


def _visible_student(session: Session, scope: Scope, student_id: uuid.UUID, action: Action) -> Student:
    """The student if its health records are visible, checking `action` on top of reading.

    Raises:
        NotFound: no such student, or outside the caller's health scope.
        PermissionDenied: visible, but the caller may not perform `action` on health records.
    """
    student = session.execute(
        select(Student).where(Student.id == student_id, scope.student_filter(DataClass.HEALTH))
    ).scalar_one_or_none()
    if student is None:
        raise NotFound(f"student {student_id} not found", field="student_id")
    if action != Action.READ:
        allowed = session.execute(
            select(Student.id).where(Student.id == student_id, scope.student_filter(DataClass.HEALTH, action))
        ).first()
        if allowed is None:
            raise PermissionDenied(f"you may not {action.value} health records of this student", field="student_id")
    return student


def _immunization_read(rec: ImmunizationRecord, birth_on: dt.date) -> ImmunizationRead:
    doses, _ = rules.expand_doses([_dose_input(rec)], birth_on, rec.administered_on)
    cvx = normalise_cvx(rec.cvx_code) if rec.cvx_code else None
    return ImmunizationRead(
        id=rec.id,
        student_id=rec.student_id,
        vaccine_group=rec.vaccine_group,
        cvx_code=rec.cvx_code,
        cvx_description=load_map().descriptions.get(cvx) if cvx else None,
        product=rec.product,
        administered_on=rec.administered_on,
        source=rec.source,
        antigens=[d.antigen for d in doses],
    )


def _latest_enrollment(session: Session, student_id: uuid.UUID, as_of: dt.date) -> Enrollment | None:
    return (
        session.execute(
            select(Enrollment)
            .where(Enrollment.student_id == student_id, Enrollment.active_on(as_of))
            .order_by(Enrollment.start_on.desc(), Enrollment.id)
            .limit(1)
        )
        .scalars()
        .first()
    )


def get_immunization_history(
    session: Session, scope: Scope, student_id: uuid.UUID, *, as_of: dt.date | None = None
) -> ImmunizationHistoryRead:
    """A student's doses, exemptions, evidence and provisional enrollments; with as_of, their compliance.

    Raises:
        NotFound: no such student, or outside the caller's health scope.
    """
    student = _visible_student(session, scope, student_id, Action.READ)
    health = _health_rows(session, [student.id])
    records = session.execute(
        select(ImmunizationRecord)
        .where(ImmunizationRecord.student_id == student.id)
        .order_by(ImmunizationRecord.administered_on, ImmunizationRecord.id)
    ).scalars()
    history = ImmunizationHistoryRead(
        student_id=student.id,
        student_number=student.student_number,
        first_name=student.first_name,
        last_name=student.last_name,
        records=[_immunization_read(r, student.birth_on) for r in records],
        exemptions=[ExemptionRead.model_validate(e) for e in health.exemptions.get(student.id, ())],
        evidence=[ImmunityEvidenceRead.model_validate(e) for e in health.evidence.get(student.id, ())],
        provisionals=[ProvisionalEnrollmentRead.model_validate(p) for p in health.provisionals.get(student.id, ())],
        as_of=as_of,
    )
    if as_of is None:
        return history
    enrollment = _latest_enrollment(session, student.id, as_of)
    if enrollment is None:
        history.warnings.append(f"no enrollment active on {as_of}; compliance not evaluated")
        return history
    context = _org_contexts(session, scope, [enrollment.org_id])[enrollment.org_id]
    jurisdiction_rules = _requirements(session, [context.jurisdiction] if context.jurisdiction else []).get(
        context.jurisdiction or "", ()
    )
    applicable = current_rules(jurisdiction_rules, enrollment.grade_level)
    if not applicable:
        history.warnings.append(
            f"no immunization requirements configured for jurisdiction {context.jurisdiction or '(none)'} "
            f"and grade {_grade_label(enrollment.grade_level)}"
        )
        return history
    result = _evaluate(student, applicable, health, as_of)
    history.compliance = [_group_read(g) for g in result.groups]
    history.data_issues = [i.message for i in result.data_issues]
    return history


# -- writes ------------------------------------------------------------------------------------------


def _dose_group(data: RecordImmunizationInput) -> tuple[str | None, str]:
    """The normalised CVX code and the vaccine group to store for a new dose."""
    cdsi = load_map()
    if data.cvx_code is None or not data.cvx_code.strip():
        if data.vaccine_group is None:
            raise InvalidInput("give a CVX code or a vaccine group", field="cvx_code")
        return None, data.vaccine_group
    cvx = normalise_cvx(data.cvx_code)
    antigens = cdsi.all_cvx_antigens(cvx)
    if antigens is None:
        raise InvalidInput(f"unknown CVX code {data.cvx_code!r} (CDSi {cdsi.version})", field="cvx_code")
    if data.vaccine_group is None:
        group = cdsi.primary_group_of_cvx(cvx)
        if group is None:
            raise InvalidInput(f"CVX {cvx} maps to no vaccine group; give vaccine_group", field="vaccine_group")
        return cvx, group
    if not set(antigens) & set(cdsi.groups[data.vaccine_group]):
        raise InvalidInput(
            f"CVX {cvx} ({cdsi.descriptions[cvx]}) is not a {data.vaccine_group} vaccine", field="vaccine_group"
        )
    return cvx, data.vaccine_group


def _dose_product(product: str | None, group: str) -> str | None:
    if product is None or not product.strip():
        return None
    if group != rules.DTAP_GROUP:
        return product.strip()
    canonical = {p.lower(): p for p in rules.DTAP_PRODUCT_NAMES}.get(product.strip().lower())
    if canonical is None:
        raise InvalidInput(
            f"unknown {group} product {product!r}; use one of {', '.join(rules.DTAP_PRODUCT_NAMES)}", field="product"
        )
    return canonical


def record_immunization(
    session: Session, scope: Scope, data: RecordImmunizationInput, *, today: dt.date
) -> ImmunizationRead:
    """Record one dose given to a student (a combination vaccine is one record).

    Raises:
        NotFound: no such student, or outside the caller's health scope.
        PermissionDenied: the caller may read but not write the student's health records.
        InvalidInput: a future or pre-birth date, an unknown CVX code or group, or a CVX outside the group.
        DuplicateRecord: the same dose is already recorded.
    """
    student = _visible_student(session, scope, data.student_id, Action.WRITE)
    if data.administered_on > today:
        raise InvalidInput(f"administered_on {data.administered_on} is in the future", field="administered_on")
    if data.administered_on < student.birth_on:
        raise InvalidInput(
            f"administered_on {data.administered_on} is before the student's birth", field="administered_on"
        )
    cvx, group = _dose_group(data)
    product = _dose_product(data.product, group)
    same = select(ImmunizationRecord.id).where(
        ImmunizationRecord.student_id == student.id,
        ImmunizationRecord.administered_on == data.administered_on,
        ImmunizationRecord.vaccine_group == group,
    )
    same = same.where(ImmunizationRecord.cvx_code == cvx if cvx else ImmunizationRecord.cvx_code.is_(None))
    if session.execute(same.limit(1)).first() is not None:
        raise DuplicateRecord(f"this {group} dose on {data.administered_on} is already recorded")
    record = ImmunizationRecord(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=student.org_id,
        vaccine_group=group,
        cvx_code=cvx,
        product=product,
        administered_on=data.administered_on,
        source=data.source,
    )
    session.add(record)
    record_changes(session, scope, record, reason=data.reason or "immunization recorded")
    session.flush()
    return _immunization_read(record, student.birth_on)


def record_exemption(session: Session, scope: Scope, data: RecordExemptionInput, *, today: dt.date) -> ExemptionRead:
    """Record a medical exemption or a religious/conscientious affidavit, with its expiry.

    Raises:
        NotFound: no such student, or outside the caller's health scope.
        PermissionDenied: the caller may read but not write the student's health records.
        InvalidInput: signed in the future, expiring before signing or beyond the kind's validity,
            or lifelong for a non-medical exemption.
    """
    student = _visible_student(session, scope, data.student_id, Action.WRITE)
    if data.signed_on > today:
        raise InvalidInput(f"signed_on {data.signed_on} is in the future", field="signed_on")
    longest = add_age(data.signed_on, EXEMPTION_VALIDITY[data.kind])
    if data.lifelong:
        if data.kind != ExemptionKind.MEDICAL:
            raise InvalidInput("only a medical exemption can be lifelong", field="lifelong")
        if data.expires_on is not None:
            raise InvalidInput("a lifelong exemption has no expiry", field="expires_on")
        expires_on = None
    else:
        expires_on = data.expires_on or longest
        if expires_on < data.signed_on:
            raise InvalidInput("expires_on is before signed_on", field="expires_on")
        if expires_on > longest:
            raise InvalidInput(
                f"a {data.kind.value} exemption is valid for at most {EXEMPTION_VALIDITY[data.kind]} (until {longest})",
                field="expires_on",
            )
    exemption = ImmunizationExemption(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=student.org_id,
        kind=data.kind,
        vaccine_group=data.vaccine_group,
        signed_on=data.signed_on,
        expires_on=expires_on,
        note=data.note,
    )
    session.add(exemption)
    record_changes(session, scope, exemption, reason=data.reason or "exemption recorded")
    session.flush()
    return ExemptionRead.model_validate(exemption)
