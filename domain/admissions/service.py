"""Admissions: applications move through a fixed pipeline; accepting an offer creates the enrollment."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Application, ApplicationStatus, Organization, OrgKind, Sex, Student
from domain.admissions import rules
from domain.admissions.schemas import (
    AdvanceApplicationInput,
    ApplicationPage,
    ApplicationQuery,
    ApplicationRead,
    SubmitApplicationInput,
)
from domain.audit.changes import record_changes
from domain.enrollment.service import create_stint, get_offering_for
from domain.errors import InvalidInput, InvalidTransition, NotApplicable, NotFound, PermissionDenied
from domain.events import application_payload, emit_event
from domain.paging import page_meta
from domain.student.record_schemas import StudentPerson
from domain.student.records import check_birth_on, insert_student, refuse_duplicates
from domain.visibility import org_condition, visible_student
from policies.scope import Action, DataClass, Scope

DEFAULT_OFFER_DAYS = 14


def _require_full_sis(session: Session, org_id: uuid.UUID) -> None:
    org = session.get_one(Organization, org_id)
    if org.kind is OrgKind.ROSTER_ONLY:
        raise NotApplicable(f"{org.name} is a roster-only school: it has no admissions", field="org_id")


def get_application(
    session: Session, scope: Scope, application_id: uuid.UUID, action: Action = Action.READ
) -> Application:
    """The application if visible to the caller's admissions scope.

    Raises:
        NotFound: no such application or outside the caller's scope.
        PermissionDenied: visible, but the caller may not change it.
    """
    application = session.execute(
        select(Application).where(
            Application.id == application_id, scope.org_filter(Application.org_id, DataClass.ADMISSIONS)
        )
    ).scalar_one_or_none()
    if application is None:
        raise NotFound(f"application {application_id} not found", field="application_id")
    if action is Action.WRITE and not scope.allows_org(application.org_id, DataClass.ADMISSIONS, Action.WRITE):
        raise PermissionDenied("your role may not change admissions decisions", field="application_id")
    return application


def read_application(scope: Scope, application: Application) -> ApplicationRead:
    """The application as the caller may see it: applicant birth date and guardian contact by data class."""
    read = ApplicationRead.model_validate(application)
    for name in HIDEABLE:
        if scope.hides("application", name):
            setattr(read, name, None)
    return read


HIDEABLE = ("applicant_birth_on", "guardian_name", "guardian_email", "guardian_phone")


def submit_application(
    session: Session, scope: Scope, data: SubmitApplicationInput, *, today: dt.date | None = None
) -> ApplicationRead:
    """Record a new application for an offering at a full-service campus, for a student or a new applicant.

    Raises:
        NotFound, PermissionDenied, NotApplicable (roster-only school), InvalidInput (applicant or grade).
    """
    offering = get_offering_for(session, scope, data.offering_id)
    if data.org_id is not None and data.org_id != offering.org_id:
        raise InvalidInput(f"offering {offering.id} is not at organization {data.org_id}", field="org_id")
    _require_full_sis(session, offering.org_id)
    if not scope.allows_org(offering.org_id, DataClass.ADMISSIONS, Action.WRITE):
        raise PermissionDenied("your role may not record applications here", field="offering_id")
    if not offering.grade_min <= data.applying_for_grade <= offering.grade_max:
        raise InvalidInput(
            f"'{offering.name}' takes grades {offering.grade_min}..{offering.grade_max}", field="applying_for_grade"
        )
    submitted_on = data.submitted_on or today
    if submitted_on is None:
        raise InvalidInput("submitted_on is required", field="submitted_on")
    student_id = None
    if data.student_id is not None:
        student = session.execute(
            select(Student).where(
                Student.id == data.student_id,
                Student.merged_into_id.is_(None),
                scope.org_filter(Student.org_id, DataClass.ADMISSIONS),
            )
        ).scalar_one_or_none()
        if student is None:
            raise NotFound(f"student {data.student_id} not found", field="student_id")
        student_id = student.id
    else:
        _check_applicant(data, today or submitted_on)
    application = Application(
        id=uuid.uuid4(),
        student_id=student_id,
        org_id=offering.org_id,
        offering_id=offering.id,
        household_id=data.household_id,
        status=ApplicationStatus.SUBMITTED,
        applying_for_grade=data.applying_for_grade,
        submitted_on=submitted_on,
        source=data.source,
        applicant_first_name=data.applicant_first_name,
        applicant_middle_name=data.applicant_middle_name,
        applicant_last_name=data.applicant_last_name,
        applicant_preferred_name=data.applicant_preferred_name,
        applicant_birth_on=data.applicant_birth_on,
        applicant_sex=data.applicant_sex.value if data.applicant_sex else None,
        guardian_name=data.guardian_name,
        guardian_email=data.guardian_email,
        guardian_phone=data.guardian_phone,
    )
    session.add(application)
    record_changes(session, scope, application, reason="application submitted")
    session.flush()
    emit_event(
        session, event_type="application.submitted", org_id=application.org_id, payload=application_payload(application)
    )
    return read_application(scope, application)


def _check_applicant(data: SubmitApplicationInput, today: dt.date) -> None:
    """An applicant without a student record needs names, a birth date and a way to reach a guardian."""
    for name in ("applicant_first_name", "applicant_last_name", "applicant_birth_on", "guardian_name"):
        if getattr(data, name) is None:
            raise InvalidInput(f"{name} is required for an applicant without a student_id", field=name)
    if data.guardian_email is None and data.guardian_phone is None:
        raise InvalidInput("give the guardian's email or phone", field="guardian_email")
    assert data.applicant_birth_on is not None
    check_birth_on(data.applicant_birth_on, today, field="applicant_birth_on")


def advance_application(session: Session, scope: Scope, data: AdvanceApplicationInput) -> ApplicationRead:
    """Move an application one step; accept_offer also enrolls the student in the offering.

    Raises:
        NotFound, PermissionDenied, NotApplicable, InvalidTransition (with the allowed actions),
        InvalidInput (missing date), and the enrollment rules on acceptance.
    """
    application = get_application(session, scope, data.application_id, Action.WRITE)
    _require_full_sis(session, application.org_id)
    target = rules.next_status(application.status, data.action)
    if target is None:
        allowed = ", ".join(a.value for a in rules.allowed_actions(application.status)) or "none (final)"
        raise InvalidTransition(
            f"cannot {data.action.value} an application that is {application.status.value}; allowed: {allowed}",
            field="action",
        )
    action = rules.AdmissionsAction
    if data.action is action.SCHEDULE_SHADOW:
        if data.shadow_day_on is None:
            raise InvalidInput("schedule_shadow needs shadow_day_on", field="shadow_day_on")
        application.shadow_day_on = data.shadow_day_on
    elif data.action is action.MAKE_OFFER:
        application.offer_made_on = data.on
        application.offer_expires_on = data.offer_expires_on or data.on + dt.timedelta(days=DEFAULT_OFFER_DAYS)
    elif data.action is action.ACCEPT_OFFER:
        if application.offer_expires_on is not None and data.on > application.offer_expires_on:
            raise InvalidTransition(
                f"the offer expired on {application.offer_expires_on}; make a new offer first", field="on"
            )
        _enroll_on_acceptance(session, scope, application, data)
    if target in rules.TERMINAL:
        application.decided_on = data.on
    application.status = target
    record_changes(session, scope, application, reason=data.note or data.action.value)
    if application.status is ApplicationStatus.ACCEPTED:
        emit_event(
            session,
            event_type="application.accepted",
            org_id=application.org_id,
            payload=application_payload(application),
        )
    session.flush()
    return read_application(scope, application)


def _applicant_student(
    session: Session, scope: Scope, application: Application, data: AdvanceApplicationInput
) -> Student:
    """The accepted applicant's student: the one linked, or a new one through the duplicate check."""
    if application.student_id is not None:
        if data.student_id is not None and data.student_id != application.student_id:
            raise InvalidInput("the application already names another student", field="student_id")
        return session.get_one(Student, application.student_id)
    if data.student_id is not None:
        return visible_student(session, scope, data.student_id)
    person = StudentPerson(
        first_name=application.applicant_first_name or "",
        middle_name=application.applicant_middle_name,
        last_name=application.applicant_last_name or "",
        preferred_name=application.applicant_preferred_name,
        birth_on=application.applicant_birth_on or data.on,
        sex=Sex(application.applicant_sex) if application.applicant_sex else Sex.UNSPECIFIED,
    )
    refuse_duplicates(session, scope, person, confirmed=data.confirm_new_person, link_hint=True)
    org = session.get_one(Organization, application.org_id)
    return insert_student(
        session,
        scope,
        person,
        org,
        grade=application.applying_for_grade,
        today=data.on,
        reason=f"accepted application {application.id}",
    )


