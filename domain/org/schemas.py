"""Inputs and read models of the organization and calendar tools."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from db.models import OrgKind, OrgLevel
from domain.calendar import school_year, school_year_label_start
from domain.paging import MAX_PAGE, Page

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# US states, DC and the territories: the jurisdictions whose two letters the requirement rows use.
US_CODES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
    ]
)
ISO_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
WEEKDAY_NAMES = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
CHILD_LEVELS = ("brand", "campus", "program")


def normalize_jurisdiction(value: str) -> str:
    """'US-TX', 'us-tx' and 'TX' -> 'TX'; another country's ISO 3166-2 code ('CA-ON') as given, upper case.

    US states are stored as their two letters because the immunization requirement rows and the
    demo campuses use that form; the health rules look jurisdictions up by equality.

    Raises:
        ValueError: neither a US state code nor an ISO 3166-2 subdivision code.
    """
    code = value.strip().upper()
    if code.startswith("US-"):
        code = code[3:]
    if code in US_CODES:
        return code
    if ISO_SUBDIVISION.match(code) and not code.startswith("US-"):
        return code
    raise ValueError(f"jurisdiction {value!r} is not a US state (e.g. 'US-TX' or 'TX') or an ISO 3166-2 code")


def check_timezone(value: str) -> str:
    """The IANA zone name if it is one this server knows.

    Raises:
        ValueError: not an IANA zone name.
    """
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {value!r} is not an IANA zone name such as 'America/New_York'") from None
    return name


def check_slug(value: str) -> str:
    """A path segment: lower-case letters, digits and inner hyphens, at most 64 characters.

    Raises:
        ValueError: anything else.
    """
    slug = value.strip().lower()
    if not SLUG.match(slug):
        raise ValueError(
            f"slug {value!r} must be 1-64 lower-case letters, digits or hyphens, starting and ending with a letter or digit"
        )
    return slug


def slug_of(name: str) -> str:
    """A slug made from a name ('Alpha Academy Miami' -> 'alpha-academy-miami')."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "org"


class _OrgFields(BaseModel):
    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = " ".join(value.split())
        if not name:
            raise ValueError("name must not be blank")
        return name

    @field_validator("slug", check_fields=False)
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return None if value is None else check_slug(value)

    @field_validator("jurisdiction", check_fields=False)
    @classmethod
    def _jurisdiction(cls, value: str | None) -> str | None:
        return None if value is None else normalize_jurisdiction(value)

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)


class CreateOrganizationInput(_OrgFields):
    """A new brand, campus or program under an existing organization."""

    parent_id: uuid.UUID = Field(description="The org it belongs under: from list_organizations or whoami.")
    name: str = Field(min_length=1, max_length=200, description="Display name, e.g. 'Alpha Academy Miami'.")
    slug: str | None = Field(
        default=None,
        max_length=64,
        description="Path segment, unique among the parent's children (default: made from the name), e.g. 'miami'.",
    )
    level: OrgLevel = Field(
        description="brand (under the network), campus (under a brand or the network) or program (under a campus)."
    )
    kind: OrgKind | None = Field(
        default=None,
        description="FULL_SIS (billing, admissions) or ROSTER_ONLY (partner school, rosters only); default: the "
        "parent's. Anything under a ROSTER_ONLY org is ROSTER_ONLY.",
    )
    jurisdiction: str | None = Field(
        default=None,
        max_length=16,
        description="Immunization jurisdiction, e.g. 'US-FL' or 'FL' (stored as 'FL'); default: inherited from above.",
    )
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA zone, e.g. 'America/New_York' (default: the parent's)."
    )

    @field_validator("level")
    @classmethod
    def _level(cls, value: OrgLevel) -> OrgLevel:
        if value is OrgLevel.NETWORK:
            raise ValueError("a network is the root; `sis init` creates it (levels here: brand, campus, program)")
        return value


class UpdateOrganizationInput(_OrgFields):
    """Fields to change on one organization; omitted fields stay as they are."""

    org_id: uuid.UUID = Field(description="The org to change: from list_organizations.")
    name: str | None = Field(default=None, max_length=200, description="New display name.")
    slug: str | None = Field(default=None, max_length=64, description="New path segment (changes the org's path).")
    parent_id: uuid.UUID | None = Field(
        default=None, description="Move the org (and everything below it) under this org."
    )
    kind: OrgKind | None = Field(
        default=None, description="FULL_SIS or ROSTER_ONLY; only while nothing below it was ever enrolled."
    )
    jurisdiction: str | None = Field(default=None, max_length=16, description="e.g. 'US-TX' (stored as 'TX').")
    clear_jurisdiction: bool = Field(default=False, description="True: inherit the jurisdiction from above again.")
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone, e.g. 'America/Chicago'.")
    reason: str | None = Field(default=None, max_length=300, description="Why, recorded on the change events.")


