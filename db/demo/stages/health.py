"""The health stage: dose histories with realistic gaps, exemptions, evidence, provisionals, and medical notes.

Histories come from `db/demo/immunizations.py`; this stage decides who gets which case and
writes the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from db.demo.builder import DemoBuilder, Kid
from db.demo.calendar import at
from db.demo.immunizations import (
    EVIDENCE_CASES,
    EXEMPTION_CASES,
    MMR,
    POLIO,
    PROVISIONAL_GROUPS,
    VARICELLA,
    Dose,
    immunization_history,
    with_gap,
)
from db.demo.texts import ALLERGIES, MEDICATIONS
from db.models import (
    Allergy,
    ImmunityEvidence,
    ImmunizationExemption,
    ImmunizationRecord,
    Medication,
    ProvisionalEnrollment,
)


def build_health(b: DemoBuilder) -> None:
    """Dose histories for students enrolled this year at FULL_SIS campuses, with realistic gaps.

    About 20% have a gap, about 3% an exemption (some expired), a few are provisional (some
    past due), a few have evidence of immunity instead of varicella doses, and a few have a
    combination dose entered twice.
    """
    kids = [k for k in b.kids if k.membership]
    pool = b.rng.sample(kids, len(kids))
    n_exempt = max(len(EXEMPTION_CASES), round(0.03 * len(kids)))
    exempt, pool = pool[:n_exempt], pool[n_exempt:]
    evidence, pool = pool[: len(EVIDENCE_CASES)], pool[len(EVIDENCE_CASES) :]
    provisional, pool = pool[:6], pool[6:]
    n_gaps = round(0.2 * len(kids)) - len(provisional)
    gaps, complete = pool[:n_gaps], pool[n_gaps:]
    duplicated = {k.id for k in complete[:5]}
    for kid in kids:
        combination = kid.id in duplicated or b.chance(0.35)
        group_only = kid.id not in duplicated and b.chance(0.08)
        doses = immunization_history(
            b.rng,
            kid.birth_on,
            b.today,
            combination=combination,
            mmrv=b.chance(0.25),
            group_only=group_only,
        )
        extra: list[tuple[Dose, str]] = []
        if kid in gaps:
            doses, _ = with_gap(b.rng, doses, kid.grade)
        if kid.id in duplicated:
            combo = next(d for d in doses if d.cvx == "110")
            if complete.index(kid) < 3:
                extra.append((combo, "ImmTrac2"))  # the same combination shot imported a second time
            else:
                extra.append((Dose(POLIO, "10", None, combo.on), "parent_record"))  # also typed in per antigen
        source = "paper_record" if group_only else ("Florida SHOTS" if kid.campus.state == "FL" else "ImmTrac2")
        if kid in exempt:
            doses = add_exemption(b, kid, exempt.index(kid), doses)
        elif kid in evidence:
            doses = add_immunity_evidence(b, kid, evidence.index(kid), doses)
        elif kid in provisional:
            doses = add_provisional(b, kid, provisional.index(kid), doses)
        add_doses(b, kid, [(d, source) for d in doses] + extra)
    build_medical(b, kids)


def add_doses(b: DemoBuilder, kid: Kid, doses: Iterable[tuple[Dose, str]]) -> None:
    """Immunization rows for the doses, recorded when the student enrolled or soon after the shot."""
    enrolled = (kid.first_start or b.current.start_on) - dt.timedelta(days=14)
    for dose, source in doses:
        recorded = min(max(dose.on + dt.timedelta(days=b.rng.randint(0, 10)), enrolled), b.today)
        b.rows[ImmunizationRecord].append(
            {
                "id": b.uid(),
                "student_id": kid.id,
                "org_id": b.campus(kid.campus.slug).id,
                "vaccine_group": dose.group,
                "cvx_code": dose.cvx,
                "product": dose.product,
                "administered_on": dose.on,
                "source": source,
                "recorded_at": at(recorded, 19, b.rng.randint(0, 59)),
            }
        )


def add_exemption(b: DemoBuilder, kid: Kid, case_index: int, doses: list[Dose]) -> list[Dose]:
    """An exemption from the cycle of cases; the exempt groups' later doses were never given."""
    kind, groups, months_ago, valid_years, note = EXEMPTION_CASES[case_index % len(EXEMPTION_CASES)]
    signed = b.today - dt.timedelta(days=round(months_ago * 30.44) + b.rng.randint(0, 10))
    expires = None if valid_years is None else signed.replace(year=signed.year + valid_years)
    for group in groups:
        b.rows[ImmunizationExemption].append(
            {
                "id": b.uid(),
                "student_id": kid.id,
                "org_id": b.campus(kid.campus.slug).id,
                "kind": kind,
                "vaccine_group": group,
                "signed_on": signed,
                "expires_on": expires,
                "note": note,
            }
        )
    # Exempt children usually stopped after their first months (the hospital HepB dose, early shots).
    cutoff = kid.birth_on + dt.timedelta(days=130)
    if not groups or None in groups:
        return [d for d in doses if d.on <= cutoff]
    return [d for d in doses if d.group not in groups or d.on <= cutoff]


