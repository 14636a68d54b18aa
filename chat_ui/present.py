"""Tool answers as things a person reads: tables (with CSV download), the trend chart, records, the banner.

A view is plain JSON the page renders with textContent only, so text from the database is never
interpreted as markup. Known tools get hand-picked columns; anything else (new tools such as
billing) falls back to the scalar fields of its rows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from policies.scope import CLASS_WORDS
from tools.identity import WhoamiRead

log = logging.getLogger("sis.chat")

View = dict[str, Any]
Cell = str | int | float | None


def grade_text(grade: Any) -> Cell:
    """'K' for kindergarten, 'Pre-K' for -1, the number otherwise."""
    if isinstance(grade, int):
        return {-1: "Pre-K", 0: "K"}.get(grade, grade)
    return grade  # type: ignore[no-any-return]


def money(cents: Any) -> Cell:
    """Integer cents as '$1,234.56'."""
    if not isinstance(cents, int):
        return cents  # type: ignore[no-any-return]
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) / 100:,.2f}"


def percent(rate: Any) -> Cell:
    """A 0..1 rate as '93.4%'."""
    return f"{rate * 100:.1f}%" if isinstance(rate, int | float) else rate


def table(title: str, columns: list[str], rows: list[list[Cell]], *, csv: str, total: int | None = None) -> View:
    """A table view; `total` is the number of matching rows when the page holds only some of them."""
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows) for i in range(len(columns))
    ]
    return {
        "kind": "table",
        "title": title,
        "columns": columns,
        "rows": rows,
        "numeric": numeric,
        "total": total if total is not None else len(rows),
        "csv": csv,
    }


def record(title: str, fields: Sequence[tuple[str, Cell]]) -> View:
    """A label/value view for one thing (a student, a caller)."""
    return {"kind": "record", "title": title, "fields": [[label, value] for label, value in fields]}


def _name(item: dict[str, Any]) -> str:
    """'Last, First'."""
    return f"{item.get('last_name', '')}, {item.get('first_name', '')}".strip(", ")


def _roster(out: dict[str, Any]) -> list[View]:
    """The roster as a table."""
    rows = [
        [
            i["student_number"],
            _name(i),
            grade_text(i["grade_level"]),
            i["campus"],
            i["program"],
            i["offering"],
            i["status"],
            i["start_on"],
            i["end_on"],
        ]
        for i in out["items"]
    ]
    columns = ["Student #", "Name", "Grade", "Campus", "Program", "Offering", "Status", "Start", "End"]
    return [table(f"Roster on {out['as_of']}", columns, rows, csv="roster.csv", total=out["total"])]


def _gap(group: dict[str, Any]) -> str:
    """One vaccine group's shortfall in words."""
    status = group["status"]
    detail = f"{group['doses_counted']}/{group['doses_required']} doses"
    if status == "exempt" and group.get("exemption_kind"):
        return f"{group['vaccine_group']}: exempt ({group['exemption_kind']}, {detail})"
    if status == "provisional" and group.get("provisional_due_on"):
        return f"{group['vaccine_group']}: provisional until {group['provisional_due_on']} ({detail})"
    return f"{group['vaccine_group']}: {status} ({detail})"


def _missing_immunizations(out: dict[str, Any]) -> list[View]:
    """Students with incomplete records, plus the compliance summary."""
    rows = [
        [
            i["student_number"],
            _name(i),
            grade_text(i["grade"]),
            i["campus_name"],
            i["status"],
            "; ".join(_gap(g) for g in i["groups"]),
        ]
        for i in out["items"]
    ]
    columns = ["Student #", "Name", "Grade", "Campus", "Status", "Vaccine groups short of requirements"]
    views = [
        table(
            f"Incomplete immunization records as of {out['as_of']}",
            columns,
            rows,
            csv="incomplete-immunizations.csv",
            total=out["total"],
        )
    ]
    summary = out.get("summary") or {}
    if summary:
        views.append(
            record(
                "Compliance summary",
                [
                    ("Students evaluated", summary.get("students_evaluated")),
                    ("Compliant", summary.get("compliant")),
                    ("Missing doses", summary.get("missing")),
                    ("Provisional", summary.get("provisional")),
                    ("Exempt", summary.get("exempt")),
                    ("Not evaluated", summary.get("not_evaluated")),
                ],
            )
        )
    return views


