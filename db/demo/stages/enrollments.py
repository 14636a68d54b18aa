"""The enrollments stage: last year's stints, this year's (transfers, withdrawals, returns), and camps.

Also the enrollment rows every later stage reuses: `stint` writes one enrollment with the
events that brought it to its status, and records the student's current-year membership that
attendance, guides, health and behavior read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from db.demo.builder import DemoBuilder, Kid, Org
from db.demo.calendar import at, random_day
from db.demo.texts import WITHDRAWAL_REASONS
from db.models import Enrollment, EnrollmentEvent, EnrollmentStatus, Household, OrgKind, ProgramOffering


def stint(
    b: DemoBuilder,
    kid: Kid,
    offering_id: uuid.UUID,
    org: Org,
    grade: int,
    start_on: dt.date,
    end_on: dt.date | None,
    status: EnrollmentStatus,
    *,
    previous: uuid.UUID | None = None,
    exit_reason: str | None = None,
    start_event: str = "created",
    registered_on: dt.date | None = None,
    regular: bool = True,
) -> uuid.UUID:
    """One enrollment row plus the events that brought it to its status (regular: counts for attendance)."""
    enrollment_id = b.uid()
    registered_on = registered_on or start_on - dt.timedelta(days=b.rng.randint(10, 60))
    ended = end_on if status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING) else None
    b.rows[Enrollment].append(
        {
            "id": enrollment_id,
            "student_id": kid.id,
            "offering_id": offering_id,
            "org_id": org.id,
            "grade_level": grade,
            "start_on": start_on,
            "end_on": end_on,
            "status": status,
            "exit_reason": exit_reason,
            "previous_enrollment_id": previous,
            "created_at": at(registered_on, 16),
            "updated_at": at(ended or registered_on, 16),
        }
    )
    slug = org.spec.slug if org.spec else org.slug
    actor = b.registrar_of(slug)
    first_status = EnrollmentStatus.PENDING if status is EnrollmentStatus.PENDING else EnrollmentStatus.ACTIVE
    add_event(b, enrollment_id, start_event, None, first_status, start_on, None, actor, registered_on)
    if ended is not None:
        event_type = {
            EnrollmentStatus.WITHDRAWN: "withdrawn",
            EnrollmentStatus.TRANSFERRED: "transferred",
            EnrollmentStatus.COMPLETED: "completed",
        }[status]
        add_event(b, enrollment_id, event_type, EnrollmentStatus.ACTIVE, status, ended, exit_reason, actor, ended)
    kid.first_start = min(kid.first_start or start_on, start_on)
    kid.created_on = min(kid.created_on or registered_on, registered_on)
    if regular and org.spec and org.spec.kind is OrgKind.FULL_SIS and start_on >= b.current.start_on:
        kid.membership.append((org.spec.slug, start_on, end_on))
    return enrollment_id


def add_event(
    b: DemoBuilder,
    enrollment_id: uuid.UUID,
    event_type: str,
    from_status: EnrollmentStatus | None,
    to_status: EnrollmentStatus,
    effective_on: dt.date,
    reason: str | None,
    actor: uuid.UUID | None,
    recorded_on: dt.date,
) -> None:
    """An enrollment status event."""
    b.rows[EnrollmentEvent].append(
        {
            "enrollment_id": enrollment_id,
            "event_type": event_type,
            "from_status": from_status.value if from_status else None,
            "to_status": to_status.value,
            "effective_on": effective_on,
            "reason": reason,
            "actor_user_id": actor,
            "occurred_at": at(min(recorded_on, b.today), 16, 30),
        }
    )


def this_year_stint(
    b: DemoBuilder,
    kid: Kid,
    offering_id: uuid.UUID,
    org: Org,
    start_on: dt.date,
    end_on: dt.date | None = None,
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE,
    *,
    previous: uuid.UUID | None,
    start_event: str,
    exit_reason: str | None = None,
    registered_on: dt.date | None = None,
) -> uuid.UUID:
    """A current-year regular stint in the student's own grade: open and active unless it ends with `status`."""
    return stint(
        b,
        kid,
        offering_id,
        org,
        kid.grade,
        start_on,
        end_on,
        status,
        previous=previous,
        exit_reason=exit_reason,
        start_event=start_event,
        registered_on=registered_on,
    )


def build_enrollments(b: DemoBuilder) -> None:
    """Last year's completed stints, this year's stints (withdrawals, transfers, mid-year starts), camps."""
    enrolled = [k for k in b.kids if not k.applicant]
    yesterday = b.today - dt.timedelta(days=1)
    # Transfers: single-household kids at FULL_SIS campuses, moved to a campus that offers their grade.
    full = [k for k in enrolled if k.campus.kind is OrgKind.FULL_SIS and len(k.household_ids) == 1]
    movers = b.rng.sample(full, max(3, round(0.02 * len(enrolled))))
    double_mover = movers[0]
    withdrawn = {k.id for k in b.rng.sample([k for k in enrolled if k not in movers], round(0.05 * len(enrolled)))}
    returners = b.rng.sample([k for k in enrolled if k not in movers and k.id not in withdrawn], 2)
    for kid in enrolled:
        spec = kid.campus
        org = b.campus(spec.slug)
        offerings = b.offerings[spec.slug]
        returning = kid.grade > spec.grade_min and b.chance(0.6 if spec.slug == "online" else 0.8)
        previous_id: uuid.UUID | None = None
        if returning:
            late = b.chance(0.08)
            start = (
                random_day(
                    b.rng,
                    b.previous.start_on + dt.timedelta(days=20),
                    dt.date(b.previous.first_year + 1, 2, 15),
                )
                if late
                else b.previous.start_on
            )
            previous_id = stint(
                b, kid, offerings.previous, org, kid.grade - 1, start, b.previous.end_on, EnrollmentStatus.COMPLETED
            )
        start = b.current.start_on
        if not returning and b.chance(0.12):
            late_start = b.school_day_between(
                spec.slug, b.current.start_on + dt.timedelta(days=7), b.today - dt.timedelta(days=7)
            )
            start = late_start or start
        start_event = "reenrolled" if previous_id else "created"
        if kid in movers:
            transfer(b, kid, offerings.current, org, start, previous_id, start_event, twice=kid is double_mover)
        elif kid.id in withdrawn and (end := b.school_day_between(spec.slug, start + dt.timedelta(days=10), yesterday)):
            this_year_stint(
                b,
                kid,
                offerings.current,
                org,
                start,
                end,
                EnrollmentStatus.WITHDRAWN,
                previous=previous_id,
                exit_reason=b.rng.choice(WITHDRAWAL_REASONS),
                start_event=start_event,
            )
        elif kid in returners:
            withdraw_and_return(b, kid, offerings.current, org, start, previous_id, start_event)
        else:
            this_year_stint(b, kid, offerings.current, org, start, previous=previous_id, start_event=start_event)
    build_camps(b, enrolled)