class CloseOrganizationInput(BaseModel):
    org_id: uuid.UUID = Field(description="The org to close (with everything below it): from list_organizations.")
    closed_on: dt.date | None = Field(default=None, description="The first day it is closed (default: today).")
    reason: str = Field(min_length=1, max_length=300, description="Why it closes, recorded on the change events.")


class GetOrganizationInput(BaseModel):
    org_id: uuid.UUID = Field(description="From list_organizations or whoami.")


class OrganizationQuery(BaseModel):
    org_id: uuid.UUID | None = Field(default=None, description="Only this org and the orgs below it.")
    level: OrgLevel | None = Field(default=None, description="Only orgs of this level, e.g. 'campus'.")
    include_closed: bool = Field(default=True, description="False: open orgs only.")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description=f"Page size (at most {MAX_PAGE}).")
    offset: int = Field(default=0, ge=0, description="Rows to skip (from next_offset of the previous page).")


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The org_id other tools accept.")
    parent_id: uuid.UUID | None
    name: str
    slug: str
    path: str = Field(description="Slugs from the root, e.g. '/alpha/academy/miami/'.")
    level: OrgLevel
    kind: OrgKind
    jurisdiction: str | None = Field(description="Set on this org; null inherits from above.")
    timezone: str
    is_active: bool
    closed_on: dt.date | None


class OrganizationPage(Page):
    items: list[OrganizationRead]


class ClosedOrganizations(BaseModel):
    closed: list[OrganizationRead] = Field(description="The org and every org below it that was still open.")


# -- calendars ----------------------------------------------------------------------------------


class DateRange(BaseModel):
    start: dt.date = Field(description="First day off.")
    end: dt.date | None = Field(default=None, description="Last day off (default: start).")
    label: str | None = Field(default=None, max_length=100, description="e.g. 'Thanksgiving break'.")


def school_year_bounds(label: str) -> tuple[dt.date, dt.date]:
    """'2026-27' -> (Aug 1 2026, Jul 31 2027).

    Raises:
        ValueError: not of the form YYYY-YY with consecutive years.
    """
    first = school_year_label_start(label.strip())
    if first is None:
        raise ValueError(f"school_year {label!r} must look like '2026-27' (two consecutive years)")
    return school_year(first)


class SetSchoolCalendarInput(BaseModel):
    """A campus's school year: its first and last day, the weekdays taught and the days off."""

    org_id: uuid.UUID = Field(description="A campus (level campus): from list_organizations or whoami.")
    school_year: str = Field(description="e.g. '2026-27' (Aug 1 2026 .. Jul 31 2027).")
    first_day: dt.date = Field(description="First day of school.")
    last_day: dt.date = Field(description="Last day of school.")
    closures: list[dt.date | DateRange] = Field(
        default_factory=list,
        max_length=200,
        description="Holidays and closures: dates ('2026-11-26') or ranges ({'start', 'end', 'label'}).",
    )
    weekdays: list[int | str] = Field(
        default_factory=lambda: list[int | str]([1, 2, 3, 4, 5]),
        max_length=7,
        description="Weekdays taught: 1 (Mon) .. 7 (Sun) or 'mon'..'sun' (default Monday to Friday).",
    )

    @field_validator("school_year")
    @classmethod
    def _school_year(cls, value: str) -> str:
        school_year_bounds(value)
        return value.strip()

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[Any]) -> list[int]:
        days: set[int] = set()
        for day in value:
            number = WEEKDAY_NAMES.get(day.strip().lower()[:3]) if isinstance(day, str) else day
            if not isinstance(number, int) or not 1 <= number <= 7:
                raise ValueError(f"weekday {day!r} must be 1 (Mon) .. 7 (Sun) or a name such as 'mon'")
            days.add(number)
        if not days:
            raise ValueError("at least one weekday must be taught")
        return sorted(days)


class GetSchoolCalendarInput(BaseModel):
    org_id: uuid.UUID = Field(description="A campus: from list_organizations or whoami.")
    school_year: str = Field(description="e.g. '2026-27'.")

    @field_validator("school_year")
    @classmethod
    def _school_year(cls, value: str) -> str:
        school_year_bounds(value)
        return value.strip()


class ClosureRead(BaseModel):
    start: dt.date
    end: dt.date
    label: str | None = None


class SchoolCalendarRead(BaseModel):
    org_id: uuid.UUID
    campus: str
    school_year: str
    first_day: dt.date
    last_day: dt.date
    weekdays: list[int] = Field(description="1 (Mon) .. 7 (Sun).")
    closures: list[ClosureRead]
    school_days: int = Field(description="Instructional days: what attendance rates are measured against.")
    set_by_tool: bool = Field(
        description="False when the days were loaded without a calendar (first/last day read from the days)."
    )


class SchoolCalendarSet(SchoolCalendarRead):
    days_added: int = Field(description="School days that were not school days before.")
    days_removed: int = Field(description="Earlier school days of that year that no longer are.")
    attendance_records_off_calendar: int = Field(
        description="Attendance records on removed days: kept, no longer counted in attendance rates."
    )
