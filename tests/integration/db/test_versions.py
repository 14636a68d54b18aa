"""Reference table versions (migration 0006): triggers replace the token on every kind of change."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.freshness import reference_version
from db.models import ImmunizationRequirement


def test_every_change_to_the_requirement_table_replaces_its_token(session: Session) -> None:
    seen = [reference_version(session, "immunization_requirement")]
    rule = ImmunizationRequirement(
        id=uuid.uuid4(),
        jurisdiction="ZZ",
        grade_min=0,
        grade_max=12,
        vaccine_group="MMR",
        antigen="Measles",
        min_doses=2,
        conditions={},
        effective_school_year="2025-2026",
        source_url="https://example.org/rules",
    )
    session.add(rule)
    session.flush()
    seen.append(reference_version(session, "immunization_requirement"))
    rule.min_doses = 3
    session.flush()
    seen.append(reference_version(session, "immunization_requirement"))
    # Raw SQL too: the trigger, not the ORM, keeps the token.
    session.execute(text("DELETE FROM immunization_requirement WHERE jurisdiction = 'ZZ'"))
    seen.append(reference_version(session, "immunization_requirement"))
    assert all(seen) and len(set(seen)) == 4


def test_a_table_without_a_version_row_has_no_version(session: Session) -> None:
    assert reference_version(session, "no_such_table") == ""
