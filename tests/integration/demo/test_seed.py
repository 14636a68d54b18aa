"""The demo data set: personas, invariants every later layer relies on, and determinism."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, aliased

from db.base import Base
from db.demo.calendar import DEMO_TODAY, school_year_containing
from db.demo.personas import GUIDE_AUSTIN_STUDENTS, PERSONAS, persona
from db.demo.seed import INSERT_ORDER, DemoAlreadySeeded, seed_demo
from db.demo.texts import PROMPT_INJECTION_TEXT
from db.engine import make_engine
from db.migrate import upgrade
from db.models import (
    ABSENT_STATUSES,
    Application,
    ApplicationStatus,
    AttendanceRecord,
    AttendanceStatus,
    BehaviorIncident,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    GuideAssignment,
    HouseholdGuardian,
    HouseholdStudent,
    ImmunityEvidence,
    ImmunizationExemption,
    ImmunizationRecord,
    ImmunizationRequirement,
    NumberSequence,
    Organization,
    OrgKind,
    OrgLevel,
    Program,
    ProgramKind,
    ProgramOffering,
    ProvisionalEnrollment,
    RoleGrant,
    SchoolDay,
    Student,
    User,
    UserKind,
)
from db.sequences import STUDENT_NUMBER

CURRENT = school_year_containing(DEMO_TODAY)
CDSI_GROUPS = {"DTaP/Tdap/Td", "Polio", "MMR", "HepB", "Varicella", "HepA", "Meningococcal"}


def _org(session: Session, path: str) -> Organization:
    return session.execute(select(Organization).where(Organization.path == path)).scalar_one()


def _fresh_sqlite(tmp_path: Path, name: str) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    return engine


# Every table the seed writes (other tables hold migration-time tokens that are random by design):
# the seed's own insert order, plus the requirement rows and the student-number sequence.
SEEDED_MODELS: tuple[type[Base], ...] = (*INSERT_ORDER, ImmunizationRequirement, NumberSequence)


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the seed writes, table by table, ordered by primary key."""
    with engine.connect() as conn:
        return {
            model.__tablename__: [
                tuple(row)
                for row in conn.execute(select(model.__table__).order_by(*model.__table__.primary_key.columns))
            ]
            for model in SEEDED_MODELS
        }


# -- personas ------------------------------------------------------------------------------


def test_demo_has_every_persona_with_its_grant(demo_session):
    for p in PERSONAS:
        user = demo_session.execute(select(User).where(User.email == p.email)).scalar_one()
        assert user.kind is p.kind
        grants = demo_session.execute(
            select(RoleGrant.role, Organization.path)
            .join(Organization, Organization.id == RoleGrant.org_id)
            .where(RoleGrant.user_id == user.id)
        ).all()
        assert [tuple(g) for g in grants] == [(p.role, p.org_path)], p.email


def test_finance_persona_covers_one_brand_holding_austin_and_miami(demo_session):
    brand = _org(demo_session, persona("finance_academy").org_path)
    assert brand.level is OrgLevel.BRAND
    for campus in ("austin", "miami"):
        assert _org(demo_session, f"{brand.path}{campus}/").parent_id == brand.id


def test_integration_partner_is_a_client_of_the_roster_only_partner_school(demo_session):
    school = _org(demo_session, persona("integration_lakeside").org_path)
    assert school.slug == "lakeside"
    assert school.kind is OrgKind.ROSTER_ONLY
    user = demo_session.execute(select(User).where(User.email == "integration.partner@sis.example")).scalar_one()
    assert user.kind is UserKind.CLIENT


