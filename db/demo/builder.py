"""The demo builder's core: the state every stage shares and the small helpers they all use.

A `DemoBuilder` holds one seeded random generator, the anchor day and its school years, and
the rows generated so far (dicts per model). The stages in `db/demo/stages/` add rows to it in
the order `seed_demo` runs them. Every draw comes from `rng` (or the seeded Faker), so moving a
call changes the data.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from faker import Faker

from db.base import Base
from db.demo.calendar import instructional_days, school_year_containing, school_year_starting
from db.demo.network import CAMPUSES, CampusSpec
from db.models import OrgKind, RoleGrant, Sex, User, UserKind


def make_uuid(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID drawn from `rng`, so ids repeat with the seed."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def ascii_slug(text: str) -> str:
    """Lowercase ASCII letters only, for building e-mail local parts from names."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalpha())


@dataclass
class Org:
    """An organization row being generated (campuses also keep their spec)."""

    id: uuid.UUID
    slug: str
    name: str
    path: str
    spec: CampusSpec | None = None


@dataclass(eq=False)
class Kid:
    """A student being generated, with what later stages need to know about them."""

    id: uuid.UUID
    campus: CampusSpec
    first_name: str
    last_name: str
    sex: Sex
    birth_on: dt.date
    grade: int
    household_ids: list[uuid.UUID] = field(default_factory=list)
    address: str | None = None
    applicant: bool = False
    # Current-year stints at FULL_SIS campuses: (campus slug, first day, last day or None).
    membership: list[tuple[str, dt.date, dt.date | None]] = field(default_factory=list)
    first_start: dt.date | None = None
    created_on: dt.date | None = None
    moved: bool = False


@dataclass
class Offerings:
    """A campus's offerings by period."""

    previous: uuid.UUID
    current: uuid.UUID
    next: uuid.UUID | None = None
    summer: uuid.UUID | None = None
    robotics: uuid.UUID | None = None


class DemoBuilder:
    """Generates every demo row as dicts, in an order that satisfies foreign keys on insert."""

    def __init__(self, seed: int, today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.today = today
        self.current = school_year_containing(today)
        self.previous = school_year_starting(self.current.first_year - 1)
        self.upcoming = school_year_starting(self.current.first_year + 1)
        self.rows: dict[type[Base], list[dict[str, Any]]] = defaultdict(list)
        self.orgs: dict[str, Org] = {}
        self.offerings: dict[str, Offerings] = {}
        self.capacity: dict[uuid.UUID, int] = {}
        self.kids: list[Kid] = []
        self.emails: set[str] = set()
        self.staff: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
        self.household_addresses: dict[uuid.UUID, str] = {}
        self.school_days: dict[str, list[dt.date]] = {}

    # -- ids, chance and contact details --------------------------------------------------

    def uid(self) -> uuid.UUID:
        """The next deterministic id."""
        return make_uuid(self.rng)

    def chance(self, p: float) -> bool:
        """True with probability `p`."""
        return self.rng.random() < p

    def unique_email(self, first: str, last: str, domain: str) -> str:
        """An e-mail address at `domain` not yet handed out in this data set."""
        base = f"{ascii_slug(first)}.{ascii_slug(last)}"
        email, n = f"{base}@{domain}", 1
        while email in self.emails:
            n += 1
            email = f"{base}{n}@{domain}"
        self.emails.add(email)
        return email

    def phone(self, area_code: str) -> str:
        """A US phone number in the given area code."""
        return f"({area_code}) {self.rng.randint(200, 989)}-{self.rng.randint(0, 9999):04d}"

    def address(self, spec: CampusSpec) -> str:
        """A street address in the campus's city."""
        zip_code = f"{spec.zip_prefix}{self.rng.randint(1, 99):02d}"
        return f"{self.fake.street_address()}, {spec.city}, {spec.state} {zip_code}"

    # -- the network ----------------------------------------------------------------------

    def full_sis(self) -> list[CampusSpec]:
        """The FULL_SIS campuses (admissions, billing, health), in table order."""
        return [c for c in CAMPUSES if c.kind is OrgKind.FULL_SIS]

    def campus(self, slug: str) -> Org:
        """The generated campus with this slug."""
        return self.orgs[slug]

    # -- staff rows -----------------------------------------------------------------------

    def user(self, email: str, name: str, kind: UserKind, phone: str | None, created: dt.datetime) -> uuid.UUID:
        """A user row; returns its id."""
        user_id = self.uid()
        self.rows[User].append(
            {
                "id": user_id,
                "email": email,
                "display_name": name,
                "kind": kind,
                "phone": phone,
                "is_active": True,
                "created_at": created,
                "updated_at": created,
            }
        )
        return user_id

    def grant(self, user_id: uuid.UUID, role: str, org_id: uuid.UUID, granted: dt.datetime) -> None:
        """A role grant at an org node."""
        self.rows[RoleGrant].append(
            {
                "id": self.uid(),
                "user_id": user_id,
                "role": role,
                "org_id": org_id,
                "granted_at": granted,
                "expires_on": None,
            }
        )

    def registrar_of(self, slug: str) -> uuid.UUID | None:
        """The campus registrar who records its enrollment changes and attendance, if it has one."""
        users = self.staff.get((slug, "registrar"))
        return users[0] if users else None

    # -- school days and the students' stints ---------------------------------------------

    def calendar(self, slug: str) -> list[dt.date]:
        """The campus's instructional days of the current year through today."""
        if slug not in self.school_days:
            self.school_days[slug] = instructional_days(self.current, self.today)
        return self.school_days[slug]

    def school_day_between(self, slug: str, lo: dt.date, hi: dt.date) -> dt.date | None:
        """A random instructional day of the campus in [lo, hi], or None when there is none."""
        days = [d for d in self.calendar(slug) if lo <= d <= hi]
        return self.rng.choice(days) if days else None

    def active_today(self, kid: Kid) -> bool:
        """True when the student holds an open regular stint at their home campus today."""
        return any(
            end is None and start <= self.today for slug, start, end in kid.membership if slug == kid.campus.slug
        )

    def current_start(self, kid: Kid) -> dt.date:
        """The first day of the student's latest regular stint at their home campus."""
        return max(start for slug, start, _ in kid.membership if slug == kid.campus.slug)

    def row_of(self, model: type[Base], row_id: uuid.UUID | None) -> dict[str, Any]:
        """The generated row of `model` with this id."""
        for row in self.rows[model]:
            if row["id"] == row_id:
                return row
        raise KeyError(row_id)
