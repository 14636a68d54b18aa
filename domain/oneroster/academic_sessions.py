"""The academicSessions, terms and gradingPeriods collections, derived from offering periods.

A term per distinct offering period (session label, start, end) and a schoolYear above them,
named by the year it ends in. Their sourcedIds are stable uuid5s of that natural key. They are a
handful of rows: scoped in SQL, then filtered, sorted and paged here (`read_sessions`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from db.models import Organization, ProgramOffering
from domain.calendar import school_year, school_year_start
from domain.oneroster.filters import Filter, InvalidSelectionField, Kind, matches
from domain.oneroster.mapping import Refs, as_uuid, school_of, timestamp
from domain.oneroster.schemas import Collection, OneRosterQuery
from policies.scope import DataClass, Scope

# Stable ids of derived academic sessions (uuid5 of their natural key under this namespace).
SESSION_NAMESPACE = uuid.UUID("6f3d0a52-7a61-4a3e-9b1e-0e2f3c4d5a61")


def session_id(kind: str, *parts: object) -> uuid.UUID:
    """The stable sourcedId of a derived academic session."""
    return uuid.uuid5(SESSION_NAMESPACE, "|".join([kind, *map(str, parts)]))


def term_id(label: str, start_on: dt.date, end_on: dt.date | None) -> uuid.UUID:
    """The sourcedId of the term of an offering period (end None: a continuous offering's)."""
    return session_id("term", label, start_on.isoformat(), end_on.isoformat() if end_on else "open")


def shown_end(start_on: dt.date, end_on: dt.date | None, as_of: dt.date) -> dt.date:
    """The last day a term shows: its own, or for a continuous offering (no fixed end; OneRoster
    requires an endDate) the last day of the school year containing `as_of` (or its start, if later)."""
    if end_on is not None:
        return end_on
    return school_year(school_year_start(max(start_on, as_of)).year)[1]


SESSION_KINDS: dict[str, Kind] = {
    "sourcedId": Kind.UUID,
    "status": Kind.TEXT,
    "dateLastModified": Kind.DATETIME,
    "title": Kind.TEXT,
    "type": Kind.TEXT,
    "startDate": Kind.DATE,
    "endDate": Kind.DATE,
    "schoolYear": Kind.TEXT,
    "parent.sourcedId": Kind.UUID,
}


def _periods(
    session: Session, scope: Scope, school: str | None
) -> list[tuple[str, dt.date, dt.date | None, dt.datetime]]:
    """Distinct offering periods visible to the caller, with their latest modification."""
    stmt = (
        select(
            ProgramOffering.session_label,
            ProgramOffering.start_on,
            ProgramOffering.end_on,
            func.max(ProgramOffering.updated_at),
        )
        .join(Organization, Organization.id == ProgramOffering.org_id)
        .where(scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY))
        .group_by(ProgramOffering.session_label, ProgramOffering.start_on, ProgramOffering.end_on)
    )
    if school is not None:
        school_id = as_uuid(school)
        stmt = stmt.where(school_of(Organization) == school_id if school_id else false())
    return [(label, start, end, modified) for label, start, end, modified in session.execute(stmt)]


def term_period(session: Session, scope: Scope, ident: str) -> tuple[str, dt.date, dt.date | None] | None:
    """The (label, start, end) of the visible term whose sourcedId is `ident`, or None."""
    wanted = as_uuid(ident)
    for label, start, end, _ in _periods(session, scope, None):
        if term_id(label, start, end) == wanted:
            return label, start, end
    return None


def _session_rows(session: Session, scope: Scope, q: OneRosterQuery) -> list[dict[str, Any]]:
    """Flat rows of every visible term and school year (filterable fields plus what rendering needs)."""
    rows: list[dict[str, Any]] = []
    years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for label, start, stored_end, modified in _periods(session, scope, q.school_id):
        end = shown_end(start, stored_end, q.as_of)
        year = school_year_start(end).year + 1  # OneRoster names a school year by the year it ends in
        row = {
            "sourcedId": term_id(label, start, stored_end),
            "status": "active",
            "dateLastModified": modified,
            "title": label,
            "type": "term",
            "startDate": start,
            "endDate": end + dt.timedelta(days=1),
            "schoolYear": str(year),
            "parent.sourcedId": session_id("schoolYear", year),
            "children": [],
        }
        years[year].append(row)
        rows.append(row)
    for year, terms in years.items():
        rows.append(
            {
                "sourcedId": session_id("schoolYear", year),
                "status": "active",
                "dateLastModified": max(t["dateLastModified"] for t in terms),
                "title": f"School year {year - 1}-{year % 100:02d}",
                "type": "schoolYear",
                "startDate": min(t["startDate"] for t in terms),
                "endDate": max(t["endDate"] for t in terms),
                "schoolYear": str(year),
                "parent.sourcedId": None,
                "children": sorted((t["sourcedId"] for t in terms), key=str),
            }
        )
    return rows


def render_session(row: Mapping[str, Any], refs: Refs) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sourcedId": str(row["sourcedId"]),
        "status": row["status"],
        "dateLastModified": timestamp(row["dateLastModified"]),
        "title": row["title"],
        "startDate": row["startDate"].isoformat(),
        "endDate": row["endDate"].isoformat(),
        "type": row["type"],
        "schoolYear": row["schoolYear"],
        "children": [refs("academicSession", c) for c in row["children"]],
    }
    if row["parent.sourcedId"] is not None:
        item["parent"] = refs("academicSession", row["parent.sourcedId"])
    return item


def read_sessions(session: Session, scope: Scope, q: OneRosterQuery, parsed: Filter | None) -> tuple[int, list[Any]]:
    """Sessions are a handful of derived rows: scoped in SQL (_periods), then filtered and paged here."""
    wanted_type = {Collection.TERMS: "term", Collection.GRADING_PERIODS: "gradingPeriod"}.get(q.collection)
    if q.term_id is not None and q.collection is not Collection.GRADING_PERIODS:
        wanted_type = "nothing"
    rows = [
        r
        for r in _session_rows(session, scope, q)
        if (wanted_type is None or r["type"] == wanted_type) and matches(parsed, r, SESSION_KINDS)
    ]
    if q.sourced_id is not None:
        wanted = as_uuid(q.sourced_id)
        rows = [r for r in rows if r["sourcedId"] == wanted]
    sort = q.sort or "sourcedId"
    if sort not in SESSION_KINDS:
        raise InvalidSelectionField(f"cannot sort by {sort!r}; sortable: {', '.join(SESSION_KINDS)}", field="sort")
    rows.sort(key=lambda r: (r[sort] is None, str(r[sort]) if sort.endswith("sourcedId") else r[sort] or ""))
    if q.order_by == "desc":
        rows.reverse()
    return len(rows), rows
