"""The organizations stage: network, brands and campuses, then programs and their offerings.

Offerings cover last year (closed), this year and next year (open), last summer's camp and this
fall's robotics lab; next year's price is this year's plus the usual increase.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from db.demo.builder import DemoBuilder, Offerings, Org
from db.demo.calendar import SchoolYear, at, next_weekday
from db.demo.network import (
    BRANDS,
    CAMPUSES,
    NETWORK_NAME,
    NETWORK_SLUG,
    NETWORK_TIMEZONE,
    ROBOTICS_TUITION_CENTS,
    SUMMER_TUITION_CENTS,
    TUITION_INCREASE_BP,
)
from db.models import OfferingStatus, Organization, OrgKind, OrgLevel, Program, ProgramKind, ProgramOffering


def build_orgs(b: DemoBuilder) -> None:
    """Network → brands → campuses, with materialized paths built from slugs."""
    founded = at(b.previous.start_on - dt.timedelta(days=400), 14)

    def add(slug: str, name: str, level: OrgLevel, kind: OrgKind, parent: Org | None, **kw: Any) -> Org:
        org = Org(b.uid(), slug, name, f"{parent.path if parent else '/'}{slug}/")
        b.rows[Organization].append(
            {
                "id": org.id,
                "parent_id": parent.id if parent else None,
                "slug": slug,
                "name": name,
                "level": level,
                "kind": kind,
                "path": org.path,
                "timezone": kw.get("timezone", NETWORK_TIMEZONE),
                "jurisdiction": kw.get("jurisdiction"),
                "is_active": True,
                "created_at": founded,
                "updated_at": founded,
            }
        )
        b.orgs[org.path] = org
        return org

    network = add(NETWORK_SLUG, NETWORK_NAME, OrgLevel.NETWORK, OrgKind.FULL_SIS, None)
    for brand in BRANDS:
        brand_org = add(brand.slug, brand.name, OrgLevel.BRAND, brand.kind, network)
        for spec in CAMPUSES:
            if spec.brand == brand.slug:
                campus = add(
                    spec.slug,
                    spec.name,
                    OrgLevel.CAMPUS,
                    spec.kind,
                    brand_org,
                    timezone=spec.timezone,
                    jurisdiction=spec.jurisdiction,
                )
                campus.spec = spec
                b.orgs[spec.slug] = campus


def build_programs(b: DemoBuilder) -> None:
    """Programs per brand (roster-only schools own theirs) and offerings per campus and period."""
    created = at(b.previous.start_on - dt.timedelta(days=120), 16)
    programs: dict[tuple[str, str], uuid.UUID] = {}

    def program(org: Org, code: str, name: str, kind: ProgramKind) -> uuid.UUID:
        key = (org.path, code)
        if key not in programs:
            programs[key] = b.uid()
            b.rows[Program].append(
                {
                    "id": programs[key],
                    "org_id": org.id,
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        return programs[key]

    summer_start = next_weekday(b.previous.end_on + dt.timedelta(days=7), 0)
    summer = SchoolYear(f"Summer {summer_start.year}", summer_start, summer_start + dt.timedelta(weeks=5, days=4))
    robotics_start = next_weekday(b.current.start_on + dt.timedelta(days=21), 0)
    fall = SchoolYear(f"Fall {robotics_start.year}", robotics_start, robotics_start + dt.timedelta(weeks=13, days=4))

    for spec in CAMPUSES:
        org = b.campus(spec.slug)
        brand = b.orgs[f"/{NETWORK_SLUG}/{spec.brand}/"]
        brand_name = next(brand_spec.name for brand_spec in BRANDS if brand_spec.slug == spec.brand)
        code = spec.brand.upper()
        if spec.kind is OrgKind.FULL_SIS:
            regular = program(brand, f"{code}-RY", f"{brand_name} Regular Year", ProgramKind.REGULAR_YEAR)
        elif spec.slug == "online":
            regular = program(org, "ONLINE-FT", "Alpha Online Full-Time", ProgramKind.ONLINE)
        else:
            regular = program(org, "PARTNER-ROSTER", f"{spec.name} Roster", ProgramKind.PARTNER)
        grades = (spec.grade_min, spec.grade_max)
        tuition = spec.tuition_cents
        tuition_before = int(round(tuition * 10_000 / (10_000 + TUITION_INCREASE_BP), -4))
        previous = offering(
            b,
            regular,
            org,
            "Regular Year",
            b.previous,
            OfferingStatus.CLOSED,
            spec.capacity,
            tuition_before,
            grades,
        )
        current = offering(
            b,
            regular,
            org,
            "Regular Year",
            b.current,
            OfferingStatus.OPEN,
            spec.capacity,
            tuition,
            grades,
            previous,
        )
        offerings = Offerings(previous=previous, current=current)
        if spec.kind is OrgKind.FULL_SIS:
            camp = program(brand, f"{code}-SUMMER", "Summer Discovery Camp", ProgramKind.CAMP)
            lab = program(brand, f"{code}-ROBOTICS", "Robotics Lab (after school)", ProgramKind.CAMP)
            offerings.summer = offering(
                b, camp, org, "Summer Discovery Camp", summer, OfferingStatus.CLOSED, 30, SUMMER_TUITION_CENTS,
                (0, min(8, spec.grade_max)),
            )  # fmt: skip
            offerings.robotics = offering(
                b, lab, org, "Robotics Lab", fall, OfferingStatus.OPEN, 24, ROBOTICS_TUITION_CENTS, (3, 8)
            )
            tuition_next = int(round(tuition * (10_000 + TUITION_INCREASE_BP) / 10_000, -4))
            offerings.next = offering(
                b, regular, org, "Regular Year", b.upcoming, OfferingStatus.OPEN, spec.capacity, tuition_next,
                grades, current,
            )  # fmt: skip
        b.offerings[spec.slug] = offerings


def offering(
    b: DemoBuilder,
    program_id: uuid.UUID,
    org: Org,
    title: str,
    period: SchoolYear,
    status: OfferingStatus,
    capacity: int,
    tuition_cents: int,
    grades: tuple[int, int],
    previous: uuid.UUID | None = None,
) -> uuid.UUID:
    """One offering row, named "<campus> <title>, <period label>"."""
    offering_id = b.uid()
    created = at(period.start_on - dt.timedelta(days=150), 16)
    b.rows[ProgramOffering].append(
        {
            "id": offering_id,
            "program_id": program_id,
            "org_id": org.id,
            "name": f"{org.name} {title}, {period.label}",
            "session_label": period.label,
            "start_on": period.start_on,
            "end_on": period.end_on,
            "status": status,
            "capacity": capacity,
            "tuition_cents": tuition_cents,
            "grade_min": grades[0],
            "grade_max": grades[1],
            "previous_offering_id": previous,
            "created_at": created,
            "updated_at": created,
        }
    )
    b.capacity[offering_id] = capacity
    return offering_id