def test_austin_guide_persona_coaches_her_quota_of_active_austin_students(demo_session):
    austin = _org(demo_session, "/alpha/academy/austin/")
    guide = demo_session.execute(select(User).where(User.email == "guide.austin@sis.example")).scalar_one()
    assignments = demo_session.execute(
        select(GuideAssignment).where(GuideAssignment.guide_user_id == guide.id)
    ).scalars()
    students = [a.student_id for a in assignments if a.end_on is None]
    assert len(students) == GUIDE_AUSTIN_STUDENTS
    active = demo_session.execute(
        select(Enrollment.student_id).where(
            Enrollment.student_id.in_(students),
            Enrollment.org_id == austin.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    ).scalars()
    assert set(active) == set(students)


def test_all_user_emails_are_unique_and_guardians_use_example_org(demo_session):
    emails = demo_session.execute(select(User.email, User.kind)).all()
    assert len({e for e, _ in emails}) == len(emails)
    assert all(e.endswith("@example.org") for e, kind in emails if kind is UserKind.GUARDIAN)


# -- organizations and offerings ---------------------------------------------------------


def test_org_paths_are_built_from_slugs_with_a_trailing_slash(demo_session):
    orgs = {o.id: o for o in demo_session.execute(select(Organization)).scalars()}
    for org in orgs.values():
        parent_path = orgs[org.parent_id].path if org.parent_id else "/"
        assert org.path == f"{parent_path}{org.slug}/"
    campuses = [o for o in orgs.values() if o.level is OrgLevel.CAMPUS]
    assert len({c.name for c in campuses}) == len(campuses)
    assert sum(c.kind is OrgKind.FULL_SIS for c in campuses) >= 6
    by_slug = {c.slug: c for c in campuses}
    assert by_slug["austin"].name == "Austin" and by_slug["austin"].jurisdiction == "TX"
    assert by_slug["miami"].name == "Miami" and by_slug["miami"].jurisdiction == "FL"
    assert by_slug["online"].kind is OrgKind.ROSTER_ONLY and by_slug["lakeside"].kind is OrgKind.ROSTER_ONLY
    assert sum(o.level is OrgLevel.BRAND for o in orgs.values()) >= 2


def test_school_years_derive_from_today():
    assert CURRENT.label == "2026-27"
    assert CURRENT.start_on == dt.date(2026, 8, 10)  # the 2nd Monday of August
    assert CURRENT.end_on == dt.date(2027, 5, 28)  # the last Friday of May
    assert school_year_containing(dt.date(2027, 7, 1)).label == "2026-27"


def test_current_offerings_continue_last_years(demo_session):
    current = aliased(ProgramOffering)
    previous = aliased(ProgramOffering)
    pairs = demo_session.execute(
        select(current.session_label, previous.session_label, current.org_id, previous.org_id).join(
            previous, previous.id == current.previous_offering_id
        )
    ).all()
    assert ("2026-27", "2025-26") in {(c, p) for c, p, _, _ in pairs}
    assert all(c_org == p_org for _, _, c_org, p_org in pairs)


def test_roster_only_offerings_are_free(demo_session):
    tuition = demo_session.execute(
        select(ProgramOffering.tuition_cents)
        .join(Organization, Organization.id == ProgramOffering.org_id)
        .where(Organization.kind == OrgKind.ROSTER_ONLY)
    ).scalars()
    assert set(tuition) == {0}


# -- households ----------------------------------------------------------------------------


def test_every_student_shares_sum_to_10000(demo_session):
    shares = demo_session.execute(
        select(Student.id, func.coalesce(func.sum(HouseholdStudent.billing_share_bp), 0))
        .outerjoin(HouseholdStudent, HouseholdStudent.student_id == Student.id)
        .group_by(Student.id)
    ).all()
    assert shares and {total for _, total in shares} == {10_000}


def test_some_students_have_split_custody_across_two_households(demo_session):
    counts = Counter(demo_session.execute(select(HouseholdStudent.student_id)).scalars())
    students = demo_session.execute(select(func.count()).select_from(Student)).scalar_one()
    split = sum(1 for n in counts.values() if n == 2)
    assert 0.03 * students <= split <= 0.08 * students


def test_every_household_has_a_primary_guardian(demo_session):
    primaries = Counter(
        demo_session.execute(select(HouseholdGuardian.household_id).where(HouseholdGuardian.is_primary)).scalars()
    )
    households = set(demo_session.execute(select(HouseholdStudent.household_id)).scalars())
    assert households and all(primaries[h] == 1 for h in households)


# -- enrollments ---------------------------------------------------------------------------


def test_no_two_stints_overlap_in_one_offering(demo_session):
    stints: dict[tuple[Any, Any], list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for row in demo_session.execute(
        select(Enrollment.offering_id, Enrollment.student_id, Enrollment.start_on, Enrollment.end_on)
    ):
        stints[(row.offering_id, row.student_id)].append((row.start_on, row.end_on or dt.date.max))
    assert any(len(s) > 1 for s in stints.values()), "expected a withdrawn-and-returned student"
    for spans in stints.values():
        spans.sort()
        for (_, first_end), (second_start, _) in itertools.pairwise(spans):
            assert first_end < second_start


def test_offering_capacity_is_never_exceeded(demo_session):
    rows = demo_session.execute(
        select(ProgramOffering.capacity, func.count(Enrollment.id))
        .join(Enrollment, Enrollment.offering_id == ProgramOffering.id)
        .group_by(ProgramOffering.id, ProgramOffering.capacity)
    ).all()
    assert rows and all(count <= capacity for capacity, count in rows)


def test_stints_lie_within_their_offerings_dates_and_grades(demo_session):
    rows = demo_session.execute(select(Enrollment, ProgramOffering).join(ProgramOffering)).all()
    for enrollment, offering in rows:
        assert enrollment.org_id == offering.org_id
        assert offering.start_on <= enrollment.start_on <= offering.end_on
        assert enrollment.end_on is None or enrollment.end_on <= offering.end_on
        assert offering.grade_min <= enrollment.grade_level <= offering.grade_max
    assert any(e.start_on > o.start_on for e, o in rows if o.session_label == CURRENT.label), "no mid-year start"


def test_every_student_who_did_not_apply_has_a_current_year_stint(demo_session):
    enrolled = set(
        demo_session.execute(
            select(Enrollment.student_id)
            .join(ProgramOffering)
            .where(ProgramOffering.session_label == CURRENT.label, Enrollment.start_on <= DEMO_TODAY)
        ).scalars()
    )
    applicants = set(demo_session.execute(select(Application.student_id)).scalars())
    students = set(demo_session.execute(select(Student.id)).scalars())
    assert students - applicants <= enrolled
    assert 500 <= len(students - applicants) <= 700


def test_returning_students_completed_last_year_one_grade_lower(demo_session):
    previous = aliased(Enrollment)
    rows = demo_session.execute(
        select(Enrollment.grade_level, previous.grade_level, previous.status, previous.end_on, ProgramOffering.end_on)
        .join(previous, previous.id == Enrollment.previous_enrollment_id)
        .join(ProgramOffering, ProgramOffering.id == previous.offering_id)
        .where(previous.status == EnrollmentStatus.COMPLETED, Enrollment.status == EnrollmentStatus.ACTIVE)
    ).all()
    assert len(rows) > 300
    for grade, previous_grade, _, end_on, offering_end in rows:
        assert previous_grade == grade - 1
        assert end_on == offering_end


def test_transfers_chain_to_a_stint_at_another_campus(demo_session):
    following = aliased(Enrollment)
    rows = demo_session.execute(
        select(Enrollment, following)
        .join(following, following.previous_enrollment_id == Enrollment.id)
        .where(Enrollment.status == EnrollmentStatus.TRANSFERRED)
    ).all()
    assert len(rows) >= 3
    for old, new in rows:
        assert old.end_on is not None and new.start_on == old.end_on + dt.timedelta(days=1)
        assert new.org_id != old.org_id
        assert old.exit_reason
    moved_twice = Counter(old.student_id for old, _ in rows)
    assert max(moved_twice.values()) >= 2
    for _, new in rows:
        if new.status is EnrollmentStatus.ACTIVE:
            assert demo_session.get_one(Student, new.student_id).org_id == new.org_id


def test_every_stint_has_events_for_its_status(demo_session):
    events: dict[Any, list[str]] = defaultdict(list)
    for enrollment_id, to_status in demo_session.execute(
        select(EnrollmentEvent.enrollment_id, EnrollmentEvent.to_status).order_by(EnrollmentEvent.id)
    ):
        events[enrollment_id].append(to_status)
    for enrollment_id, status in demo_session.execute(select(Enrollment.id, Enrollment.status)):
        history = events[enrollment_id]
        assert history[-1] == status.value
        assert history[0] in (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.PENDING.value)


def test_some_students_also_attend_a_concurrent_camp(demo_session):
    camp_students = set(
        demo_session.execute(
            select(Enrollment.student_id)
            .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
            .join(Program, Program.id == ProgramOffering.program_id)
            .where(Program.kind == ProgramKind.CAMP)
        ).scalars()
    )
    students = demo_session.execute(select(func.count()).select_from(Student)).scalar_one()
    assert 0.08 * students <= len(camp_students) <= 0.25 * students


# -- admissions ----------------------------------------------------------------------------


def test_applications_exist_at_every_stage(demo_session):
    stages = set(demo_session.execute(select(Application.status)).scalars())
    assert stages == set(ApplicationStatus)


def test_accepted_applications_own_an_enrollment_and_other_applicants_none(demo_session):
    for application in demo_session.execute(select(Application)).scalars():
        stints = demo_session.execute(
            select(Enrollment).where(Enrollment.student_id == application.student_id)
        ).scalars()
        stints = list(stints)
        if application.status is ApplicationStatus.ACCEPTED:
            assert application.enrollment_id in {s.id for s in stints}
            assert application.decided_on is not None
        else:
            assert application.enrollment_id is None and stints == []


def test_roster_only_schools_have_no_applications(demo_session):
    kinds = set(
        demo_session.execute(
            select(Organization.kind).join(Application, Application.org_id == Organization.id).distinct()
        ).scalars()
    )
    assert kinds == {OrgKind.FULL_SIS}


# -- attendance ----------------------------------------------------------------------------


def test_attendance_rows_are_non_present_and_fall_on_school_days(demo_session):
    school_days = {(o, d) for o, d in demo_session.execute(select(SchoolDay.org_id, SchoolDay.day_on))}
    rows = demo_session.execute(select(AttendanceRecord.org_id, AttendanceRecord.day_on, AttendanceRecord.status)).all()
    assert rows
    for org_id, day, status in rows:
        assert (org_id, day) in school_days
        assert status is not AttendanceStatus.PRESENT
        assert CURRENT.start_on <= day <= DEMO_TODAY
    assert all(day.weekday() < 5 for _, day in school_days)


def test_about_a_tenth_of_students_are_chronically_absent(demo_session):
    days_per_org = Counter(demo_session.execute(select(SchoolDay.org_id)).scalars())
    full_year = demo_session.execute(
        select(Enrollment.student_id, Enrollment.org_id)
        .join(ProgramOffering)
        .where(
            ProgramOffering.session_label == CURRENT.label,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.start_on == CURRENT.start_on,
        )
    ).all()
    absences = Counter(
        demo_session.execute(
            select(AttendanceRecord.student_id).where(AttendanceRecord.status.in_(ABSENT_STATUSES))
        ).scalars()
    )
    measured = [(student, org) for student, org in full_year if days_per_org[org]]
    chronic = [s for s, org in measured if absences[s] > 0.1 * days_per_org[org]]
    assert 0.05 * len(measured) <= len(chronic) <= 0.16 * len(measured)


def test_roster_only_schools_hold_no_attendance_or_health_records(demo_session):
    roster_only = select(Organization.id).where(Organization.kind == OrgKind.ROSTER_ONLY)
    for model in (SchoolDay, AttendanceRecord, ImmunizationRecord, ImmunizationExemption, BehaviorIncident):
        count = demo_session.execute(
            select(func.count()).select_from(model).where(model.org_id.in_(roster_only))
        ).scalar_one()
        assert count == 0, model.__name__


# -- health --------------------------------------------------------------------------------


def test_immunization_records_use_cdsi_groups_and_have_gaps(demo_session):
    rows = demo_session.execute(
        select(ImmunizationRecord.student_id, ImmunizationRecord.vaccine_group, ImmunizationRecord.cvx_code)
    ).all()
    assert {group for _, group, _ in rows} == CDSI_GROUPS
    assert {cvx for _, _, cvx in rows} >= {"20", "106", "110", "10", "03", "94", "08", "21", "83", "115", "114", None}
    hepa = {s for s, group, _ in rows if group == "HepA"}
    vaccinated = {s for s, _, _ in rows}
    assert len(vaccinated - hepa) >= 10, "some students should miss a whole vaccine group"


def test_some_students_have_a_combination_dose_entered_twice(demo_session):
    duplicates = demo_session.execute(
        select(ImmunizationRecord.student_id)
        .where(ImmunizationRecord.cvx_code == "110")
        .group_by(ImmunizationRecord.student_id, ImmunizationRecord.administered_on)
        .having(func.count() > 1)
    ).all()
    assert duplicates


def test_some_exemptions_are_expired(demo_session):
    expires = list(demo_session.execute(select(ImmunizationExemption.expires_on)).scalars())
    assert any(e is not None and e < DEMO_TODAY for e in expires)
    assert any(e is not None and e >= DEMO_TODAY for e in expires)
    assert None in expires  # a lifelong medical exemption


def test_some_provisional_enrollments_are_past_due(demo_session):
    due = list(demo_session.execute(select(ProvisionalEnrollment.due_on)).scalars())
    assert any(d < DEMO_TODAY for d in due) and any(d >= DEMO_TODAY for d in due)


def test_varicella_history_replaces_doses_rather_than_faking_them(demo_session):
    evidence = demo_session.execute(
        select(ImmunityEvidence.student_id).where(ImmunityEvidence.antigen == "Varicella")
    ).scalars()
    students = list(evidence)
    assert students
    doses = demo_session.execute(
        select(func.count())
        .select_from(ImmunizationRecord)
        .where(ImmunizationRecord.student_id.in_(students), ImmunizationRecord.vaccine_group == "Varicella")
    ).scalar_one()
    assert doses == 0


# -- behavior ------------------------------------------------------------------------------


def test_exactly_one_incident_carries_a_prompt_injection(demo_session):
    descriptions = list(demo_session.execute(select(BehaviorIncident.description)).scalars())
    assert 150 <= len(descriptions) <= 600
    assert sum("Ignore previous instructions" in d for d in descriptions) == 1
    assert any(PROMPT_INJECTION_TEXT in d for d in descriptions)


# -- numbers, determinism, refusal ---------------------------------------------------------


def test_student_numbers_are_one_consecutive_block(demo_session):
    numbers = sorted(demo_session.execute(select(Student.student_number)).scalars())
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    counter = select(NumberSequence.next_value).where(NumberSequence.name == STUDENT_NUMBER)
    assert demo_session.execute(counter).scalar() == numbers[-1] + 1


def test_seeding_twice_is_refused(demo_engine):
    with pytest.raises(DemoAlreadySeeded):
        seed_demo(demo_engine)


def test_demo_is_deterministic_for_the_same_seed(tmp_path):
    first, second, other = (_fresh_sqlite(tmp_path, f"{name}.db") for name in ("first", "second", "other"))
    seed_demo(first, seed=7, today=DEMO_TODAY)
    # The twin runs in another process with another string-hash seed: set ordering must not leak in.
    script = (
        "import datetime as dt, sys; from db.engine import make_engine; from db.demo.seed import seed_demo; "
        "seed_demo(make_engine(sys.argv[1]), seed=7, today=dt.date.fromisoformat(sys.argv[2]))"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(second.url), DEMO_TODAY.isoformat()],
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "4242"},
    )
    seed_demo(other, seed=8, today=DEMO_TODAY)
    dump = _dump(first)
    assert dump == _dump(second)
    assert dump["student"] != _dump(other)["student"]
    for engine in (first, second, other):
        engine.dispose()


