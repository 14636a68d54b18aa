"""The Texas requirement rows land in the database as data, once, with stable ids."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.demo.requirements import seed_tx_requirements, tx_requirement_rows
from db.models import ImmunizationRequirement
from domain.health.cdsi import load_map


def test_seeding_twice_inserts_the_texas_rows_once(session: Session) -> None:
    assert seed_tx_requirements(session) == 14
    assert seed_tx_requirements(session) == 0
    rows = session.execute(select(ImmunizationRequirement)).scalars().all()
    assert len(rows) == 14
    assert {r.jurisdiction for r in rows} == {"TX"}


def test_requirement_ids_are_the_same_on_every_run(session: Session) -> None:
    seed_tx_requirements(session)
    stored = set(session.execute(select(ImmunizationRequirement.id)).scalars())
    assert stored == {r.id for r in tx_requirement_rows()}


def test_conditions_survive_the_json_round_trip(session: Session) -> None:
    seed_tx_requirements(session)
    session.expire_all()
    booster = session.execute(
        select(ImmunizationRequirement).where(
            ImmunizationRequirement.antigen == "Tetanus", ImmunizationRequirement.grade_min == 7
        )
    ).scalar_one()
    assert booster.conditions["booster"]["within"] == "5 years"
    assert "115" in booster.conditions["booster"]["cvx_in"]


def test_every_row_names_a_cdsi_group_and_one_of_its_antigens() -> None:
    cdsi = load_map()
    for row in tx_requirement_rows():
        assert row.antigen in cdsi.groups[row.vaccine_group], row.vaccine_group
