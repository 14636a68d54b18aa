"""Texas K-12 school immunization requirements as ImmunizationRequirement rows.

One row per (grade band, vaccine group, antigen). A vaccine group is met only when every
row of that group for the student's grade is met, which is how MMR is treated as a whole
group (Measles, Mumps and Rubella each need their doses) and how the DTaP/Tdap/Td row
counts Tetanus *with* Diphtheria (DT and Td doses carry no pertussis, a tetanus-only toxoid
is not on the Texas chart).

Source: the DSHS chart "Texas Minimum State Vaccine Requirements for Students Grades K-12"
(25 TAC §97.63), transcribed in shared/reference/immunizations.md §1. Rows marked
unverified there (polio age-18 cutoff, HepB 2-dose adolescent option, MenACWY at age 10)
are deliberately not encoded.

The `conditions` JSON (checked by domain/health/requirements.py, interpreted by domain/health/rules.py); every key is optional:

    {
      "min_age": "1 year",
          # doses given before the student reached this age are not counted
          # ("1st dose on or after the 1st birthday", MenACWY "on or after the 11th birthday")
      "age_constraints": [
          {"count_at_least": 1, "on_or_after_age": "4 years"},
              # at least N counted doses were given on or after this age
          {"dose": 4, "on_or_after_age": "4 years"}
              # the Nth counted dose, in date order, was given on or after this age
      ],
      "alternatives": [
          {"min_doses": 3, "from_student_age": "7 years", "age_constraints": [...]}
              # also met with this many doses and these constraints (instead of the main ones),
              # when the student is at least `from_student_age` old on the as-of date
      ],
      "booster": {"antigen": "Tetanus", "within": "5 years",
                  "cvx_in": ["115", "09"], "product_in": ["Tdap", "Td"]},
          # additionally, a dose of `antigen` given on or after (as_of - within) whose CVX is
          # in `cvx_in` (or, for a record without CVX, whose product is in `product_in`);
          # the booster may itself be one of the counted doses (a Tdap, Td, Td catch-up series)
      "evidence": ["serology", "provider_history", "parent_history"]
          # ImmunityEvidence kinds accepted for this antigen in place of doses
    }

Ages and durations are CDSi-style text: "N years", "N months", "N weeks", "N days".
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import ImmunizationRequirement

JURISDICTION = "TX"
EFFECTIVE_SCHOOL_YEAR = "2024-25"
SOURCE_URL = "https://www.dshs.texas.gov/immunizations/school-and-child-care/school-requirements"
# Fixed so that ids are the same in every database the seed runs on.
REQUIREMENT_NAMESPACE = uuid.UUID("5c0f3e1e-7d2a-4b8e-9a51-3f4f6d1c2b7a")

K, GRADE_6, GRADE_7, GRADE_8, GRADE_12 = 0, 6, 7, 8, 12

# Tdap (115) and the Td variants of the CDSi 4.64 map; DT and DTaP are not boosters.
TDAP_TD_CVX = ["115", "09", "113", "138", "139", "196"]
TDAP_TD_PRODUCTS = ["Tdap", "Td"]

_DTAP_PRIMARY_K6: dict[str, Any] = {
    "age_constraints": [{"count_at_least": 1, "on_or_after_age": "4 years"}],
    "alternatives": [
        {"min_doses": 4, "age_constraints": [{"dose": 4, "on_or_after_age": "4 years"}]},
        {
            "min_doses": 3,
            "from_student_age": "7 years",
            "age_constraints": [{"count_at_least": 1, "on_or_after_age": "4 years"}],
        },
    ],
}


def _booster(within: str) -> dict[str, Any]:
    return {"antigen": "Tetanus", "within": within, "cvx_in": TDAP_TD_CVX, "product_in": TDAP_TD_PRODUCTS}


# (grade_min, grade_max, vaccine group, antigen, min doses, conditions)
_TX_ROWS: list[tuple[int, int, str, str, int, dict[str, Any]]] = [
    (K, GRADE_6, "DTaP/Tdap/Td", "Tetanus", 5, _DTAP_PRIMARY_K6),
    (K, GRADE_6, "DTaP/Tdap/Td", "Diphtheria", 5, _DTAP_PRIMARY_K6),
    (GRADE_7, GRADE_7, "DTaP/Tdap/Td", "Tetanus", 3, {"booster": _booster("5 years")}),
    (GRADE_7, GRADE_7, "DTaP/Tdap/Td", "Diphtheria", 3, {}),
    (GRADE_8, GRADE_12, "DTaP/Tdap/Td", "Tetanus", 3, {"booster": _booster("10 years")}),
    (GRADE_8, GRADE_12, "DTaP/Tdap/Td", "Diphtheria", 3, {}),
    (
        K,
        GRADE_12,
        "Polio",
        "Polio",
        4,
        {
            "age_constraints": [{"count_at_least": 1, "on_or_after_age": "4 years"}],
            "alternatives": [
                {"min_doses": 3, "age_constraints": [{"dose": 3, "on_or_after_age": "4 years"}]},
            ],
        },
    ),
    (K, GRADE_12, "MMR", "Measles", 2, {"min_age": "1 year", "evidence": ["serology"]}),
    (K, GRADE_12, "MMR", "Mumps", 2, {"min_age": "1 year", "evidence": ["serology"]}),
    (K, GRADE_12, "MMR", "Rubella", 2, {"min_age": "1 year", "evidence": ["serology"]}),
    (K, GRADE_12, "HepB", "HepB", 3, {"evidence": ["serology"]}),
    (
        K,
        GRADE_12,
        "Varicella",
        "Varicella",
        2,
        {"min_age": "1 year", "evidence": ["serology", "provider_history", "parent_history"]},
    ),
    (K, GRADE_12, "HepA", "HepA", 2, {"min_age": "1 year"}),
    (GRADE_7, GRADE_12, "Meningococcal", "Meningococcal", 1, {"min_age": "11 years"}),
]


def tx_requirement_rows() -> list[ImmunizationRequirement]:
    """The Texas K-12 rows, with deterministic ids, not yet added to any session."""
    rows = []
    for grade_min, grade_max, group, antigen, min_doses, conditions in _TX_ROWS:
        key = f"{JURISDICTION}|{EFFECTIVE_SCHOOL_YEAR}|{grade_min}-{grade_max}|{group}|{antigen}"
        rows.append(
            ImmunizationRequirement(
                id=uuid.uuid5(REQUIREMENT_NAMESPACE, key),
                jurisdiction=JURISDICTION,
                grade_min=grade_min,
                grade_max=grade_max,
                vaccine_group=group,
                antigen=antigen,
                min_doses=min_doses,
                # A copy per row: rows sharing one dict would share later edits.
                conditions=copy.deepcopy(conditions),
                effective_school_year=EFFECTIVE_SCHOOL_YEAR,
                source_url=SOURCE_URL,
            )
        )
    return rows


def seed_tx_requirements(session: Session) -> int:
    """Insert the Texas K-12 requirement rows unless TX rows exist; returns the number inserted."""
    existing = session.execute(
        select(func.count())
        .select_from(ImmunizationRequirement)
        .where(ImmunizationRequirement.jurisdiction == JURISDICTION)
    ).scalar_one()
    if existing:
        return 0
    rows = tx_requirement_rows()
    session.add_all(rows)
    session.flush()
    return len(rows)
