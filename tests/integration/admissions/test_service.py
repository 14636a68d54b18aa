"""Admissions pipeline: valid steps, clear refusals, acceptance creates the enrollment."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from db.models import ApplicationStatus, Enrollment, EnrollmentStatus, OrgKind, OrgLevel
from domain.admissions.rules import TERMINAL, allowed_actions, next_status
from domain.admissions.rules import AdmissionsAction as A
from domain.admissions.schemas import AdvanceApplicationInput, ApplicationQuery, SubmitApplicationInput
from domain.admissions.service import advance_application, list_applications, submit_application
from domain.errors import InvalidInput, InvalidTransition, NotApplicable, NotFound, OfferingFull, PermissionDenied
from policies.scope import Action, DataClass
from tests.factories import create_offering, create_org, create_student, scope_at

DAY = dt.date(2025, 3, 1)


@pytest.fixture()
def campus(session):
    network = create_org(session, level=OrgLevel.NETWORK)
    return {
        "austin": create_org(session, parent=network, slug="austin"),
        "online": create_org(session, parent=network, slug="online", kind=OrgKind.ROSTER_ONLY),
        "miami": create_org(session, parent=network, slug="miami"),
    }


def submit(session, scope, org, **kw):
    offering = kw.pop("offering", None) or create_offering(session, org)
    applicant = create_student(session, org, grade=4)
    return submit_application(
        session,
        scope,
        SubmitApplicationInput(
            student_id=applicant.id, offering_id=offering.id, applying_for_grade=5, submitted_on=DAY
        ),
    )


def step(session, scope, app, action, on=DAY, **kw):
    return advance_application(
        session, scope, AdvanceApplicationInput(application_id=app.id, action=action, on=on, **kw)
    )


def test_full_pipeline_ends_in_an_enrollment(session, campus):
    scope = scope_at(campus["austin"])
    app = submit(session, scope, campus["austin"])
    app = step(session, scope, app, A.SCHEDULE_SHADOW, shadow_day_on=dt.date(2025, 3, 10))
    assert app.status is ApplicationStatus.SHADOW_SCHEDULED
    app = step(session, scope, app, A.COMPLETE_SHADOW, on=dt.date(2025, 3, 10))
    app = step(session, scope, app, A.MAKE_OFFER, on=dt.date(2025, 3, 12))
    assert app.offer_expires_on == dt.date(2025, 3, 26)
    app = step(session, scope, app, A.ACCEPT_OFFER, on=dt.date(2025, 3, 20))
    assert app.status is ApplicationStatus.ACCEPTED and app.decided_on == dt.date(2025, 3, 20)
    enrollment = session.get(Enrollment, app.enrollment_id)
    # Accepted in March for a year that starts later: pending until its first day (the daily job starts it).
    assert enrollment.start_on > dt.date(2025, 3, 20)
    assert (enrollment.status, enrollment.grade_level, enrollment.student_id) == (
        EnrollmentStatus.PENDING,
        5,
        app.student_id,
    )


def test_invalid_transition_is_rejected_with_the_allowed_actions(session, campus):
    scope = scope_at(campus["austin"])
    app = submit(session, scope, campus["austin"])
    with pytest.raises(InvalidTransition, match="allowed: schedule_shadow, make_offer, reject, withdraw"):
        step(session, scope, app, A.ACCEPT_OFFER)


def test_final_stages_allow_nothing(session, campus):
    scope = scope_at(campus["austin"])
    app = step(session, scope, submit(session, scope, campus["austin"]), A.REJECT)
    with pytest.raises(InvalidTransition, match="none"):
        step(session, scope, app, A.MAKE_OFFER)


def test_expired_offer_cannot_be_accepted(session, campus):
    scope = scope_at(campus["austin"])
    app = step(
        session, scope, submit(session, scope, campus["austin"]), A.MAKE_OFFER, offer_expires_on=dt.date(2025, 3, 5)
    )
    with pytest.raises(InvalidTransition, match="expired"):
        step(session, scope, app, A.ACCEPT_OFFER, on=dt.date(2025, 3, 6))


def test_scheduling_a_shadow_day_needs_a_date(session, campus):
    scope = scope_at(campus["austin"])
    with pytest.raises(InvalidInput):
        step(session, scope, submit(session, scope, campus["austin"]), A.SCHEDULE_SHADOW)


def test_accepting_into_a_full_offering_fails_and_creates_nothing(session, campus):
    scope = scope_at(campus["austin"])
    offering = create_offering(session, campus["austin"], capacity=0)
    app = step(session, scope, submit(session, scope, campus["austin"], offering=offering), A.MAKE_OFFER)
    with pytest.raises(OfferingFull):
        step(session, scope, app, A.ACCEPT_OFFER)
    assert session.execute(select(Enrollment).where(Enrollment.offering_id == offering.id)).first() is None


def test_roster_only_school_has_no_admissions(session, campus):
    scope = scope_at(campus["online"])
    with pytest.raises(NotApplicable):
        submit(session, scope, campus["online"])


def test_application_outside_scope_is_not_found(session, campus):
    app = submit(session, scope_at(campus["miami"]), campus["miami"])
    with pytest.raises(NotFound):
        step(session, scope_at(campus["austin"]), app, A.REJECT)


def test_read_only_admissions_scope_is_denied_a_decision(session, campus):
    app = submit(session, scope_at(campus["austin"]), campus["austin"])
    reader = scope_at(campus["austin"], actions=[Action.READ])
    with pytest.raises(PermissionDenied):
        step(session, reader, app, A.MAKE_OFFER)


def test_pipeline_lists_applications_with_stage_counts(session, campus):
    scope = scope_at(campus["austin"])
    a = submit(session, scope, campus["austin"])
    submit(session, scope, campus["austin"])
    step(session, scope, a, A.MAKE_OFFER)
    submit(session, scope_at(campus["miami"]), campus["miami"])
    page = list_applications(session, scope, ApplicationQuery())
    assert page.total == 2
    assert page.stage_counts["offered"] == 1 and page.stage_counts["submitted"] == 1
    offered = list_applications(session, scope, ApplicationQuery(status=ApplicationStatus.OFFERED))
    assert [i.id for i in offered.items] == [a.id]
    no_admissions = scope_at(campus["austin"], classes=[DataClass.DIRECTORY])
    assert list_applications(session, no_admissions, ApplicationQuery()).total == 0


@pytest.mark.parametrize("status", list(ApplicationStatus))
def test_transition_table_is_consistent(status):
    for action in allowed_actions(status):
        assert next_status(status, action) is not None
    if status in TERMINAL:
        assert allowed_actions(status) == []
