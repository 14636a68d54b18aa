"""School immunization requirements as ImmunizationRequirement rows: Texas and Florida, grades K-12.

One row per (grade band, vaccine group, antigen). A vaccine group is met only when every
row of that group for the student's grade is met, which is how MMR is treated as a whole
group (Measles, Mumps and Rubella each need their doses) and how the DTaP/Tdap/Td row
counts Tetanus *with* Diphtheria (DT and Td doses carry no pertussis, a tetanus-only toxoid
is not on either chart).

These charts are reference data every database needs, not demo data: migration 0014 inserts
them (a fresh `sis init` database and the demo alike), and `define_immunization_requirement`
adds later charts. Rows are stored under bare state codes ("TX", "FL"); lookups accept
"US-TX" as well (domain/health/requirements.py `jurisdiction_key`).

Texas: the DSHS chart "Texas Minimum State Vaccine Requirements for Students Grades K-12"
(25 TAC §97.63), transcribed in shared/reference/immunizations.md §1. Rows marked unverified
there (polio age-18 cutoff, HepB 2-dose adolescent option, MenACWY at age 10) are deliberately
not encoded.

Florida: Florida Administrative Code 64D-3.046 and the Florida Certification of Immunization
(DH 680), as the Department of Health lists them for K-12 entry: DTaP 4-5 doses, polio 4-5
(the 5th only for kindergarten when the 4th came before the 4th birthday), MMR 2, hepatitis B
3, varicella 2 (or a provider-documented history of the disease), and from 7th grade one Tdap.
Transcribed from district pages quoting the DOH list (see docs/running/health.md); no
hepatitis A or meningococcal requirement for K-12.

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
          # the booster may itself be one of the counted doses (a Tdap, Td, Td catch-up series);
          # without "within", such a dose given at any time (Florida: one Tdap dose)
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

# Fixed so that ids are the same in every database the rows are inserted into.
REQUIREMENT_NAMESPACE = uuid.UUID("5c0f3e1e-7d2a-4b8e-9a51-3f4f6d1c2b7a")

TX_EFFECTIVE_SCHOOL_YEAR = "2024-25"
TX_SOURCE_URL = "https://www.dshs.texas.gov/immunizations/school-and-child-care/school-requirements"
FL_EFFECTIVE_SCHOOL_YEAR = "2024-25"
FL_SOURCE_URL = (
    "https://www.floridahealth.gov/programs-and-services/immunization/children-and-adolescents/"
    "school-immunization-requirements/index.html"
)

K, GRADE_1, GRADE_6, GRADE_7, GRADE_8, GRADE_12 = 0, 1, 6, 7, 8, 12

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


Row = tuple[int, int, str, str, int, dict[str, Any]]

# (grade_min, grade_max, vaccine group, antigen, min doses, conditions)
_TX_ROWS: list[Row] = [
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

# Florida DTaP: five doses, or four when the 4th was given on or after the 4th birthday.
_FL_DTAP: dict[str, Any] = {
    "age_constraints": [{"count_at_least": 1, "on_or_after_age": "4 years"}],
    "alternatives": [{"min_doses": 4, "age_constraints": [{"dose": 4, "on_or_after_age": "4 years"}]}],
}
# From 7th grade, in addition: one Tdap dose, at any age (Florida sets no "within the last N years").
_FL_DTAP_TDAP: dict[str, Any] = {
    **_FL_DTAP,
    "booster": {"antigen": "Tetanus", "cvx_in": ["115"], "product_in": ["Tdap"]},
}
# Three doses suffice when the 3rd was given on or after the 4th birthday (the final IPV dose rule).
_FL_POLIO_THREE = {"min_doses": 3, "age_constraints": [{"dose": 3, "on_or_after_age": "4 years"}]}

_FL_ROWS: list[Row] = [
    (K, GRADE_6, "DTaP/Tdap/Td", "Tetanus", 5, _FL_DTAP),
    (K, GRADE_6, "DTaP/Tdap/Td", "Diphtheria", 5, _FL_DTAP),
    (GRADE_7, GRADE_12, "DTaP/Tdap/Td", "Tetanus", 5, _FL_DTAP_TDAP),
    (GRADE_7, GRADE_12, "DTaP/Tdap/Td", "Diphtheria", 5, _FL_DTAP),
    # Kindergarten entry: a 5th polio dose when the 4th came before the 4th birthday.
    (
        K,
        K,
        "Polio",
        "Polio",
        4,
        {
            "age_constraints": [{"dose": 4, "on_or_after_age": "4 years"}],
            "alternatives": [{"min_doses": 5}, _FL_POLIO_THREE],
        },
    ),
    (GRADE_1, GRADE_12, "Polio", "Polio", 4, {"alternatives": [_FL_POLIO_THREE]}),
    (K, GRADE_12, "MMR", "Measles", 2, {"min_age": "1 year", "evidence": ["serology"]}),
    (K, GRADE_12, "MMR", "Mumps", 2, {"min_age": "1 year", "evidence": ["serology"]}),
    (K, GRADE_12, "MMR", "Rubella", 2, {"min_age": "1 year", "evidence": ["serology"]}),
    (K, GRADE_12, "HepB", "HepB", 3, {"evidence": ["serology"]}),
    # Not required with a history of the disease documented by a health care provider; no parent statement.
    (K, GRADE_12, "Varicella", "Varicella", 2, {"min_age": "1 year", "evidence": ["serology", "provider_history"]}),
]

# jurisdiction -> (effective school year, source, rows)
CHARTS: dict[str, tuple[str, str, list[Row]]] = {
    "TX": (TX_EFFECTIVE_SCHOOL_YEAR, TX_SOURCE_URL, _TX_ROWS),
    "FL": (FL_EFFECTIVE_SCHOOL_YEAR, FL_SOURCE_URL, _FL_ROWS),
}


def requirement_id(
    jurisdiction: str, school_year: str, grade_min: int, grade_max: int, group: str, antigen: str
) -> uuid.UUID:
    """The deterministic id of one chart row (the same in every database)."""
    key = f"{jurisdiction}|{school_year}|{grade_min}-{grade_max}|{group}|{antigen}"
    return uuid.uuid5(REQUIREMENT_NAMESPACE, key)


def requirement_rows(jurisdiction: str) -> list[ImmunizationRequirement]:
    """One jurisdiction's shipped rows, with deterministic ids, not yet added to any session."""
    school_year, source_url, chart = CHARTS[jurisdiction]
    return [
        ImmunizationRequirement(
            id=requirement_id(jurisdiction, school_year, grade_min, grade_max, group, antigen),
            jurisdiction=jurisdiction,
            grade_min=grade_min,
            grade_max=grade_max,
            vaccine_group=group,
            antigen=antigen,
            min_doses=min_doses,
            # A copy per row: rows sharing one dict would share later edits.
            conditions=copy.deepcopy(conditions),
            effective_school_year=school_year,
            source_url=source_url,
        )
        for grade_min, grade_max, group, antigen, min_doses, conditions in chart
    ]


def tx_requirement_rows() -> list[ImmunizationRequirement]:
    """The Texas K-12 rows."""
    return requirement_rows("TX")


def fl_requirement_rows() -> list[ImmunizationRequirement]:
    """The Florida K-12 rows."""
    return requirement_rows("FL")


def seed_requirements(session: Session) -> int:
    """Insert each shipped chart whose jurisdiction has no rows yet; returns the number inserted."""
    inserted = 0
    for jurisdiction in CHARTS:
        existing = session.execute(
            select(func.count())
            .select_from(ImmunizationRequirement)
            .where(ImmunizationRequirement.jurisdiction.in_([jurisdiction, f"US-{jurisdiction}"]))
        ).scalar_one()
        if existing:
            continue
        rows = requirement_rows(jurisdiction)
        session.add_all(rows)
        inserted += len(rows)
    session.flush()
    return inserted
