"""Immunization histories for demo students: routine CDC-schedule doses dated by age, and their gaps.

Also the cycles of exemption, immunity-evidence and provisional-enrollment cases the demo's
health stage hands out, so every compliance state the health report knows appears in the data.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from db.models import ExemptionKind

DTAP = "DTaP/Tdap/Td"
POLIO = "Polio"
MMR = "MMR"
HEPB = "HepB"
VARICELLA = "Varicella"
HEPA = "HepA"
MENINGOCOCCAL = "Meningococcal"


@dataclass(frozen=True, slots=True)
class Dose:
    """One recorded dose: CDSi vaccine group, CVX (None for paper records), product, date."""

    group: str
    cvx: str | None
    product: str | None
    on: dt.date


def immunization_history(
    rng: random.Random,
    birth_on: dt.date,
    as_of: dt.date,
    *,
    combination: bool = False,
    preschool_combination: bool = False,
    mmrv: bool = False,
    group_only: bool = False,
) -> list[Dose]:
    """A child's routine CDC-schedule doses given up to `as_of`, dated by age.

    `combination` gives the 2/4/6-month DTaP, polio and HepB as DTaP-HepB-IPV (CVX 110);
    `preschool_combination` the 4-6 year DTaP and polio as DTaP-IPV (CVX 130); `mmrv` the
    4-6 year MMR and varicella as MMRV (CVX 94); `group_only` drops CVX codes, as on
    transcribed paper records.
    """

    def age(lo: int, hi: int) -> dt.date:
        return birth_on + dt.timedelta(days=rng.randint(lo, hi))

    dtap_cvx = rng.choice(("20", "106"))
    doses = [Dose(HEPB, "08", None, age(0, 2))]
    infant = [age(56, 75), age(118, 140), age(180, 210)]
    if combination and not group_only:
        doses += [Dose(DTAP, "110", "DTaP", day) for day in infant]
    else:
        doses += [Dose(DTAP, dtap_cvx, "DTaP", day) for day in infant]
        doses += [Dose(POLIO, "10", None, infant[0]), Dose(POLIO, "10", None, infant[1])]
        doses.append(Dose(POLIO, "10", None, age(180, 540)))
        doses += [Dose(HEPB, "08", None, age(30, 62)), Dose(HEPB, "08", None, age(180, 540))]
    doses.append(Dose(DTAP, dtap_cvx, "DTaP", age(450, 545)))
    first_birthday = age(365, 455)
    doses += [Dose(MMR, "03", None, first_birthday), Dose(VARICELLA, "21", None, first_birthday)]
    hepa = age(365, 700)
    doses += [Dose(HEPA, "83", None, hepa), Dose(HEPA, "83", None, hepa + dt.timedelta(days=rng.randint(180, 365)))]
    kinder = age(1641, 2000)  # the 4-6 year visit, usually just before kindergarten
    if preschool_combination and not group_only:
        doses.append(Dose(DTAP, "130", "DTaP", kinder))
    else:
        doses += [Dose(DTAP, dtap_cvx, "DTaP", kinder), Dose(POLIO, "10", None, kinder)]
    if mmrv and not group_only:
        doses.append(Dose(MMR, "94", None, kinder))
    else:
        doses += [Dose(MMR, "03", None, kinder), Dose(VARICELLA, "21", None, kinder)]
    preteen = age(4018, 4600)  # the 11-12 year visit
    doses += [Dose(DTAP, "115", "Tdap", preteen), Dose(MENINGOCOCCAL, "114", None, preteen)]
    if group_only:
        doses = [Dose(d.group, None, d.product, d.on) for d in doses]
    return sorted((d for d in doses if d.on <= as_of), key=lambda d: (d.on, d.group))


# Gap kinds: the last dose of a series never given, a whole group skipped, or no preteen Tdap.
_SERIES_GROUPS = (DTAP, POLIO, MMR, HEPB, VARICELLA, HEPA)


def with_gap(rng: random.Random, doses: list[Dose], grade: int) -> tuple[list[Dose], str]:
    """Remove doses to create a realistic gap; returns the doses kept and the group left short."""
    roll = rng.random()
    if roll < 0.2 and grade >= 7 and any(d.cvx == "115" or d.product == "Tdap" for d in doses):
        return [d for d in doses if d.product != "Tdap"], DTAP
    if roll < 0.45:
        group = rng.choice((HEPA, VARICELLA, HEPA))
        return [d for d in doses if d.group != group], group
    group = rng.choice([g for g in _SERIES_GROUPS if any(d.group == g for d in doses)] or [HEPB])
    last = max((d for d in doses if d.group == group and d.product != "Tdap"), key=lambda d: d.on, default=None)
    return [d for d in doses if d is not last], group


# The health stage hands these cases out in turn (by index), so each appears at least once.
EXEMPTION_CASES: tuple[tuple[ExemptionKind, tuple[str | None, ...], int, int | None, str], ...] = (
    (ExemptionKind.MEDICAL, (MMR, VARICELLA), 20, None,
     "Primary immunodeficiency; live vaccines contraindicated for life (physician certificate)."),
    (ExemptionKind.MEDICAL, (DTAP,), 4, 1, "Encephalopathy within 7 days of a DTaP dose; renew yearly."),
    (ExemptionKind.CONSCIENTIOUS, (None,), 8, 2, "Affidavit for reasons of conscience (DSHS form, notarized)."),
    (ExemptionKind.MEDICAL, (HEPB,), 15, 1, "Anaphylaxis to yeast; HepB deferred. Certificate not renewed."),
    (ExemptionKind.RELIGIOUS, (None,), 27, 2, "Affidavit for reasons of conscience, including religious belief."),
    (ExemptionKind.RELIGIOUS, (VARICELLA,), 3, 2, "Affidavit for reasons of conscience, including religious belief."),
    (ExemptionKind.CONSCIENTIOUS, (HEPA,), 30, 2, "Affidavit for reasons of conscience; expired, renewal requested."),
    (ExemptionKind.MEDICAL, (POLIO,), 6, 1, "Severe allergic reaction to a previous IPV dose; renew yearly."),
)  # fmt: skip
EVIDENCE_CASES: tuple[tuple[str, str, str | None], ...] = (
    (VARICELLA, "parent_history", None),
    (VARICELLA, "provider_history", "024"),
    (VARICELLA, "serology", "023"),
    (HEPB, "serology", "019"),
    (VARICELLA, "parent_history", None),
)
PROVISIONAL_GROUPS = (HEPA, MMR, VARICELLA, DTAP, POLIO, HEPB)
