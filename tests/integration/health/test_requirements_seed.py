"""The shipped requirement charts (Texas, Florida) are in every migrated database as data, with stable ids."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import ImmunizationRequirement
from db.reference.immunization_requirements import (
    fl_requirement_rows,
    requirement_rows,
    seed_requirements,
    tx_requirement_rows,
)
from domain.health.cdsi import load_map


def test_a_migrated_database_already_holds_the_texas_and_florida_charts(session: Session) -> None:
    rows = session.execute(select(ImmunizationRequirement)).scalars().all()
    assert {r.jurisdiction for r in rows} == {"TX", "FL"}
    assert {r.id for r in rows} == {r.id for r in tx_requirement_rows() + fl_requirement_rows()}
    assert seed_requirements(session) == 0, "seeding again inserts nothing"


def test_seeding_inserts_only_the_missing_chart(session: Session) -> None:
    session.execute(delete(ImmunizationRequirement).where(ImmunizationRequirement.jurisdiction == "FL"))
    assert seed_requirements(session) == len(fl_requirement_rows())
    assert seed_requirements(session) == 0


def test_a_chart_stored_under_its_iso_spelling_is_not_inserted_twice(session: Session) -> None:
    session.execute(delete(ImmunizationRequirement).where(ImmunizationRequirement.jurisdiction == "FL"))
    rows = requirement_rows("FL")
    for row in rows:
        row.jurisdiction = "US-FL"
    session.add_all(rows)
    session.flush()
    assert seed_requirements(session) == 0


def test_conditions_survive_the_json_round_trip(session: Session) -> None:
    session.expire_all()
    booster = session.execute(
        select(ImmunizationRequirement).where(
            ImmunizationRequirement.jurisdiction == "TX",
            ImmunizationRequirement.antigen == "Tetanus",
            ImmunizationRequirement.grade_min == 7,
        )
    ).scalar_one()
    assert booster.conditions["booster"]["within"] == "5 years"
    assert "115" in booster.conditions["booster"]["cvx_in"]
    tdap = session.execute(
        select(ImmunizationRequirement).where(
            ImmunizationRequirement.jurisdiction == "FL",
            ImmunizationRequirement.antigen == "Tetanus",
            ImmunizationRequirement.grade_min == 7,
        )
    ).scalar_one()
    assert tdap.conditions["booster"] == {"antigen": "Tetanus", "cvx_in": ["115"], "product_in": ["Tdap"]}


def test_every_row_names_a_cdsi_group_and_one_of_its_antigens() -> None:
    cdsi = load_map()
    for row in tx_requirement_rows() + fl_requirement_rows():
        assert row.antigen in cdsi.groups[row.vaccine_group], row.vaccine_group


def test_florida_requires_no_hepatitis_a_or_meningococcal_dose() -> None:
    groups = {r.vaccine_group for r in fl_requirement_rows()}
    assert groups == {"DTaP/Tdap/Td", "Polio", "MMR", "HepB", "Varicella"}
