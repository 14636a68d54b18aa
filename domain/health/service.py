"""One student's immunization history, and the health writes: recording a dose or an exemption.

The compliance report is domain/health/report.py; both evaluate through domain/health/evaluation.py.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Enrollment, ExemptionKind, ImmunizationExemption, ImmunizationRecord
from domain.audit.changes import record_changes
from domain.errors import DuplicateRecord, InvalidInput
from domain.health import rules
from domain.health.cdsi import add_age, load_map, normalise_cvx
from domain.health.evaluation import evaluate, grade_label, group_read
from domain.health.loading import health_rows, org_contexts, requirement_rules
from domain.health.requirements import current_rules
from domain.health.schemas import (
    ExemptionRead,
    ImmunityEvidenceRead,
    ImmunizationHistoryRead,
    ImmunizationRead,
    ProvisionalEnrollmentRead,
    RecordExemptionInput,
    RecordImmunizationInput,
)
from domain.visibility import visible_student
from policies.scope import Action, DataClass, Scope

# How long an exemption may last when signed: a medical certificate is renewed yearly, the
# DSHS affidavit (religious or conscientious) is valid for two years.
EXEMPTION_VALIDITY = {
    ExemptionKind.MEDICAL: "1 year",
    ExemptionKind.RELIGIOUS: "2 years",
    ExemptionKind.CONSCIENTIOUS: "2 years",
}


# -- one student's history ------------------------------------------------------------------------


def _dose_input(rec: ImmunizationRecord) -> rules.DoseInput:
    return rules.DoseInput(rec.administered_on, rec.vaccine_group, rec.cvx_code, rec.product)


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
        NotFound: no such student, or outside the caller's immunization scope.
    """
    student = visible_student(session, scope, student_id, DataClass.IMMUNIZATION)
    health = health_rows(session, [student.id])
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
    context = org_contexts(session, scope, [enrollment.org_id])[enrollment.org_id]
    jurisdiction_rules = requirement_rules(session, [context.jurisdiction] if context.jurisdiction else []).get(
        context.jurisdiction or "", ()
    )
    applicable = current_rules(jurisdiction_rules, enrollment.grade_level, as_of)
    if not applicable:
        history.warnings.append(
            f"no immunization requirements configured for jurisdiction {context.jurisdiction or '(none)'} "
            f"and grade {grade_label(enrollment.grade_level)}"
        )
        return history
    result = evaluate(student.id, student.birth_on, applicable, health, as_of)
    history.compliance = [group_read(g) for g in result.groups]
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
        NotFound: no such student, or outside the caller's immunization scope.
        PermissionDenied: the caller may read but not write the student's immunization records.
        InvalidInput: a future or pre-birth date, an unknown CVX code or group, or a CVX outside the group.
        DuplicateRecord: the same dose is already recorded.
    """
    student = visible_student(session, scope, data.student_id, DataClass.IMMUNIZATION, Action.WRITE)
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
        NotFound: no such student, or outside the caller's immunization scope.
        PermissionDenied: the caller may read but not write the student's immunization records.
        InvalidInput: signed in the future, expiring before signing or beyond the kind's validity,
            or lifelong for a non-medical exemption.
    """
    student = visible_student(session, scope, data.student_id, DataClass.IMMUNIZATION, Action.WRITE)
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