def add_immunity_evidence(b: DemoBuilder, kid: Kid, case_index: int, doses: list[Dose]) -> list[Dose]:
    """Evidence of immunity recorded in place of the antigen's doses (never as fake doses)."""
    antigen, kind, code = EVIDENCE_CASES[case_index % len(EVIDENCE_CASES)]
    b.rows[ImmunityEvidence].append(
        {
            "id": b.uid(),
            "student_id": kid.id,
            "org_id": b.campus(kid.campus.slug).id,
            "antigen": antigen,
            "kind": kind,
            "observation_code": code,
            "recorded_on": min((kid.first_start or b.today) - dt.timedelta(days=7), b.today),
        }
    )
    if antigen == VARICELLA:
        # Had chickenpox as a toddler, so no varicella doses (an MMRV would have been MMR alone).
        return [Dose(MMR, "03", None, d.on) if d.cvx == "94" else d for d in doses if d.group != VARICELLA]
    return [d for d in doses if d.group != antigen or d.on <= kid.birth_on + dt.timedelta(days=3)]


def add_provisional(b: DemoBuilder, kid: Kid, case_index: int, doses: list[Dose]) -> list[Dose]:
    """Provisional enrollment: one dose of the short group given, the rest due within 30 days."""
    group = PROVISIONAL_GROUPS[case_index % len(PROVISIONAL_GROUPS)]
    start = b.current_start(kid)
    # Alternate: granted at the start of the stint (now past due) or at a recent records review.
    granted = start if case_index % 2 == 0 else max(start, b.today - dt.timedelta(days=b.rng.randint(5, 20)))
    b.rows[ProvisionalEnrollment].append(
        {
            "id": b.uid(),
            "student_id": kid.id,
            "org_id": b.campus(kid.campus.slug).id,
            "vaccine_group": group,
            "granted_on": granted,
            "due_on": granted + dt.timedelta(days=30),
        }
    )
    of_group = sorted((d for d in doses if d.group == group), key=lambda d: d.on)
    keep = set(map(id, of_group[:1]))
    return [d for d in doses if d.group != group or id(d) in keep]


def build_medical(b: DemoBuilder, kids: list[Kid]) -> None:
    """Allergies for about 6% and medications for about 4% of students (peanut allergy → EpiPen)."""
    for kid in kids:
        noted = at(min((kid.first_start or b.today) - dt.timedelta(days=10), b.today), 18)
        epipen = False
        if b.chance(0.06):
            allergen, severity, reaction = b.rng.choice(ALLERGIES)
            epipen = severity == "severe"
            b.rows[Allergy].append(
                {
                    "id": b.uid(),
                    "student_id": kid.id,
                    "org_id": b.campus(kid.campus.slug).id,
                    "allergen": allergen,
                    "severity": severity,
                    "reaction": reaction,
                    "created_at": noted,
                    "updated_at": noted,
                }
            )
        if epipen or b.chance(0.035):
            name, dosage, schedule, notes = MEDICATIONS[1] if epipen else b.rng.choice(MEDICATIONS)
            b.rows[Medication].append(
                {
                    "id": b.uid(),
                    "student_id": kid.id,
                    "org_id": b.campus(kid.campus.slug).id,
                    "name": name,
                    "dosage": dosage,
                    "schedule": schedule,
                    "start_on": b.current.start_on,
                    "end_on": None,
                    "notes": notes,
                    "created_at": noted,
                    "updated_at": noted,
                }
            )
