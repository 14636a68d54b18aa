"""The activity stages: this year's school days and attendance, then behavior incidents.

Attendance rows exist only for non-present days; incidents fall on days the student attended,
and one of them carries the planted prompt-injection text.
"""

from __future__ import annotations

import datetime as dt
import uuid

from db.demo.builder import DemoBuilder, Kid
from db.demo.calendar import at, instructional_days
from db.demo.texts import EXCUSE_NOTES, INJECTION_DESCRIPTION, PROMPT_INJECTION_TEXT, incident_text
from db.models import AttendanceRecord, AttendanceStatus, BehaviorIncident, SchoolDay, Severity


def build_attendance(b: DemoBuilder) -> None:
    """School days so far this year; one row per non-present day (no row on a school day = present)."""
    for spec in b.full_sis():
        for day in b.calendar(spec.slug):
            b.rows[SchoolDay].append({"org_id": b.campus(spec.slug).id, "day_on": day})
    for kid in b.kids:
        days: list[tuple[str, dt.date]] = []
        for slug, start, end in kid.membership:
            last = min(end or b.today, b.today)
            days += [(slug, d) for d in b.calendar(slug) if start <= d <= last]
        if not days:
            continue
        chronic = len(days) >= 20 and b.chance(0.1)
        if chronic:
            absent = int(len(days) * b.rng.uniform(0.13, 0.3)) + 1
            tardy = b.rng.randint(2, 8)
        else:
            absent = min(sum(b.chance(0.03) for _ in days), int(len(days) * 0.08))
            tardy = sum(b.chance(0.035) for _ in days)
        picked = b.rng.sample(days, min(len(days), absent + tardy))
        absent_days = set(b.rng.sample(picked, min(absent, len(picked))))
        for slug, day in sorted(picked):
            if (slug, day) in absent_days:
                excused = b.chance(0.4 if chronic else 0.6)
                status = AttendanceStatus.EXCUSED_ABSENCE if excused else AttendanceStatus.UNEXCUSED_ABSENCE
                note = b.rng.choice(EXCUSE_NOTES) if excused else None
            else:
                status, note = AttendanceStatus.TARDY, b.rng.choice(("Traffic", "Overslept", None))
            b.rows[AttendanceRecord].append(
                {
                    "student_id": kid.id,
                    "org_id": b.campus(slug).id,
                    "day_on": day,
                    "status": status,
                    "note": note,
                    "recorded_by_user_id": b.registrar_of(slug),
                    "recorded_at": at(day, 14, b.rng.randint(0, 59)),
                }
            )


def build_behavior(b: DemoBuilder) -> None:
    """A few hundred teacher-written incidents this year, concentrated on a few students."""
    absent = {
        (row["student_id"], row["day_on"])
        for row in b.rows[AttendanceRecord]
        if row["status"] is not AttendanceStatus.TARDY
    }
    kids = [k for k in b.kids if k.membership]
    weights = [8 if b.chance(0.08) else (1 if b.chance(0.5) else 0) for _ in kids]
    # About one incident per 120 student-days so far: a few hundred by late fall.
    days_so_far = len(instructional_days(b.current, b.today))
    target = max(2, round(len(kids) * days_so_far / 120))
    austin = next(k for k in kids if k.campus.slug == "austin" and b.active_today(k) and k.grade >= 6)
    incident(
        b,
        austin,
        "technology misuse",
        Severity.LOW,
        INJECTION_DESCRIPTION.format(name=austin.first_name, text=PROMPT_INJECTION_TEXT),
        "Reviewed the acceptable-use policy with the student",
    )
    for kid in b.rng.choices(kids, weights=weights, k=target - 1):
        category, severity, description, action = incident_text(b.rng, kid.first_name)
        incident(b, kid, category, severity, description, action, absent)


def incident(
    b: DemoBuilder,
    kid: Kid,
    category: str,
    severity: Severity,
    description: str,
    action: str,
    absent: set[tuple[uuid.UUID, dt.date]] | None = None,
) -> None:
    """A behavior incident on a day the student attended, reported by campus staff."""
    days = [
        (slug, day)
        for slug, start, end in kid.membership
        for day in b.calendar(slug)
        if start <= day <= min(end or b.today, b.today) and (kid.id, day) not in (absent or set())
    ]
    if not days:
        return
    slug, day = b.rng.choice(days)
    reporters = b.staff[(slug, "guide")] + b.staff[(slug, "campus_director")]
    b.rows[BehaviorIncident].append(
        {
            "id": b.uid(),
            "student_id": kid.id,
            "org_id": b.campus(slug).id,
            "occurred_on": day,
            "category": category,
            "severity": severity,
            "description": description,
            "action_taken": action,
            "reported_by_user_id": b.rng.choice(reporters),
            "recorded_at": at(day, 21, b.rng.randint(0, 59)),
        }
    )
