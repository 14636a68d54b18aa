"""Network-scale synthetic data (hundreds of campuses, ~100k students) for load and query-plan work.

`seed_scale(engine)` writes its own network root ("/scale/") beside whatever the database already
holds, so it can sit next to the demo data. Students are generated and written in chunks, so
memory stays flat however many are asked for; rows go in through the fastest path each engine
offers (COPY on PostgreSQL, executemany of pre-bound tuples on SQLite) inside one transaction,
so a failed run leaves nothing behind (`db/demo/bulk.py`, whose COLUMNS give each tuple's layout).
Ids and content repeat with the seed.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from faker import Faker
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.demo.builder import make_uuid
from db.demo.bulk import BulkWriter, bulk_load
from db.demo.calendar import (
    at,
    birth_range,
    instructional_days,
    next_weekday,
    school_year_containing,
    school_year_starting,
)
from db.demo.immunizations import immunization_history, with_gap
from db.demo.network import SCALE_CITIES, SCALE_NEIGHBORHOODS
from db.demo.texts import EXCUSE_NOTES, WITHDRAWAL_REASONS, incident_text
from db.models import (
    AttendanceRecord,
    AttendanceStatus,
    BehaviorIncident,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    GuideAssignment,
    Household,
    HouseholdGuardian,
    HouseholdStudent,
    ImmunizationRecord,
    OfferingStatus,
    Organization,
    OrgKind,
    OrgLevel,
    Program,
    ProgramKind,
    ProgramOffering,
    RoleGrant,
    SchoolDay,
    Student,
    User,
    UserKind,
)
from db.reference.immunization_requirements import seed_requirements
from db.sequences import STUDENT_NUMBER, allocate_numbers

Progress = Callable[[str, int, int], None]

ROOT_SLUG = "scale"
ROOT_PATH = f"/{ROOT_SLUG}/"
EMAIL_DOMAIN = "scale.example"
CHUNK_STUDENTS = 5_000
# One guide coaches about this many students; the other campus roles are one person each.
STUDENTS_PER_GUIDE = 25
CAMPUS_ROLES = ("campus_director", "registrar", "nurse", "admissions")


class ScaleAlreadySeeded(RuntimeError):
    """The database already holds a "/scale/" network; scale data is written once per database."""


@dataclass(frozen=True)
class ScaleSummary:
    """How many rows of each kind the scale generator wrote."""

    root_path: str
    brands: int
    campuses: int
    roster_only_schools: int
    offerings: int
    staff_users: int
    role_grants: int
    students: int
    households: int
    guardians: int
    enrollments: int
    enrollment_events: int
    guide_assignments: int
    school_days: int
    attendance_records: int
    immunization_records: int
    behavior_incidents: int


# -- generation ----------------------------------------------------------------------------


_UNSET = uuid.UUID(int=0)


@dataclass
class _Campus:
    """A generated campus and the ids its students need (offerings, registrar, guides)."""

    index: int
    org_id: uuid.UUID
    slug: str
    name: str
    kind: OrgKind
    grade_min: int
    grade_max: int
    students: int
    city: str
    state: str
    area_code: str
    previous_offering: uuid.UUID = _UNSET
    current_offering: uuid.UUID = _UNSET
    registrar: uuid.UUID | None = None
    guides: list[uuid.UUID] = field(default_factory=list)


class _ScaleBuilder:
    """Generates the scale network; student rows are produced and flushed chunk by chunk."""

    def __init__(self, writer: BulkWriter, *, seed: int, today: dt.date, attendance_days: int) -> None:
        self.out = writer
        self.rng = random.Random(seed)
        fake = Faker("en_US")
        fake.seed_instance(seed)
        # Name and street pools drawn once: Faker per row would dominate the run time.
        self.female = sorted({fake.first_name_female() for _ in range(600)})
        self.male = sorted({fake.first_name_male() for _ in range(600)})
        self.last = sorted({fake.last_name() for _ in range(1500)})
        self.streets = sorted({fake.street_name() for _ in range(800)})
        self.first_names = self.female + self.male
        self.today = today
        self.current = school_year_containing(today)
        self.previous = school_year_starting(self.current.first_year - 1)
        # The most recent `attendance_days` instructional days up to today (last year's end if needed).
        recent = instructional_days(self.previous) + instructional_days(self.current, today)
        self.days = recent[len(recent) - attendance_days :] if attendance_days else []
        self.stamp = at(self.current.start_on - dt.timedelta(days=45), 15)
        self.email_serial = 0
        self.campuses: list[_Campus] = []
        self.brand_ids: list[uuid.UUID] = []
        self.root_id = _UNSET

    def uid(self) -> uuid.UUID:
        """The next deterministic id."""
        return make_uuid(self.rng)

    # -- network --------------------------------------------------------------------------

    def build_network(self, campuses: int, students: int) -> None:
        """Root, brands, campuses (+ roster-only partners), programs, offerings and school days."""
        rng, stamp = self.rng, self.stamp
        root = self.org(None, ROOT_SLUG, "Scale Test Network", OrgLevel.NETWORK, OrgKind.FULL_SIS, ROOT_PATH, None)
        self.root_id = root
        n_brands = min(10, max(2, math.ceil(campuses / 20)))
        brands = []
        for b in range(n_brands):
            slug = f"b{b + 1:02d}"
            brands.append((self.org(root, slug, f"Scale Brand {b + 1:02d}", OrgLevel.BRAND, OrgKind.FULL_SIS,
                                    f"{ROOT_PATH}{slug}/", None), slug))  # fmt: skip
        partners = self.org(root, "partners", "Scale Partner Schools", OrgLevel.BRAND, OrgKind.ROSTER_ONLY,
                            f"{ROOT_PATH}partners/", None)  # fmt: skip
        self.brand_ids = [b for b, _ in brands] + [partners]
        n_roster = max(1, campuses // 50)
        weights = [rng.uniform(0.5, 1.5) for _ in range(campuses)] + [rng.uniform(0.3, 0.6) for _ in range(n_roster)]
        counts = [int(students * w / sum(weights)) for w in weights]
        for i in rng.sample(range(len(counts)), students - sum(counts)):
            counts[i] += 1
        for i, count in enumerate(counts):
            city, state, area, zone = SCALE_CITIES[i % len(SCALE_CITIES)]
            full = i < campuses
            if full:
                brand_id, brand_slug = brands[i % n_brands]
                slug, path_parent = f"c{i + 1:03d}", f"{ROOT_PATH}{brand_slug}/"
                name = f"{city} {SCALE_NEIGHBORHOODS[(i // len(SCALE_CITIES)) % len(SCALE_NEIGHBORHOODS)]} Campus {i + 1:03d}"
            else:
                brand_id = partners
                slug, path_parent = f"r{i - campuses + 1:02d}", f"{ROOT_PATH}partners/"
                name = f"{city} Partner School {i - campuses + 1:02d}"
            kind = OrgKind.FULL_SIS if full else OrgKind.ROSTER_ONLY
            org_id = self.org(brand_id, slug, name, OrgLevel.CAMPUS, kind, f"{path_parent}{slug}/", (state, zone))
            grade_max = 8 if full and rng.random() < 0.2 else 12
            self.campuses.append(_Campus(i, org_id, slug, name, kind, 0, grade_max, count, city, state, area))
        programs: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
        for brand_id in self.brand_ids:
            regular, camp = self.uid(), self.uid()
            roster = brand_id == partners
            self.out.add(Program, (regular, brand_id, "RY" if not roster else "ROSTER",
                                   "Regular Year" if not roster else "Partner Roster",
                                   ProgramKind.REGULAR_YEAR.value if not roster else ProgramKind.PARTNER.value,
                                   stamp, stamp))  # fmt: skip
            if not roster:
                self.out.add(Program, (camp, brand_id, "SUMMER", "Summer Camp", ProgramKind.CAMP.value, stamp, stamp))
            programs[brand_id] = (regular, camp)
        summer_start = next_weekday(self.previous.end_on + dt.timedelta(days=7), 0)
        for campus in self.campuses:
            brand_id = partners if campus.kind is OrgKind.ROSTER_ONLY else brands[campus.index % n_brands][0]
            regular, camp = programs[brand_id]
            full = campus.kind is OrgKind.FULL_SIS
            capacity = math.ceil(campus.students * 1.15 / 5) * 5 + 5
            tuition = 0 if not full else rng.choice((1_200_000, 1_800_000, 2_500_000, 3_500_000, 4_000_000))
            grades = (campus.grade_min, campus.grade_max)
            campus.previous_offering = self.offering(regular, campus, "Regular Year", self.previous.label,
                                                     self.previous.start_on, self.previous.end_on,
                                                     OfferingStatus.CLOSED, capacity, tuition, grades, None)  # fmt: skip
            campus.current_offering = self.offering(regular, campus, "Regular Year", self.current.label,
                                                    self.current.start_on, self.current.end_on, OfferingStatus.OPEN,
                                                    capacity, tuition, grades, campus.previous_offering)  # fmt: skip
            if full:
                self.offering(camp, campus, "Summer Camp", f"Summer {summer_start.year}", summer_start,
                              summer_start + dt.timedelta(weeks=5, days=4), OfferingStatus.CLOSED, 40, 150_000,
                              (0, 8), None)  # fmt: skip
                for day in self.days:
                    self.out.add(SchoolDay, (campus.org_id, day))
        self.out.flush()

    def org(
        self,
        parent: uuid.UUID | None,
        slug: str,
        name: str,
        level: OrgLevel,
        kind: OrgKind,
        path: str,
        place: tuple[str, str] | None,
    ) -> uuid.UUID:
        """An organization row; returns its id."""
        org_id = self.uid()
        jurisdiction, zone = place if place else (None, "America/Chicago")
        self.out.add(Organization, (org_id, parent, slug, name, level.value, kind.value, path, zone, jurisdiction,
                                    True, self.stamp, self.stamp))  # fmt: skip
        return org_id

    def offering(
        self,
        program_id: uuid.UUID,
        campus: _Campus,
        title: str,
        label: str,
        start_on: dt.date,
        end_on: dt.date,
        status: OfferingStatus,
        capacity: int,
        tuition: int,
        grades: tuple[int, int],
        previous: uuid.UUID | None,
    ) -> uuid.UUID:
        """An offering row named "<campus> <title>, <label>"; returns its id."""
        offering_id = self.uid()
        self.out.add(ProgramOffering, (offering_id, program_id, campus.org_id, f"{campus.name} {title}, {label}",
                                       label, start_on, end_on, status.value, capacity, tuition, grades[0], grades[1],
                                       previous, self.stamp, self.stamp))  # fmt: skip
        return offering_id

    # -- staff ----------------------------------------------------------------------------

    def build_staff(self) -> None:
        """Admins and auditors at the root, finance per brand, four campus roles plus ~1 guide per 25 students."""
        for role, count in (("network_admin", 3), ("auditor", 2)):
            for _ in range(count):
                self.grant(self.staff_user(self.rng.choice(SCALE_CITIES)[2]), role, self.root_id)
        for brand_id in self.brand_ids:
            for _ in range(2):
                self.grant(self.staff_user("512"), "finance", brand_id)
        for campus in self.campuses:
            if campus.kind is OrgKind.ROSTER_ONLY:
                self.grant(self.staff_user(campus.area_code, UserKind.CLIENT), "integration", campus.org_id)
                continue
            for role in CAMPUS_ROLES:
                user_id = self.staff_user(campus.area_code)
                self.grant(user_id, role, campus.org_id)
                if role == "registrar":
                    campus.registrar = user_id
            for _ in range(max(1, math.ceil(campus.students / STUDENTS_PER_GUIDE))):
                guide = self.staff_user(campus.area_code)
                self.grant(guide, "guide", campus.org_id)
                campus.guides.append(guide)
        self.out.flush()

    def staff_user(self, area_code: str, kind: UserKind = UserKind.STAFF) -> uuid.UUID:
        """A staff (or API client) user with a local phone number."""
        first, last = self.rng.choice(self.first_names), self.rng.choice(self.last)
        return self.user(first, last, "staff" if kind is UserKind.STAFF else "api", kind, area_code)

    def user(self, first: str, last: str, box: str, kind: UserKind, area_code: str) -> uuid.UUID:
        """A user row with an address unique by serial number; returns its id."""
        user_id = self.uid()
        self.email_serial += 1
        local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalpha() or ch == ".")
        email = f"{local}.{self.email_serial}@{box}.{EMAIL_DOMAIN}"
        phone = f"({area_code}) {self.rng.randint(200, 989)}-{self.rng.randint(0, 9999):04d}"
        self.out.add(User, (user_id, email, f"{first} {last}", kind.value, phone, True, self.stamp, self.stamp))
        return user_id

    def grant(self, user_id: uuid.UUID, role: str, org_id: uuid.UUID) -> None:
        """A role grant at an org node."""
        self.out.add(RoleGrant, (self.uid(), user_id, role, org_id, self.stamp, None))

    # -- students -------------------------------------------------------------------------

    def build_students(self, numbers: Sequence[int], progress: Progress | None) -> None:
        """Families campus by campus, flushed every CHUNK_STUDENTS students."""
        total, done, pending = len(numbers), 0, 0
        for campus in self.campuses:
            remaining = campus.students
            while remaining > 0:
                size = min(remaining, self.rng.choices((1, 2, 3), weights=(55, 33, 12))[0])
                remaining -= size
                self.family(campus, [numbers[done + k] for k in range(size)])
                done += size
                pending += size
                if pending >= CHUNK_STUDENTS:
                    self.out.flush()
                    pending = 0
                    if progress:
                        progress("students", done, total)
        self.out.flush()
        if progress:
            progress("students", done, total)

    def family(self, campus: _Campus, numbers: list[int]) -> None:
        """One to three siblings sharing a household (3% split between two)."""
        rng = self.rng
        last = rng.choice(self.last)
        street = f"{rng.randint(100, 19999)} {rng.choice(self.streets)}, {campus.city}, {campus.state}"
        if rng.random() < 0.03:  # split custody: two homes sharing the bills equally
            other = f"{rng.randint(100, 19999)} {rng.choice(self.streets)}, {campus.city}, {campus.state}"
            homes = [
                self.household(campus, last, street, ("mother",)),
                self.household(campus, last, other, ("father",)),
            ]
            shares = [5_000, 5_000]
        else:
            homes = [self.household(campus, last, street, ("mother", "father")[: rng.randint(1, 2)])]
            shares = [10_000]
        grades = sorted(rng.sample(range(campus.grade_min, campus.grade_max + 1), len(numbers)))
        for number, grade in zip(numbers, grades, strict=True):
            self.student(campus, number, last, grade, street, homes, shares)

    def household(self, campus: _Campus, last: str, address: str, guardians: tuple[str, ...]) -> uuid.UUID:
        """A household and its guardian users; returns its id."""
        household_id = self.uid()
        self.out.add(Household, (household_id, campus.org_id, f"{last} Household", address, self.stamp, self.stamp))
        for position, relationship in enumerate(guardians):
            first = self.rng.choice(self.female if relationship == "mother" else self.male)
            user_id = self.user(first, last, "families", UserKind.GUARDIAN, campus.area_code)
            self.out.add(
                HouseholdGuardian, (self.uid(), household_id, user_id, relationship, position == 0, position + 1)
            )
        return household_id

    def student(
        self,
        campus: _Campus,
        number: int,
        last: str,
        grade: int,
        address: str,
        homes: list[uuid.UUID],
        shares: list[int],
    ) -> None:
        """A student with households, stints, guide, immunizations and attendance."""
        rng, out = self.rng, self.out
        female = rng.random() < 0.5
        first = rng.choice(self.female if female else self.male)
        lo, hi = birth_range(self.current, grade)
        birth = lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))
        student_id = self.uid()
        out.add(Student, (student_id, number, campus.org_id, first, last, birth, grade,
                          "female" if female else "male", address, self.stamp, self.stamp))  # fmt: skip
        for home, share in zip(homes, shares, strict=True):
            out.add(HouseholdStudent, (self.uid(), home, student_id, share))
        previous_id = None
        if grade > campus.grade_min and rng.random() < 0.7:
            previous_id = self.uid()
            self.stint(previous_id, student_id, campus, campus.previous_offering, grade - 1, self.previous.start_on,
                       self.previous.end_on, EnrollmentStatus.COMPLETED, None, None, "created")  # fmt: skip
        start = self.current.start_on
        if previous_id is None and rng.random() < 0.08:
            start = min(self.today, start + dt.timedelta(days=rng.randint(7, 60)))
        end: dt.date | None = None
        status, reason = EnrollmentStatus.ACTIVE, None
        if rng.random() < 0.03 and self.today > start + dt.timedelta(days=11):
            end = start + dt.timedelta(days=rng.randint(10, (self.today - start).days - 1))
            status, reason = EnrollmentStatus.WITHDRAWN, rng.choice(WITHDRAWAL_REASONS)
        enrollment_id = self.uid()
        self.stint(enrollment_id, student_id, campus, campus.current_offering, grade, start, end, status, reason,
                   previous_id, "reenrolled" if previous_id else "created")  # fmt: skip
        if campus.kind is OrgKind.ROSTER_ONLY:
            return
        if status is EnrollmentStatus.ACTIVE:
            guide = campus.guides[number % len(campus.guides)]
            out.add(GuideAssignment, (self.uid(), guide, student_id, campus.org_id, start, None))
        self.immunizations(student_id, campus, birth, grade)
        last_day = end or self.today
        self.attendance(student_id, first, campus, [d for d in self.days if start <= d <= last_day])

    def stint(
        self,
        enrollment_id: uuid.UUID,
        student_id: uuid.UUID,
        campus: _Campus,
        offering_id: uuid.UUID,
        grade: int,
        start: dt.date,
        end: dt.date | None,
        status: EnrollmentStatus,
        reason: str | None,
        previous_id: uuid.UUID | None,
        start_event: str,
    ) -> None:
        """An enrollment row and its status events."""
        created = at(start - dt.timedelta(days=30), 16)
        updated = at(end, 16) if end else created
        self.out.add(Enrollment, (enrollment_id, student_id, offering_id, campus.org_id, grade, start, end,
                                  status.value, reason, previous_id, created, updated))  # fmt: skip
        active = EnrollmentStatus.ACTIVE.value
        self.out.add(EnrollmentEvent, (enrollment_id, start_event, None, active, start, None, campus.registrar,
                                       created))  # fmt: skip
        if end is not None:
            self.out.add(EnrollmentEvent, (enrollment_id, status.value, active, status.value, end, reason,
                                           campus.registrar, updated))  # fmt: skip

    def immunizations(self, student_id: uuid.UUID, campus: _Campus, birth: dt.date, grade: int) -> None:
        """The student's dose history, with a gap for about one in five."""
        rng = self.rng
        # Combination vaccines are the norm in current practice, so most histories are short.
        doses = immunization_history(
            rng,
            birth,
            self.today,
            combination=rng.random() < 0.85,
            preschool_combination=rng.random() < 0.75,
            mmrv=rng.random() < 0.65,
        )
        if rng.random() < 0.2:
            doses, _ = with_gap(rng, doses, grade)
        source = "Florida SHOTS" if campus.state == "FL" else "ImmTrac2"
        recorded = at(self.current.start_on - dt.timedelta(days=20), 19)
        for dose in doses:
            self.out.add(ImmunizationRecord, (self.uid(), student_id, campus.org_id, dose.group, dose.cvx,
                                              dose.product, dose.on, source, recorded))  # fmt: skip

    def attendance(self, student_id: uuid.UUID, first: str, campus: _Campus, days: list[dt.date]) -> None:
        """Rows for non-present days only (no row on a school day means present), and some incidents."""
        rng, out = self.rng, self.out
        chronic = rng.random() < 0.1
        p_absent, p_tardy = (0.2, 0.06) if chronic else (0.03, 0.03)
        for day in days:
            roll = rng.random()
            if roll < p_absent:
                excused = rng.random() < 0.5
                status = AttendanceStatus.EXCUSED_ABSENCE if excused else AttendanceStatus.UNEXCUSED_ABSENCE
                note = rng.choice(EXCUSE_NOTES) if excused else None
            elif roll < p_absent + p_tardy:
                status, note = AttendanceStatus.TARDY, None
            else:
                # About one incident per 120 student-days, the demo's rate.
                if rng.random() < 1 / 120:
                    category, severity, description, action = incident_text(rng, first)
                    out.add(BehaviorIncident, (self.uid(), student_id, campus.org_id, day, category, severity.value,
                                               description, action, rng.choice(campus.guides), at(day, 21)))  # fmt: skip
                continue
            out.add(AttendanceRecord, (student_id, campus.org_id, day, status.value, note, campus.registrar,
                                       at(day, 14)))  # fmt: skip