def test_a_later_today_moves_every_date_with_it(tmp_path):
    engine = _fresh_sqlite(tmp_path, "later.db")
    later = dt.date(2031, 3, 2)
    seed_demo(engine, today=later)
    with Session(engine) as session:
        labels = set(session.execute(select(ProgramOffering.session_label)).scalars())
        assert {"2029-30", "2030-31", "2031-32", "Summer 2030"} <= labels
        last_day = session.execute(select(func.max(AttendanceRecord.day_on))).scalar_one()
        assert dt.date(2030, 8, 1) < last_day <= later
    engine.dispose()


def test_an_austin_student_of_the_guide_persona_had_another_guide_last_year(demo_session):
    maria = demo_session.execute(select(User.id).where(User.email == "guide.austin@sis.example")).scalar_one()
    current = set(
        demo_session.execute(
            select(GuideAssignment.student_id).where(
                GuideAssignment.guide_user_id == maria, GuideAssignment.end_on.is_(None)
            )
        ).scalars()
    )
    ended = demo_session.execute(
        select(GuideAssignment).where(GuideAssignment.student_id.in_(current), GuideAssignment.end_on.is_not(None))
    ).scalars()
    assert [a.guide_user_id != maria and a.end_on < CURRENT.start_on for a in ended] == [True]
