"""Admissions: applications move through a fixed pipeline; accepting an offer creates the enrollment."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Application, ApplicationStatus, Organization, OrgKind, Student
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
from domain.visibility import org_condition
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


def submit_application(session: Session, scope: Scope, data: SubmitApplicationInput) -> ApplicationRead:
    """Record a new application for an offering at a full-service campus.

    Raises:
        NotFound, PermissionDenied, NotApplicable (roster-only school).
    """
    offering = get_offering_for(session, scope, data.offering_id)
    _require_full_sis(session, offering.org_id)
    if not scope.allows_org(offering.org_id, DataClass.ADMISSIONS, Action.WRITE):
        raise PermissionDenied("your role may not record applications here", field="offering_id")
    student = session.execute(
        select(Student).where(Student.id == data.student_id, scope.org_filter(Student.org_id, DataClass.ADMISSIONS))
    ).scalar_one_or_none()
    if student is None:
        raise NotFound(f"student {data.student_id} not found", field="student_id")
    application = Application(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=offering.org_id,
        offering_id=offering.id,
        household_id=data.household_id,
        status=ApplicationStatus.SUBMITTED,
        applying_for_grade=data.applying_for_grade,
        submitted_on=data.submitted_on,
        source=data.source,
    )
    session.add(application)
    record_changes(session, scope, application, reason="application submitted")
    session.flush()
    return ApplicationRead.model_validate(application)


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
    return ApplicationRead.model_validate(application)


def _enroll_on_acceptance(
    session: Session, scope: Scope, application: Application, data: AdvanceApplicationInput
) -> None:
    # Admissions staff enroll through acceptance without needing directory write rights.
    offering = get_offering_for(session, scope, application.offering_id, lock=True)
    student = session.get_one(Student, application.student_id)
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
        items=[ApplicationRead.model_validate(a) for a in rows],
        stage_counts={s.value: counts.get(s.value, 0) for s in ApplicationStatus},
        **page_meta(total, data.limit, data.offset),
    )