def seed_scale(
    engine: Engine,
    *,
    campuses: int = 200,
    students: int = 100_000,
    attendance_days: int = 20,
    seed: int = 11,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> ScaleSummary:
    """Write a network of `campuses` campuses and `students` students under "/scale/", in one transaction.

    `today` defaults to the real current date; school years, stints and attendance days derive from it.

    Raises:
        ScaleAlreadySeeded: the database already holds a "/scale/" network.
        ValueError: campuses < 1, students < 0 or attendance_days < 0, or an engine other than SQLite/PostgreSQL.
    """
    if campuses < 1 or students < 0 or attendance_days < 0:
        raise ValueError("campuses must be at least 1; students and attendance_days must not be negative")
    if engine.dialect.name not in ("sqlite", "postgresql"):
        raise ValueError(f"seed_scale supports SQLite and PostgreSQL, not {engine.dialect.name}")
    today = today or dt.date.today()
    with bulk_load(engine) as conn:
        session = Session(bind=conn)
        if session.execute(select(Organization.id).where(Organization.path == ROOT_PATH)).first():
            raise ScaleAlreadySeeded(f"the database already holds a {ROOT_PATH} network")
        numbers = allocate_numbers(session, STUDENT_NUMBER, students) if students else range(0)
        # Campuses in Texas and Florida: their immunization reports need the states' requirement rows
        # (migration 0014 ships them; this covers a database built without it).
        seed_requirements(session)
        session.close()
        with BulkWriter(conn) as writer:
            builder = _ScaleBuilder(writer, seed=seed, today=today, attendance_days=attendance_days)
            builder.build_network(campuses, students)
            if progress:
                progress("network", 1, 1)
            builder.build_staff()
            if progress:
                progress("staff", 1, 1)
            builder.build_students(numbers, progress)
        counts = writer.counts
    full = [c for c in builder.campuses if c.kind is OrgKind.FULL_SIS]
    return ScaleSummary(
        root_path=ROOT_PATH,
        brands=len(builder.brand_ids),
        campuses=len(full),
        roster_only_schools=len(builder.campuses) - len(full),
        offerings=counts[ProgramOffering],
        staff_users=counts[User] - counts[HouseholdGuardian],
        role_grants=counts[RoleGrant],
        students=counts[Student],
        households=counts[Household],
        guardians=counts[HouseholdGuardian],
        enrollments=counts[Enrollment],
        enrollment_events=counts[EnrollmentEvent],
        guide_assignments=counts[GuideAssignment],
        school_days=counts[SchoolDay],
        attendance_records=counts[AttendanceRecord],
        immunization_records=counts[ImmunizationRecord],
        behavior_incidents=counts[BehaviorIncident],
    )
