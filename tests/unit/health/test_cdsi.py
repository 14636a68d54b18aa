"""The shipped CDSi map: codes, combination vaccines, normalisation, age windows, provenance."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from domain.health.cdsi import MAP_PATH, add_age, build_map_from_xml, load_map, normalise_cvx, subtract_age

CDSI_XML = Path(__file__).resolve().parents[2] / "data" / "cdsi" / "ScheduleSupportingData.xml"


def test_map_holds_the_218_cdsi_4_64_codes() -> None:
    cdsi = load_map()
    assert len(cdsi.cvx) == 218
    assert cdsi.version == "4.64"


def test_cvx_110_expands_to_diphtheria_tetanus_pertussis_hepb_and_polio() -> None:
    antigens = load_map().cvx_antigens("110", dt.date(2015, 1, 1), dt.date(2015, 3, 1))
    assert antigens is not None
    assert set(antigens) == {"Diphtheria", "Tetanus", "Pertussis", "HepB", "Polio"}


def test_one_digit_codes_normalise_to_two_digits() -> None:
    assert normalise_cvx("3") == "03"
    assert normalise_cvx(" 08 ") == "08"
    assert normalise_cvx("115") == "115"
    assert load_map().is_known_cvx("3")


def test_unknown_cvx_is_reported_as_unknown_rather_than_empty() -> None:
    assert load_map().cvx_antigens("999", dt.date(2015, 1, 1), dt.date(2016, 1, 1)) is None
    assert not load_map().is_known_cvx("ABC")


def test_mmr_is_administered_as_a_full_group_and_dtap_is_not() -> None:
    cdsi = load_map()
    assert cdsi.groups["MMR"] == ("Measles", "Mumps", "Rubella")
    assert cdsi.full_group["MMR"] is True
    assert cdsi.full_group["DTaP/Tdap/Td"] is False


def test_zoster_live_counts_as_varicella_only_before_age_50() -> None:
    cdsi = load_map()
    birth = dt.date(1960, 6, 1)
    assert cdsi.cvx_antigens("121", birth, dt.date(2009, 5, 31)) == ("Varicella",)
    assert cdsi.cvx_antigens("121", birth, dt.date(2010, 6, 1)) == ("Zoster",)


def test_combination_codes_store_under_their_first_antigens_group() -> None:
    cdsi = load_map()
    assert cdsi.primary_group_of_cvx("110") == "DTaP/Tdap/Td"
    assert cdsi.primary_group_of_cvx("94") == "MMR"
    assert cdsi.canonical_group("mmr") == "MMR"


@pytest.mark.parametrize(
    ("start", "age", "expected"),
    [
        (dt.date(2020, 3, 15), "4 years", dt.date(2024, 3, 15)),
        (dt.date(2020, 2, 29), "1 year", dt.date(2021, 3, 1)),
        (dt.date(2020, 1, 31), "1 month", dt.date(2020, 3, 1)),
        (dt.date(2020, 3, 15), "4 years - 4 days", dt.date(2024, 3, 11)),
        (dt.date(2020, 3, 15), "2 weeks", dt.date(2020, 3, 29)),
    ],
)
def test_ages_follow_cdsi_date_arithmetic(start: dt.date, age: str, expected: dt.date) -> None:
    assert add_age(start, age) == expected


def test_subtracting_a_duration_goes_back_in_time() -> None:
    assert subtract_age(dt.date(2025, 9, 1), "5 years") == dt.date(2020, 9, 1)


def test_malformed_ages_are_rejected() -> None:
    with pytest.raises(ValueError, match="not an age"):
        add_age(dt.date(2020, 1, 1), "four years")


def test_shipped_json_is_what_the_generator_builds_from_the_cdc_xml() -> None:
    shipped = json.loads(MAP_PATH.read_text(encoding="utf-8"))
    assert shipped == build_map_from_xml(CDSI_XML)
