"""The admissions stage: applications at every stage for each FULL_SIS campus.

An accepted application owns a stint: active for each campus's one mid-year joiner of the
current year, pending for next year otherwise.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from db.demo.builder import DemoBuilder, Kid
from db.demo.calendar import SchoolYear, at, next_weekday, random_day
from db.demo.network import CampusSpec
from db.demo.stages.enrollments import stint
from db.demo.stages.families import household, member, new_kid
from db.demo.texts import APPLICATION_NOTES, APPLICATION_SOURCES, GUARDIAN_RELATIONSHIPS
from db.models import Application, ApplicationStatus, EnrollmentStatus


def build_admissions(b: DemoBuilder) -> None:
    """Applications at every stage for FULL_SIS campuses; accepted ones own a (pending or active) stint."""
    stages = (
        [ApplicationStatus.SUBMITTED] * 2
        + [ApplicationStatus.SHADOW_SCHEDULED, ApplicationStatus.SHADOW_COMPLETED, ApplicationStatus.OFFERED]
        + [ApplicationStatus.ACCEPTED] * 2
        + [ApplicationStatus.DECLINED, ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN]
    )
    households_by_campus: dict[str, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for kid in b.kids:
        if kid.household_ids:
            households_by_campus[kid.campus.slug].append((kid.household_ids[0], kid.last_name))
    window_start = max(b.current.start_on - dt.timedelta(days=30), b.today - dt.timedelta(days=120))
    for spec in b.full_sis():
        offerings = b.offerings[spec.slug]
        assert offerings.next is not None
        for n, status in enumerate(stages):
            # One of every campus's two acceptances is a mid-year joiner of the current year.
            current_year = status is ApplicationStatus.ACCEPTED and n == len(stages) - 4
            offering_id = offerings.current if current_year else offerings.next
            year = b.current if current_year else b.upcoming
            grade_for = b.rng.randint(spec.grade_min, spec.grade_max)
            grade_now = grade_for if current_year else grade_for - 1
            if households_by_campus[spec.slug] and b.chance(0.2):
                household_id, last_name = b.rng.choice(households_by_campus[spec.slug])
                new_family = False
            else:
                last_name, new_family = b.fake.last_name(), True
                household_id = uuid.UUID(int=0)
            submitted = random_day(b.rng, window_start, b.today - dt.timedelta(days=45 if current_year else 3))
            if new_family:
                relationships = b.rng.choices(GUARDIAN_RELATIONSHIPS, weights=(70, 10, 8, 12))[0]
                household_id = household(b, spec, last_name, relationships, submitted)
            kid = new_kid(b, spec, last_name, grade_now, applicant=True)
            kid.created_on = submitted
            member(b, household_id, kid, 10_000)
            application(b, kid, spec, offering_id, year, household_id, status, grade_for, submitted)


def application(
    b: DemoBuilder,
    kid: Kid,
    spec: CampusSpec,
    offering_id: uuid.UUID,
    year: SchoolYear,
    household_id: uuid.UUID,
    status: ApplicationStatus,
    grade_for: int,
    submitted: dt.date,
) -> None:
    """One application with the dates its stage implies, and the stint when it was accepted."""
    rng, today = b.rng, b.today
    shadow = offer = expires = decided = None
    reached = {
        ApplicationStatus.SUBMITTED: 0,
        ApplicationStatus.WITHDRAWN: rng.choice((0, 1)),
        ApplicationStatus.SHADOW_SCHEDULED: 1,
        ApplicationStatus.REJECTED: 2,
        ApplicationStatus.SHADOW_COMPLETED: 2,
        ApplicationStatus.OFFERED: 3,
        ApplicationStatus.DECLINED: 3,
        ApplicationStatus.ACCEPTED: 3,
    }[status]
    last = submitted
    if reached >= 1:
        if status is ApplicationStatus.SHADOW_SCHEDULED:
            shadow = next_weekday(today + dt.timedelta(days=rng.randint(3, 20)), rng.randint(0, 4))
        else:
            shadow = min(next_weekday(submitted + dt.timedelta(days=rng.randint(5, 12)), 2), today)
            last = shadow
    if reached >= 3:
        assert shadow is not None
        offer = min(shadow + dt.timedelta(days=rng.randint(2, 6)), today)
        expires = offer + dt.timedelta(days=21)
        last = offer
    if status in (
        ApplicationStatus.ACCEPTED,
        ApplicationStatus.DECLINED,
        ApplicationStatus.REJECTED,
        ApplicationStatus.WITHDRAWN,
    ):
        decided = min(last + dt.timedelta(days=rng.randint(1, 9)), today)
        last = decided
    enrollment_id = None
    if status is ApplicationStatus.ACCEPTED:
        assert decided is not None
        org = b.campus(spec.slug)
        if year is b.current:
            start = b.school_day_between(spec.slug, decided + dt.timedelta(days=3), today) or today
            enrollment_id = stint(
                b, kid, offering_id, org, grade_for, start, None, EnrollmentStatus.ACTIVE, registered_on=decided
            )
        else:
            enrollment_id = stint(
                b,
                kid,
                offering_id,
                org,
                grade_for,
                year.start_on,
                None,
                EnrollmentStatus.PENDING,
                registered_on=decided,
            )
    b.rows[Application].append(
        {
            "id": b.uid(),
            "student_id": kid.id,
            "org_id": b.campus(spec.slug).id,
            "offering_id": offering_id,
            "household_id": household_id,
            "status": status,
            "applying_for_grade": grade_for,
            "submitted_on": submitted,
            "shadow_day_on": shadow,
            "offer_made_on": offer,
            "offer_expires_on": expires,
            "decided_on": decided,
            "enrollment_id": enrollment_id,
            "notes": rng.choice(APPLICATION_NOTES),
            "source": rng.choice(APPLICATION_SOURCES),
            "created_at": at(submitted, 18),
            "updated_at": at(last, 18),
        }
    )
