"""The demo's Miami campus (Florida) is evaluated under Florida's rules, through the runner."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from db.models import Enrollment, EnrollmentStatus, ImmunizationRecord, Organization
from tools.runner import ToolCallError, run_tool


def _miami(demo_deps) -> str:
    with demo_deps.session_factory() as s:
        return str(s.execute(select(Organization.id).where(Organization.slug == "miami")).scalar_one())


def test_miami_students_are_evaluated_under_florida_rules_not_warned_about(demo_deps, persona):
    page = run_tool(
        demo_deps, persona("registrar_miami"), "find_missing_immunizations", {"org_id": _miami(demo_deps), "limit": 500}
    ).data
    assert page["warnings"] == []
    assert page["summary"]["not_evaluated"] == 0 and page["summary"]["students_evaluated"] > 50
    assert page["items"] and {i["jurisdiction"] for i in page["items"]} == {"FL"}
    groups = {g["vaccine_group"] for i in page["items"] for g in i["groups"]}
    assert not groups & {"HepA", "Meningococcal"}, "Florida requires neither for K-12"


def test_a_miami_seventh_grader_missing_tdap_is_listed(demo_deps, persona):
    miami = _miami(demo_deps)
    with demo_deps.session_factory.begin() as s:
        # A Miami 7th grader whose only gap will be the Tdap dose: her record of it was never received.
        tdap = s.execute(
            select(ImmunizationRecord)
            .join(Enrollment, Enrollment.student_id == ImmunizationRecord.student_id)
            .where(
                Enrollment.org_id == uuid.UUID(miami),
                Enrollment.grade_level == 7,
                Enrollment.status == EnrollmentStatus.ACTIVE,
                ImmunizationRecord.cvx_code == "115",
            )
            .limit(1)
        ).scalar_one()
        student_id = str(tdap.student_id)
        s.delete(tdap)
    page = run_tool(
        demo_deps,
        persona("registrar_miami"),
        "find_missing_immunizations",
        {"org_id": miami, "grade": 7, "limit": 500},
    ).data
    assert page["warnings"] == []
    (listed,) = [i for i in page["items"] if i["student_id"] == student_id]
    dtap = next(g for g in listed["groups"] if g["vaccine_group"] == "DTaP/Tdap/Td")
    assert dtap["status"] == "missing" and "no Tdap dose on record" in dtap["reason"]


def test_the_austin_registrar_cannot_see_miami_compliance(demo_deps, persona):
    try:
        run_tool(demo_deps, persona("registrar_austin"), "find_missing_immunizations", {"org_id": _miami(demo_deps)})
    except ToolCallError as refused:
        assert refused.code == "not_found" and refused.field == "org_id"
    else:
        raise AssertionError("Miami answered for the Austin registrar")