def transfer(
    b: DemoBuilder,
    kid: Kid,
    offering_id: uuid.UUID,
    org: Org,
    start: dt.date,
    previous_id: uuid.UUID | None,
    start_event: str,
    *,
    twice: bool,
) -> None:
    """A stint ended as transferred and a linked stint at another campus (twice: a chain of three)."""
    hops = 2 if twice else 1
    window_start, window_end = start + dt.timedelta(days=10), b.today - dt.timedelta(days=5)
    dates = sorted(
        d for d in (b.school_day_between(kid.campus.slug, window_start, window_end) for _ in range(hops)) if d
    )
    if len(set(dates)) < hops:
        this_year_stint(b, kid, offering_id, org, start, previous=previous_id, start_event=start_event)
        return
    here, current_offering, current_start, event = kid.campus, offering_id, start, start_event
    for move_on in dates:
        targets = [c for c in b.full_sis() if c.slug != here.slug and c.grade_min <= kid.grade <= c.grade_max]
        target = b.rng.choice(targets)
        previous_id = this_year_stint(
            b,
            kid,
            current_offering,
            b.campus(here.slug),
            current_start,
            move_on - dt.timedelta(days=1),
            EnrollmentStatus.TRANSFERRED,
            previous=previous_id,
            exit_reason=f"Transferred to the {target.name} campus",
            start_event=event,
        )
        here, current_offering, current_start, event = (
            target,
            b.offerings[target.slug].current,
            move_on,
            "transferred_in",
        )
    this_year_stint(
        b,
        kid,
        current_offering,
        b.campus(here.slug),
        current_start,
        previous=previous_id,
        start_event=event,
        registered_on=current_start - dt.timedelta(days=3),
    )
    # The student's records now belong to the receiving campus, and so does the household.
    kid.campus, kid.moved = here, True
    for row in b.rows[Household]:
        if row["id"] in kid.household_ids:
            row["org_id"] = b.campus(here.slug).id


def withdraw_and_return(
    b: DemoBuilder,
    kid: Kid,
    offering_id: uuid.UUID,
    org: Org,
    start: dt.date,
    previous_id: uuid.UUID | None,
    event: str,
) -> None:
    """A student who withdrew early in the year and came back: two non-overlapping stints, linked."""
    days = [d for d in b.calendar(kid.campus.slug) if d >= start]
    if len(days) < 40:
        this_year_stint(b, kid, offering_id, org, start, previous=previous_id, start_event=event)
        return
    left_on, back_on = days[12], days[30]
    first = this_year_stint(
        b,
        kid,
        offering_id,
        org,
        start,
        left_on,
        EnrollmentStatus.WITHDRAWN,
        previous=previous_id,
        exit_reason="Family traveling abroad for several weeks",
        start_event=event,
    )
    this_year_stint(
        b,
        kid,
        offering_id,
        org,
        back_on,
        previous=first,
        start_event="reenrolled",
        registered_on=back_on - dt.timedelta(days=5),
    )


def build_camps(b: DemoBuilder, enrolled: list[Kid]) -> None:
    """About 15% of FULL_SIS students also attended the summer camp or the after-school robotics lab."""
    taken: dict[uuid.UUID, int] = defaultdict(int)
    for kid in enrolled:
        spec = kid.campus
        offerings = b.offerings[spec.slug]
        if spec.kind is not OrgKind.FULL_SIS or kid.moved or not b.chance(0.16):
            continue
        org = b.campus(spec.slug)
        offering = b.row_of(ProgramOffering, offerings.robotics if b.chance(0.5) else offerings.summer)
        # Camp grades are the grade of the current school year (summer campers are "rising" students).
        grade = kid.grade
        if not offering["grade_min"] <= grade <= offering["grade_max"]:
            offering = b.row_of(ProgramOffering, offerings.summer)
            if not offering["grade_min"] <= grade <= offering["grade_max"]:
                continue
        if taken[offering["id"]] >= offering["capacity"] or offering["start_on"] > b.today:
            continue
        taken[offering["id"]] += 1
        if offering["end_on"] < b.today:
            stint(
                b,
                kid,
                offering["id"],
                org,
                grade,
                offering["start_on"],
                offering["end_on"],
                EnrollmentStatus.COMPLETED,
                regular=False,
            )
        else:
            stint(
                b, kid, offering["id"], org, grade, offering["start_on"], None, EnrollmentStatus.ACTIVE, regular=False
            )