def _attendance_rows(out: dict[str, Any]) -> list[list[Cell]]:
    """Per-student attendance rows."""
    return [
        [
            i["student_number"],
            _name(i),
            grade_text(i["grade_level"]),
            i["membership_days"],
            i["present_days"],
            i["excused_absence_days"],
            i["unexcused_absence_days"],
            i["tardy_days"],
            percent(i["attendance_rate"]),
        ]
        for i in out["items"]
    ]


_ATTENDANCE_COLUMNS = ["Student #", "Name", "Grade", "School days", "Present", "Excused", "Unexcused", "Tardy", "Rate"]


def _chronic_absence(out: dict[str, Any]) -> list[View]:
    """Chronically absent students as a table."""
    title = f"Chronically absent, {out['start_on']} to {out['end_on']}"
    return [table(title, _ATTENDANCE_COLUMNS, _attendance_rows(out), csv="chronic-absence.csv", total=out["total"])]


def _attendance_summary(out: dict[str, Any]) -> list[View]:
    """Attendance totals and per-student rows."""
    totals = out.get("totals") or {}
    title = f"Attendance, {out['start_on']} to {out['end_on']}"
    return [
        record(
            "Totals",
            [
                ("Students", totals.get("students")),
                ("School days (membership)", totals.get("membership_days")),
                ("Days present", totals.get("present_days")),
                ("Days absent", totals.get("absent_days")),
                ("Attendance rate", percent(totals.get("attendance_rate"))),
            ],
        ),
        table(title, _ATTENDANCE_COLUMNS, _attendance_rows(out), csv="attendance.csv", total=out["total"]),
    ]


def _behavior(out: dict[str, Any]) -> list[View]:
    """Incidents as a table, descriptions as written."""
    rows = [
        [
            i["occurred_on"],
            i["student_number"],
            _name(i),
            i["category"],
            i["severity"],
            i["description"],
            i["action_taken"],
        ]
        for i in out["items"]
    ]
    columns = ["Date", "Student #", "Name", "Category", "Severity", "Description (as written by staff)", "Action"]
    return [table("Behavior incidents", columns, rows, csv="behavior-incidents.csv", total=out["total"])]


def _trend(out: dict[str, Any]) -> list[View]:
    """The trend as a line chart (one series per program when split) and its table."""
    points = out["points"]
    months = sorted({p["month"] for p in points})
    programs = sorted({p["program"] for p in points if p.get("program")})
    series: list[dict[str, Any]] = []
    if programs:
        for program in programs:
            by_month = {p["month"]: p["active_students"] for p in points if p.get("program") == program}
            series.append({"name": program, "values": [by_month.get(m, 0) for m in months]})
    else:
        by_month = {p["month"]: p["active_students"] for p in points}
        series.append({"name": "Enrolled students", "values": [by_month.get(m, 0) for m in months]})
    chart = {"kind": "chart", "title": "Enrollment by month", "x": months, "series": series, "y_label": "students"}
    columns = ["Month", "Measured on", "Enrolled students"] + (["Program"] if programs else [])
    rows: list[list[Cell]] = [
        [p["month"], p["measured_on"], p["active_students"]] + ([p.get("program")] if programs else []) for p in points
    ]
    return [chart, table("Enrollment by month", columns, rows, csv="enrollment-trend.csv")]


def _students(out: dict[str, Any]) -> list[View]:
    """Search results as a table."""
    rows = [
        [i["student_number"], _name(i), i.get("preferred_name"), grade_text(i["grade_level"]), i["campus"]]
        for i in out["items"]
    ]
    columns = ["Student #", "Name", "Preferred name", "Grade", "Campus"]
    return [table("Students found", columns, rows, csv="students.csv", total=out["total"])]


