"""The households stage: students of every campus grouped into sibling households with guardians.

`new_kid`, `household` and `member` are also how admissions adds applicants and their families.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from db.demo.builder import DemoBuilder, Kid
from db.demo.calendar import at, birth_range, random_day
from db.demo.network import CAMPUSES, CampusSpec
from db.demo.texts import GUARDIAN_RELATIONSHIPS
from db.models import Household, HouseholdGuardian, HouseholdStudent, Sex, UserKind


def build_families(b: DemoBuilder) -> None:
    """Enrolled students grouped into sibling households; about 5% in two split-custody households."""
    registered = b.previous.start_on - dt.timedelta(days=60)
    split_target = round(0.05 * sum(c.students for c in CAMPUSES))
    split_done = 0
    for spec in CAMPUSES:
        grades = list(range(spec.grade_min, spec.grade_max + 1))
        remaining = spec.students
        while remaining > 0:
            size = min(remaining, b.rng.choices((1, 2, 3), weights=(55, 33, 12))[0])
            remaining -= size
            last_name = b.fake.last_name()
            family = [new_kid(b, spec, last_name, g) for g in sorted(b.rng.sample(grades, size))]
            split = split_done < split_target and b.chance(0.09)
            if split:
                split_done += size
                mother = household(b, spec, last_name, ("mother",), registered)
                father = household(b, spec, last_name, ("father", "stepmother")[: b.rng.randint(1, 2)], registered)
                first_share = b.rng.choice((5000, 5000, 6000, 7500))
                for kid in family:
                    member(b, mother, kid, first_share)
                    member(b, father, kid, 10_000 - first_share)
            else:
                relationships = b.rng.choices(GUARDIAN_RELATIONSHIPS, weights=(70, 10, 8, 12))[0]
                if len(relationships) > 1 and b.chance(0.25):
                    relationships = relationships[:1]  # a single-parent household
                home = household(b, spec, last_name, relationships, registered)
                for kid in family:
                    member(b, home, kid, 10_000)


def new_kid(b: DemoBuilder, spec: CampusSpec, last_name: str, grade: int, *, applicant: bool = False) -> Kid:
    """A student of `grade` at the campus, born within the grade's age window."""
    sex = b.rng.choices((Sex.FEMALE, Sex.MALE, Sex.UNSPECIFIED), weights=(49, 49, 2))[0]
    if sex is Sex.FEMALE:
        first = b.fake.first_name_female()
    elif sex is Sex.MALE:
        first = b.fake.first_name_male()
    else:
        first = b.fake.first_name_nonbinary()
    lo, hi = birth_range(b.current, grade)
    kid = Kid(
        id=b.uid(),
        campus=spec,
        first_name=first,
        last_name=last_name,
        sex=sex,
        birth_on=random_day(b.rng, lo, hi),
        grade=grade,
        applicant=applicant,
    )
    b.kids.append(kid)
    return kid


def household(b: DemoBuilder, spec: CampusSpec, last_name: str, guardians: Sequence[str], since: dt.date) -> uuid.UUID:
    """A household at the campus with guardians of the given relationships; returns its id."""
    household_id = b.uid()
    address = b.address(spec)
    b.rows[Household].append(
        {
            "id": household_id,
            "org_id": b.campus(spec.slug).id,
            "name": f"{last_name} Household",
            "address": address,
            "created_at": at(since, 17),
            "updated_at": at(since, 17),
        }
    )
    for position, relationship in enumerate(guardians):
        female = relationship in ("mother", "stepmother", "grandmother")
        first = b.fake.first_name_female() if female else b.fake.first_name_male()
        # A step-parent often keeps a different surname.
        last = b.fake.last_name() if relationship.startswith("step") and b.chance(0.6) else last_name
        user_id = b.user(
            b.unique_email(first, last, "example.org"),
            f"{first} {last}",
            UserKind.GUARDIAN,
            b.phone(spec.area_code),
            at(since, 17),
        )
        b.rows[HouseholdGuardian].append(
            {
                "id": b.uid(),
                "household_id": household_id,
                "user_id": user_id,
                "relationship": relationship,
                "is_primary": position == 0,
                "contact_priority": position + 1,
            }
        )
    b.household_addresses[household_id] = address
    return household_id


def member(b: DemoBuilder, household_id: uuid.UUID, kid: Kid, share_bp: int) -> None:
    """Put the student in a household with the given billing share."""
    b.rows[HouseholdStudent].append(
        {"id": b.uid(), "household_id": household_id, "student_id": kid.id, "billing_share_bp": share_bp}
    )
    kid.household_ids.append(household_id)
    if kid.address is None:
        kid.address = b.household_addresses[household_id]
