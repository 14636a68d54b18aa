"""The staff stages: the personas and each FULL_SIS campus's staff, then guides and their students.

Guides are assigned after enrollments, since a guide coaches students active at the campus;
the Austin guide persona gets exactly the quota her tests count on.
"""

from __future__ import annotations

import datetime as dt
import uuid

from db.demo.builder import DemoBuilder, Kid
from db.demo.calendar import at
from db.demo.personas import GUIDE_AUSTIN_STUDENTS, PERSONAS, persona
from db.models import GuideAssignment, User, UserKind


def build_staff(b: DemoBuilder) -> None:
    """The personas, plus a registrar, nurse, director and guides at every FULL_SIS campus."""
    hired = b.current.start_on - dt.timedelta(days=30)
    for p in PERSONAS:
        user_id = b.user(p.email, p.display_name, p.kind, None, at(hired, 14))
        b.emails.add(p.email)
        b.grant(user_id, p.role, b.orgs[p.org_path].id, at(hired, 15))
        slug = p.org_path.rstrip("/").rsplit("/", 1)[-1]
        b.staff[(slug, p.role)].append(user_id)
    for spec in b.full_sis():
        wanted = {"registrar": 1, "nurse": 1, "campus_director": 1, "guide": 2}
        for role, count in wanted.items():
            # The Austin guide persona has one persona-less colleague; elsewhere personas fill their role.
            have = len(b.staff[(spec.slug, role)])
            for _ in range(max(0, count - have)):
                first, last = b.fake.first_name(), b.fake.last_name()
                email = b.unique_email(first, last, "sis.example")
                user_id = b.user(email, f"{first} {last}", UserKind.STAFF, b.phone(spec.area_code), at(hired, 14))
                b.grant(user_id, role, b.campus(spec.slug).id, at(hired, 15))
                b.staff[(spec.slug, role)].append(user_id)


def build_guides(b: DemoBuilder) -> None:
    """Guides coach students active at their campus; the Austin persona has exactly her quota."""
    austin_guide = b.staff[("austin", "guide")]
    maria = next(u for u in austin_guide if u in _persona_ids(b, persona("guide_austin").email))
    colleague = next(u for u in austin_guide if u != maria)
    for spec in b.full_sis():
        active = [k for k in b.kids if k.campus is spec and b.active_today(k)]
        b.rng.shuffle(active)
        for position, guide in enumerate(b.staff[(spec.slug, "guide")]):
            quota = GUIDE_AUSTIN_STUDENTS if guide == maria else 9
            for kid in active[position * 10 : position * 10 + quota]:
                assign(b, guide, kid, max(b.current.start_on, b.current_start(kid)), None)
        if spec.slug == "austin":
            # Last year the colleague coached one of Maria's current students: an ended assignment.
            returning = [k for k in active[:GUIDE_AUSTIN_STUDENTS] if (k.first_start or b.today) <= b.previous.end_on]
            if returning:
                assign(b, colleague, returning[0], b.previous.start_on, b.previous.end_on)


def _persona_ids(b: DemoBuilder, email: str) -> set[uuid.UUID]:
    """Ids of the generated users with this e-mail address."""
    return {row["id"] for row in b.rows[User] if row["email"] == email}


def assign(b: DemoBuilder, guide: uuid.UUID, kid: Kid, start_on: dt.date, end_on: dt.date | None) -> None:
    """A guide assignment of the student at the student's campus."""
    b.rows[GuideAssignment].append(
        {
            "id": b.uid(),
            "guide_user_id": guide,
            "student_id": kid.id,
            "org_id": b.campus(kid.campus.slug).id,
            "start_on": start_on,
            "end_on": end_on,
        }
    )
