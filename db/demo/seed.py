"""The deterministic demo data set: a small network of schools with a year and a half of history.

`seed_demo(engine)` builds everything in memory from one seeded random generator, then bulk
inserts it in one transaction. The same (seed, today) always yields the same rows, ids and
timestamps included, so the personas, the chat examples and the tests can rely on them.
Every date derives from `today`: the current school year is the one containing it, and the
previous year, the summer between and next year's admissions are placed around it.

This module runs the stages (`db/demo/stages/`) on a `DemoBuilder` (`db/demo/builder.py`) and
inserts what they generated; the calendar, text catalogs, immunization histories and network
spec they draw on sit beside it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from db.base import Base
from db.demo.builder import DemoBuilder, ascii_slug
from db.demo.calendar import DEMO_TODAY, at
from db.demo.stages.activity import build_attendance, build_behavior
from db.demo.stages.admissions import build_admissions
from db.demo.stages.enrollments import build_enrollments
from db.demo.stages.families import build_families
from db.demo.stages.health import build_health
from db.demo.stages.orgs import build_orgs, build_programs
from db.demo.stages.staff import build_guides, build_staff
from db.demo.texts import ETHNICITIES, ETHNICITY_WEIGHTS, NICKNAMES
from db.models import (
    Allergy,
    Application,
    AttendanceRecord,
    BehaviorIncident,
    Enrollment,
    EnrollmentEvent,
    GuideAssignment,
    Household,
    HouseholdGuardian,
    HouseholdStudent,
    ImmunityEvidence,
    ImmunizationExemption,
    ImmunizationRecord,
    ImmunizationRequirement,
    Medication,
    Organization,
    Program,
    ProgramOffering,
    ProvisionalEnrollment,
    RoleGrant,
    SchoolDay,
    Student,
    User,
    UserKind,
)
from db.reference.immunization_requirements import seed_requirements
from db.sequences import STUDENT_NUMBER, allocate_numbers

Progress = Callable[[str, int, int], None]


class DemoAlreadySeeded(RuntimeError):
    """The database already holds organizations; demo data only goes into an empty database."""


@dataclass(frozen=True)
class DemoSummary:
    """How many rows of each kind the demo seed wrote."""

    organizations: int
    programs: int
    offerings: int
    students: int
    applicants: int
    enrollments: int
    enrollment_events: int
    households: int
    guardians: int
    staff_users: int
    role_grants: int
    guide_assignments: int
    school_days: int
    attendance_records: int
    immunization_records: int
    exemptions: int
    provisional_enrollments: int
    immunity_evidence: int
    requirements: int
    medications: int
    allergies: int
    behavior_incidents: int
    applications: int


# -- students and insertion ----------------------------------------------------------------


def student_rows(b: DemoBuilder, numbers: range) -> list[dict[str, Any]]:
    """Student rows with their allocated numbers, in generation order."""
    rows = []
    for kid, number in zip(b.kids, numbers, strict=True):
        created = at(kid.created_on or b.current.start_on, 16)
        email = None
        if kid.grade >= 3 and not kid.applicant:
            email = f"{ascii_slug(kid.first_name)}.{ascii_slug(kid.last_name)}.{number}@students.sis.example"
        rows.append(
            {
                "id": kid.id,
                "student_number": number,
                "org_id": b.campus(kid.campus.slug).id,
                "user_id": None,
                "first_name": kid.first_name,
                "last_name": kid.last_name,
                "preferred_name": NICKNAMES.get(kid.first_name) if b.chance(0.6) else None,
                "birth_on": kid.birth_on,
                "grade_level": kid.grade,
                "sex": kid.sex,
                "email": email,
                "phone": b.phone(kid.campus.area_code) if kid.grade >= 9 and b.chance(0.5) else None,
                "address": kid.address,
                "ethnicity": b.rng.choices(ETHNICITIES, weights=ETHNICITY_WEIGHTS)[0] if b.chance(0.93) else None,
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


def check_capacity(b: DemoBuilder) -> None:
    """Generation bug guard: no offering holds more stints than its capacity."""
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for row in b.rows[Enrollment]:
        counts[row["offering_id"]] += 1
    for offering_id, count in counts.items():
        if count > b.capacity[offering_id]:
            raise RuntimeError(f"demo offering {offering_id} has {count} stints over capacity")


# The stages in the order they run: each reads what the earlier ones generated.
STAGES: tuple[tuple[str, Callable[[DemoBuilder], None]], ...] = (
    ("organizations", build_orgs),
    ("programs", build_programs),
    ("staff", build_staff),
    ("households", build_families),
    ("enrollments", build_enrollments),
    ("admissions", build_admissions),
    ("guides", build_guides),
    ("attendance", build_attendance),
    ("health", build_health),
    ("behavior", build_behavior),
)
# Tables in foreign-key order for the bulk insert (the requirement rows go in separately).
INSERT_ORDER: tuple[type[Base], ...] = (
    Organization,
    User,
    RoleGrant,
    Program,
    ProgramOffering,
    Household,
    HouseholdGuardian,
    Student,
    HouseholdStudent,
    GuideAssignment,
    Enrollment,
    EnrollmentEvent,
    Application,
    SchoolDay,
    AttendanceRecord,
    ImmunizationRecord,
    ImmunizationRequirement,
    ImmunizationExemption,
    ImmunityEvidence,
    ProvisionalEnrollment,
    Medication,
    Allergy,
    BehaviorIncident,
)


def seed_demo(
    engine: Engine,
    *,
    seed: int = 7,
    today: dt.date = DEMO_TODAY,
    progress: Progress | None = None,
) -> DemoSummary:
    """Fill an empty database with the deterministic demo network, in one committed transaction.

    Raises:
        DemoAlreadySeeded: the database already holds organizations.
    """
    builder = DemoBuilder(seed, today)
    total = len(STAGES) + 1
    with Session(engine) as session, session.begin():
        if session.execute(select(Organization.id).limit(1)).first() is not None:
            raise DemoAlreadySeeded("the database already holds organizations; seed demo data into an empty one")
        for done, (stage, build) in enumerate(STAGES, start=1):
            build(builder)
            if progress:
                progress(stage, done, total)
        check_capacity(builder)
        builder.rows[Student] = student_rows(builder, allocate_numbers(session, STUDENT_NUMBER, len(builder.kids)))
        for model in INSERT_ORDER:
            if builder.rows[model]:
                session.execute(insert(model), builder.rows[model])
        # The shipped charts come with the migrations; this covers a database built without them.
        seed_requirements(session)
        requirements = session.execute(select(func.count()).select_from(ImmunizationRequirement)).scalar_one()
        if progress:
            progress("insert", total, total)
    rows = builder.rows
    applicants = sum(1 for k in builder.kids if k.applicant)
    staff = sum(1 for r in rows[User] if r["kind"] is not UserKind.GUARDIAN)
    summary = DemoSummary(
        organizations=len(rows[Organization]),
        programs=len(rows[Program]),
        offerings=len(rows[ProgramOffering]),
        students=len(rows[Student]),
        applicants=applicants,
        enrollments=len(rows[Enrollment]),
        enrollment_events=len(rows[EnrollmentEvent]),
        households=len(rows[Household]),
        guardians=len(rows[HouseholdGuardian]),
        staff_users=staff,
        role_grants=len(rows[RoleGrant]),
        guide_assignments=len(rows[GuideAssignment]),
        school_days=len(rows[SchoolDay]),
        attendance_records=len(rows[AttendanceRecord]),
        immunization_records=len(rows[ImmunizationRecord]),
        exemptions=len(rows[ImmunizationExemption]),
        provisional_enrollments=len(rows[ProvisionalEnrollment]),
        immunity_evidence=len(rows[ImmunityEvidence]),
        requirements=requirements,
        medications=len(rows[Medication]),
        allergies=len(rows[Allergy]),
        behavior_incidents=len(rows[BehaviorIncident]),
        applications=len(rows[Application]),
    )
    return summary