def _profile(out: dict[str, Any]) -> list[View]:
    """A student profile as a record and an enrollment-history table."""
    fields: list[tuple[str, Cell]] = [
        ("Name", f"{out['first_name']} {out['last_name']}"),
        ("Preferred name", out.get("preferred_name")),
        ("Student #", out["student_number"]),
        ("Grade", grade_text(out["grade_level"])),
        ("Campus", out["campus"]),
        ("Birth date", out.get("birth_on")),
        ("Email", out.get("email")),
        ("Phone", out.get("phone")),
        ("Address", out.get("address")),
        ("Households", len(out.get("household_ids") or [])),
    ]
    kept = [(label, value) for label, value in fields if value is not None]
    if out.get("hidden"):
        kept.append(("Withheld for your role", ", ".join(out["hidden"])))
    rows = [
        [grade_text(e["grade_level"]), e["start_on"], e["end_on"], e["status"], e.get("exit_reason")]
        for e in out.get("enrollments") or []
    ]
    return [
        record("Student profile", kept),
        table("Enrollment history", ["Grade", "Start", "End", "Status", "Exit reason"], rows, csv="enrollments.csv"),
    ]


def _immunization_history(out: dict[str, Any]) -> list[View]:
    """A student's doses and, when evaluated, compliance per vaccine group."""
    rows = [
        [r["administered_on"], r["vaccine_group"], r.get("cvx_code"), r.get("cvx_description"), r.get("source")]
        for r in out["records"]
    ]
    views = [
        table(
            f"Immunizations of {out['first_name']} {out['last_name']}",
            ["Given on", "Vaccine group", "CVX", "Product", "Source"],
            rows,
            csv="immunizations.csv",
        )
    ]
    if out.get("compliance"):
        views.append(
            table(
                f"Compliance as of {out.get('as_of')}",
                ["Vaccine group", "Status", "Doses", "Required", "Reason"],
                [
                    [g["vaccine_group"], g["status"], g["doses_counted"], g["doses_required"], g["reason"]]
                    for g in out["compliance"]
                ],
                csv="compliance.csv",
            )
        )
    return views


def _offerings(out: dict[str, Any]) -> list[View]:
    """Program offerings as a table."""
    rows = [
        [
            i["program"],
            i["name"],
            i["campus"],
            i["session_label"],
            i["status"],
            f"{grade_text(i['grade_min'])}-{grade_text(i['grade_max'])}",
            i["seats_taken"],
            i["capacity"],
            money(i["tuition_cents"]),
        ]
        for i in out["items"]
    ]
    columns = ["Program", "Offering", "Campus", "Session", "Status", "Grades", "Seats taken", "Capacity", "Tuition"]
    return [table("Program offerings", columns, rows, csv="offerings.csv", total=out["total"])]


def _balances(out: dict[str, Any]) -> list[View]:
    """Outstanding balances as a table of households."""
    rows = [
        [
            i["household_name"],
            i["campus"],
            money(i["balance_cents"]),
            money(i["overdue_cents"]),
            i.get("oldest_overdue_on"),
        ]
        for i in out["items"]
    ]
    columns = ["Household", "Campus", "Balance", "Overdue", "Oldest overdue since"]
    title = f"Outstanding balances over {money(out['over_cents'])} as of {out['as_of']}"
    return [table(title, columns, rows, csv="outstanding-balances.csv", total=out["total"])]


def _whoami(out: dict[str, Any]) -> list[View]:
    """The caller as a record."""
    return [
        record(
            "You",
            [
                ("Name", out["display_name"]),
                ("Email", out["email"]),
                ("Roles", ", ".join(f"{r['role']} at {r['org_path']}" for r in out["roles"])),
                ("Campuses", ", ".join(c["name"] for c in out["campuses"])),
                ("You may read", ", ".join(sorted(out["readable"]))),
                ("Limited to assigned students", "yes" if out["guide_limited"] else "no"),
            ],
        )
    ]


_PRESENTERS: dict[str, Callable[[dict[str, Any]], list[View]]] = {
    "query_roster": _roster,
    "find_missing_immunizations": _missing_immunizations,
    "find_chronic_absence": _chronic_absence,
    "attendance_summary": _attendance_summary,
    "list_behavior_incidents": _behavior,
    "enrollment_trend": _trend,
    "search_students": _students,
    "get_student": _profile,
    "get_immunization_history": _immunization_history,
    "list_offerings": _offerings,
    "list_outstanding_balances": _balances,
    "whoami": _whoami,
}


def _is_id(key: str, value: Any) -> bool:
    """True for id fields and UUID values (noise in a table for people)."""
    if key == "id" or key.endswith("_id") or key.endswith("_ids"):
        return True
    if isinstance(value, str):
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return len(value) == 36
    return False


def _label(key: str) -> str:
    """A field name as a column label ('balance_cents' -> 'Balance')."""
    words = key.removesuffix("_cents").replace("_", " ")
    return words[:1].upper() + words[1:]


