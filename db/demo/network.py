"""The demo network's shape: its brands and campuses, where they are, whom they teach, their prices.

The generator walks these tables in order, so adding a campus here adds it everywhere
(orgs, offerings, staff, students). The scale generator's place names sit at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.models import OrgKind


@dataclass(frozen=True)
class BrandSpec:
    """A brand of the demo network."""

    slug: str
    name: str
    kind: OrgKind


@dataclass(frozen=True)
class CampusSpec:
    """A demo campus: where it is, which grades it teaches, how many students it holds, its price."""

    slug: str
    name: str
    brand: str
    kind: OrgKind
    jurisdiction: str
    timezone: str
    city: str
    state: str
    area_code: str
    zip_prefix: str
    grade_min: int
    grade_max: int
    students: int
    capacity: int
    tuition_cents: int


NETWORK_SLUG = "alpha"
NETWORK_NAME = "Alpha Learning Network"
# The zone of the network root and its brands; campuses carry their own.
NETWORK_TIMEZONE = "America/Chicago"
BRANDS: tuple[BrandSpec, ...] = (
    BrandSpec("academy", "Alpha Academy", OrgKind.FULL_SIS),
    BrandSpec("prep", "Alpha Prep", OrgKind.FULL_SIS),
    BrandSpec("connect", "Alpha Connect", OrgKind.ROSTER_ONLY),
)
_FULL, _ROSTER, _CT, _ET = OrgKind.FULL_SIS, OrgKind.ROSTER_ONLY, NETWORK_TIMEZONE, "America/New_York"
CAMPUSES: tuple[CampusSpec, ...] = (
    CampusSpec("austin", "Austin", "academy", _FULL, "TX", _CT, "Austin", "TX", "512", "787", 0, 12, 100, 125, 4_000_000),
    CampusSpec("miami", "Miami", "academy", _FULL, "FL", _ET, "Miami", "FL", "305", "331", 0, 12, 80, 100, 4_000_000),
    CampusSpec(
        "brownsville", "Brownsville", "academy", _FULL, "TX", _CT, "Brownsville", "TX", "956", "785", 0, 8, 50, 60, 1_000_000
    ),
    CampusSpec("houston", "Houston", "prep", _FULL, "TX", _CT, "Houston", "TX", "713", "770", 0, 12, 75, 95, 3_500_000),
    CampusSpec("dallas", "Dallas", "prep", _FULL, "TX", _CT, "Dallas", "TX", "214", "752", 0, 12, 65, 85, 3_500_000),
    CampusSpec(
        "san-antonio", "San Antonio", "prep", _FULL, "TX", _CT, "San Antonio", "TX", "210", "782", 0, 12, 65, 85, 3_000_000
    ),
    CampusSpec(
        "online", "Alpha Online School", "connect", _ROSTER, "TX", _CT, "Austin", "TX", "512", "787", 3, 12, 60, 200, 0
    ),
    CampusSpec(
        "lakeside", "Lakeside Preparatory School", "connect", _ROSTER, "TX", _CT, "Round Rock", "TX", "512", "786", 0, 8,
        45, 80, 0,
    ),
)  # fmt: skip
SUMMER_TUITION_CENTS = 180_000
ROBOTICS_TUITION_CENTS = 95_000
# Next year's price: this year's plus a typical annual increase.
TUITION_INCREASE_BP = 350

# The scale network (db/demo/scale.py): (city, state, area code, IANA zone); its campuses cycle
# through these so names and phones look local.
SCALE_CITIES = (
    ("Austin", "TX", "512", "America/Chicago"),
    ("Houston", "TX", "713", "America/Chicago"),
    ("Dallas", "TX", "214", "America/Chicago"),
    ("San Antonio", "TX", "210", "America/Chicago"),
    ("Fort Worth", "TX", "817", "America/Chicago"),
    ("El Paso", "TX", "915", "America/Denver"),
    ("Plano", "TX", "972", "America/Chicago"),
    ("Lubbock", "TX", "806", "America/Chicago"),
    ("Corpus Christi", "TX", "361", "America/Chicago"),
    ("Waco", "TX", "254", "America/Chicago"),
    ("Miami", "FL", "305", "America/New_York"),
    ("Tampa", "FL", "813", "America/New_York"),
    ("Orlando", "FL", "407", "America/New_York"),
)
SCALE_NEIGHBORHOODS = (
    "North", "South", "East", "West", "Central", "Lakeview", "Riverside", "Hillcrest", "Oak Park", "Westlake",
    "Cedar Park", "Midtown", "Heights", "Bayside", "Parkside", "Brookhaven",
)  # fmt: skip
