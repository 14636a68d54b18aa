"""Dose histories for test students: a complete Texas series, as (date, CVX) pairs."""

from __future__ import annotations

import datetime as dt

from domain.health.cdsi import add_age

# (age at the dose, CVX): DTaP, IPV, MMR, HepB, varicella and HepA on the CDC routine schedule.
_CHILDHOOD: list[tuple[str, str]] = [
    ("2 months", "20"),
    ("4 months", "20"),
    ("6 months", "20"),
    ("15 months", "20"),
    ("4 years", "20"),
    ("2 months", "10"),
    ("4 months", "10"),
    ("6 months", "10"),
    ("4 years", "10"),
    ("12 months", "03"),
    ("4 years", "03"),
    ("0 days", "08"),
    ("1 month", "08"),
    ("6 months", "08"),
    ("12 months", "21"),
    ("4 years", "21"),
    ("12 months", "83"),
    ("18 months", "83"),
]
# Tdap and MenACWY at 11, as adolescents get them before 7th grade.
_ADOLESCENT: list[tuple[str, str]] = [("11 years", "115"), ("11 years", "114")]


def complete_series(birth_on: dt.date, *, adolescent: bool = False) -> list[tuple[dt.date, str]]:
    """Every dose a Texas student needs (with the age-11 doses when `adolescent`), in date order."""
    doses = _CHILDHOOD + (_ADOLESCENT if adolescent else [])
    return sorted((add_age(birth_on, age), cvx) for age, cvx in doses)