def _cell(key: str, value: Any) -> Cell:
    """A field value as a table cell."""
    if key.endswith("_cents"):
        return money(value)
    if key in {"grade", "grade_level"}:
        return grade_text(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if not isinstance(v, dict | list)) or (f"{len(value)}" if value else "")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if not isinstance(v, dict | list))
    return value  # type: ignore[no-any-return]


def generic_views(name: str, out: dict[str, Any]) -> list[View]:
    """Views of any tool's answer: its row lists as tables, its other scalar fields as a record."""
    views: list[View] = []
    title = name.replace("_", " ").capitalize()
    for key, value in out.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            keys = [k for k, v in value[0].items() if not _is_id(k, v) and not isinstance(v, dict | list)]
            keys += [k for k, v in value[0].items() if isinstance(v, list) and not _is_id(k, v)]
            rows = [[_cell(k, item.get(k)) for k in keys] for item in value]
            total = out.get("total") if key == "items" and isinstance(out.get("total"), int) else None
            label = title if key == "items" else f"{title}: {_label(key).lower()}"
            views.append(table(label, [_label(k) for k in keys], rows, csv=f"{name}-{key}.csv", total=total))
    scalars = [
        (_label(k), _cell(k, v))
        for k, v in out.items()
        if not isinstance(v, list | dict) and not _is_id(k, v) and k not in {"limit", "offset", "next_offset"}
    ]
    nested = [(k, v) for k, v in out.items() if isinstance(v, dict)]
    for key, value in nested:
        scalars += [
            (f"{_label(key)}: {_label(k).lower()}", _cell(k, v)) for k, v in value.items() if not isinstance(v, dict)
        ]
    if scalars:
        views.insert(0, record(title, scalars))
    return views


def views_for(name: str, output: BaseModel) -> list[View]:
    """How the page shows one tool answer."""
    dumped = output.model_dump(mode="json")
    presenter = _PRESENTERS.get(name)
    if presenter is not None:
        try:
            return presenter(dumped)
        except (KeyError, TypeError):
            # The page still shows the answer, less tidily; the log says which presenter fell behind the tool.
            log.error("the %s presenter does not fit the tool's output; showing generic views", name, exc_info=True)
            return generic_views(name, dumped)
    return generic_views(name, dumped)


def _class_words(data_class: str) -> str:
    """A data class in words ('health' -> 'health records'); an unknown one by its own name."""
    known = {dc.value: words for dc, words in CLASS_WORDS.items()}
    return known.get(data_class, data_class)


def _places(paths: list[str], campuses: dict[str, str]) -> str:
    """Org paths as campus names where known."""
    names = []
    for path in paths:
        name = campuses.get(path)
        if name is None:
            slug = [p for p in path.split("/") if p]
            name = "the whole network" if len(slug) <= 1 else f"everything under {slug[-1]}"
        names.append(name)
    return ", ".join(sorted(set(names)))


def banner(whoami: dict[str, Any]) -> dict[str, Any]:
    """Who the caller is and what they may see, in sentences for the page's banner (from whoami's answer)."""
    who = WhoamiRead.model_validate(whoami)
    campuses = {c.path: c.name for c in who.campuses}
    roles = ", ".join(f"{r.role.replace('_', ' ')} ({_places([r.org_path], campuses)})" for r in who.roles)
    may_see = [f"{_class_words(k)} at {_places(v, campuses)}" for k, v in sorted(who.readable.items())]
    hidden = [words for dc, words in CLASS_WORDS.items() if dc.value not in who.readable]
    lines = [f"Signed in as {who.display_name} ({who.email}), {roles or 'no role'}."]
    lines.append("You may see " + ("; ".join(may_see) if may_see else "nothing yet: ask an administrator") + ".")
    if who.guide_limited:
        lines.append("Student data is limited to the students assigned to you.")
    if hidden:
        lines.append("Not visible to your role: " + ", ".join(hidden) + ".")
    if who.token_scopes is not None:
        lines.append("Your API key is limited to: " + ", ".join(who.token_scopes) + ".")
    return {
        "name": who.display_name,
        "email": who.email,
        "roles": [r.role for r in who.roles],
        "campuses": [c.name for c in who.campuses],
        "lines": lines,
        "today": who.today,
    }