def _enroll_on_acceptance(
    session: Session, scope: Scope, application: Application, data: AdvanceApplicationInput
) -> None:
    # Admissions staff enroll through acceptance without needing directory write rights.
    offering = get_offering_for(session, scope, application.offering_id, lock=True)
    student = _applicant_student(session, scope, application, data)
    application.student_id = student.id
    # Recorded now: the writes below flush, and a flushed change is no longer pending for record_changes.
    record_changes(session, scope, application, reason=f"accepted application {application.id}")
    start_on = data.start_on or max(data.on, offering.start_on)
    enrollment = create_stint(
        session,
        scope,
        student,
        offering,
        start_on=start_on,
        grade=application.applying_for_grade,
        event_type="admitted",
        reason=f"accepted application {application.id}",
        today=data.on,
    )
    application.enrollment_id = enrollment.id
    record_changes(session, scope, application, reason=f"accepted application {application.id}")
    if student.org_id != offering.org_id or student.grade_level != application.applying_for_grade:
        student.org_id = offering.org_id
        student.grade_level = application.applying_for_grade
        record_changes(session, scope, student, reason="admitted")


def list_applications(session: Session, scope: Scope, data: ApplicationQuery) -> ApplicationPage:
    """Applications in the caller's admissions scope, newest first, with counts per stage."""
    scope, in_org = org_condition(session, scope, Application.org_id, data.org_id, DataClass.ADMISSIONS)
    where = [scope.org_filter(Application.org_id, DataClass.ADMISSIONS), in_org]
    counts = {
        status.value: n
        for status, n in session.execute(
            select(Application.status, func.count()).where(*where).group_by(Application.status)
        ).all()
    }
    if data.status is not None:
        where.append(Application.status == data.status)
    total = session.execute(select(func.count()).select_from(Application).where(*where)).scalar_one()
    rows = session.execute(
        select(Application)
        .where(*where)
        .order_by(Application.submitted_on.desc(), Application.id)
        .limit(data.limit)
        .offset(data.offset)
    ).scalars()
    return ApplicationPage(
        items=[read_application(scope, a) for a in rows],
        stage_counts={s.value: counts.get(s.value, 0) for s in ApplicationStatus},
        **page_meta(total, data.limit, data.offset),
    )
