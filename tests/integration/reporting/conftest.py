"""Helpers for the reporting tests: run SQL through the real runner as a persona, and what a persona may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from db.demo.personas import AUSTIN_PATH
from db.models import GuideAssignment, Organization, Student, User
from tools.runner import ToolCallError, run_tool


@dataclass
class Outcome:
    output: dict[str, Any] | None
    error: ToolCallError | None

    @property
    def rule(self) -> str | None:
        """The rule a refusal or failure names ('refused by rule 'x'' / 'stopped by rule 'x'')."""
        if self.error is None:
            return None
        message = self.error.message
        return message.split("rule '", 1)[1].split("'", 1)[0] if "rule '" in message else self.error.code


@pytest.fixture()
def run_sql(demo_deps, persona):
    """run_sql("guide_austin", "SELECT ...") -> Outcome, through tools.runner.run_tool."""

    def call(who: str, sql: str, **extra: Any) -> Outcome:
        try:
            result = run_tool(demo_deps, persona(who), "run_sql", {"sql": sql, **extra})
        except ToolCallError as err:
            return Outcome(None, err)
        return Outcome(result.output.model_dump(mode="json"), None)

    return call


@pytest.fixture()
def guide_view(demo_deps):
    """Ids the Austin guide may see, and values the guide must never see (other students, contact details)."""
    with demo_deps.session_factory() as s:
        guide_id = s.execute(select(User.id).where(User.email == "guide.austin@sis.example")).scalar_one()
        mine = set(
            s.execute(select(GuideAssignment.student_id).where(GuideAssignment.guide_user_id == guide_id)).scalars()
        )
        everyone = set(s.execute(select(Student.id)).scalars())
        secrets = set()
        for email, phone, address in s.execute(select(Student.email, Student.phone, Student.address)):
            secrets |= {v for v in (email, phone, address) if v}
        # Austin's ancestors are named by its parent_id, so only orgs off that line are foreign.
        outside_orgs = {
            org_id
            for org_id, path in s.execute(select(Organization.id, Organization.path))
            if not path.startswith(AUSTIN_PATH) and not AUSTIN_PATH.startswith(path)
        }
    return {
        "visible": {str(i) for i in mine},
        "forbidden_ids": {str(i) for i in everyone - mine} | {str(i) for i in outside_orgs},
        "secrets": secrets,
    }
