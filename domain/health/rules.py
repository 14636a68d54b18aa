"""Pure immunization compliance rules: dose records -> antigen-doses -> per-group status.

Nothing here touches the database. The service loads rows, converts them into the input
dataclasses below and calls `evaluate_student` with the rules of domain/health/requirements.py
(which reads requirement rows and their `conditions`).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import operator
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from domain.health.cdsi import Association, CdsiMap, add_age, load_map, normalise_cvx, subtract_age
from domain.health.requirements import RequirementRule

DTAP_GROUP = "DTaP/Tdap/Td"
# Group-only DTaP/Tdap/Td records: which antigens each product carries. A record without a
# product is credited Diphtheria and Tetanus only, since pertussis cannot be assumed.
_DTAP_PRODUCTS: dict[str, tuple[str, ...]] = {
    "dtap": ("Diphtheria", "Tetanus", "Pertussis"),
    "dtp": ("Diphtheria", "Tetanus", "Pertussis"),
    "tdap": ("Tetanus", "Diphtheria", "Pertussis"),
    "dt": ("Diphtheria", "Tetanus"),
    "td": ("Tetanus", "Diphtheria"),
    "tt": ("Tetanus",),
}
_DTAP_DEFAULT = ("Diphtheria", "Tetanus")
DTAP_PRODUCT_NAMES = ("DTaP", "DTP", "Tdap", "DT", "Td", "TT")


class ComplianceState(enum.StrEnum):
    COMPLIANT = "compliant"
    EVIDENCE = "evidence"
    EXEMPT = "exempt"
    PROVISIONAL = "provisional"
    MISSING = "missing"


# Worst first: a student's overall state is the worst of their groups.
_SEVERITY = [
    ComplianceState.MISSING,
    ComplianceState.PROVISIONAL,
    ComplianceState.EXEMPT,
    ComplianceState.EVIDENCE,
    ComplianceState.COMPLIANT,
]


class DoseInput(NamedTuple):
    administered_on: dt.date
    vaccine_group: str
    cvx_code: str | None = None
    product: str | None = None


@dataclass(frozen=True)
class ExemptionInput:
    kind: str
    signed_on: dt.date
    expires_on: dt.date | None
    vaccine_group: str | None = None

    def covers(self, group: str) -> bool:
        """True when the exemption names this group or every group."""
        return self.vaccine_group is None or self.vaccine_group == group

    def valid_on(self, day: dt.date) -> bool:
        """Signed by `day` and not yet expired on it (a null expiry is lifelong)."""
        return self.signed_on <= day and (self.expires_on is None or day <= self.expires_on)


@dataclass(frozen=True)
class EvidenceInput:
    antigen: str
    kind: str
    recorded_on: dt.date


@dataclass(frozen=True)
class ProvisionalInput:
    granted_on: dt.date
    due_on: dt.date
    vaccine_group: str | None = None

    def covers(self, group: str) -> bool:
        """True when the provisional enrollment names this group or every group."""
        return self.vaccine_group is None or self.vaccine_group == group


class AntigenDose(NamedTuple):
    """One dose of one antigen on one day, merged across every record that carried it."""

    antigen: str
    given_on: dt.date
    cvx_codes: frozenset[str] = frozenset()
    # Product names of the records without a CVX code: a CVX code, where a record has one, says
    # what was given, so a product name only speaks for a record that lacks one.
    products: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DataIssue:
    """A record that could not be counted as given (or was counted despite a mismatch), and why."""

    message: str


class RowResult(NamedTuple):
    antigen: str
    met: bool
    doses_counted: int
    doses_required: int
    # Additional doses needed under the most favourable option (0 when met).
    doses_needed: int
    reason: str
    # The kind of evidence of immunity that met the row in place of doses.
    evidence_kind: str | None = None


class GroupStatus(NamedTuple):
    vaccine_group: str
    state: ComplianceState
    doses_counted: int
    doses_required: int
    reason: str
    rows: tuple[RowResult, ...] = ()
    exemption_kind: str | None = None
    exemption_expires_on: dt.date | None = None
    provisional_due_on: dt.date | None = None
    evidence_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudentCompliance:
    groups: tuple[GroupStatus, ...]
    data_issues: tuple[DataIssue, ...] = ()

    @property
    def state(self) -> ComplianceState:
        """The worst state among the groups (compliant when there are none)."""
        states = {g.state for g in self.groups}
        return next((s for s in _SEVERITY if s in states), ComplianceState.COMPLIANT)

    def group(self, name: str) -> GroupStatus:
        """The status of one vaccine group; KeyError when no requirement names it."""
        found = next((g for g in self.groups if g.vaccine_group == name), None)
        if found is None:
            raise KeyError(name)
        return found


# -- expanding records into antigen-doses --------------------------------------------------------


@dataclass(frozen=True)
class _RecordPlan:
    """What every record of one (CVX code, group, product) spelling counts for: worked out once per map."""

    antigens: tuple[str, ...]
    # Set when a CVX association is bounded by age: the antigens then depend on the age that day.
    by_age: tuple[Association, ...] | None
    # Why such a record is not counted, or counted despite a mismatch (after the record's label).
    problem: str | None
    cvx: str | None
    product: str | None

    @functools.cached_property
    def marks(self) -> tuple[frozenset[str], frozenset[str]]:
        """The CVX code, or else the product name, an antigen-dose from such a record carries."""
        if self.cvx is not None:
            return frozenset((self.cvx,)), frozenset()
        return frozenset(), frozenset(() if self.product is None else (self.product,))


def _record_plan(cvx_code: str | None, vaccine_group: str, product: str | None, cdsi: CdsiMap) -> _RecordPlan:
    cvx = normalise_cvx(cvx_code) if cvx_code else None
    spelled = product.strip().lower() if product else None
    if cvx is not None:
        associations = cdsi.cvx.get(cvx)
        if associations is None:
            return _RecordPlan((), None, f"unknown CVX code {cvx_code!r}; not counted", cvx, spelled)
        problem = None
        group = cdsi.canonical_group(vaccine_group)
        if group is not None and not set(cdsi.all_cvx_antigens(cvx) or ()) & set(cdsi.groups[group]):
            problem = (
                f"CVX {cvx} ({cdsi.descriptions[cvx]}) does not belong to vaccine group {vaccine_group}; "
                "counted by its CVX code"
            )
        if any(a.begin_age or a.end_age for a in associations):
            return _RecordPlan((), associations, problem, cvx, spelled)
        return _RecordPlan(tuple(a.antigen for a in associations), None, problem, cvx, spelled)
    group = cdsi.canonical_group(vaccine_group)
    if group is None:
        return _RecordPlan((), None, "unknown vaccine group; not counted", None, spelled)
    if group != DTAP_GROUP:
        return _RecordPlan(cdsi.groups[group], None, None, None, spelled)
    if product is None:
        return _RecordPlan(_DTAP_DEFAULT, None, None, None, spelled)
    carried = _DTAP_PRODUCTS.get(product.strip().lower())
    if carried is None:
        return _RecordPlan(
            _DTAP_DEFAULT, None, f"unrecognised product {product!r}; counted without pertussis", None, spelled
        )
    return _RecordPlan(carried, None, None, None, spelled)


# Spellings are few (the map's codes times the products in use); past this many, start afresh.
_MAX_PLANS = 10_000


def _plan_of(record: DoseInput, cdsi: CdsiMap) -> _RecordPlan:
    plans = cdsi.derived
    key = ("record", record.cvx_code, record.vaccine_group, record.product)
    plan: _RecordPlan | None = plans.get(key)
    if plan is None:
        if len(plans) >= _MAX_PLANS:
            plans.clear()
        plan = plans[key] = _record_plan(record.cvx_code, record.vaccine_group, record.product, cdsi)
    return plan


def _doses_by_antigen(
    records: Iterable[DoseInput], birth_on: dt.date, as_of: dt.date, cdsi: CdsiMap
) -> tuple[dict[str, list[AntigenDose]], list[DataIssue]]:
    """Antigen-doses given by `as_of` per antigen, in date order, one per antigen and day; and the
    records' data issues in record order."""
    issues: list[DataIssue] = []
    given: list[tuple[dt.date, tuple[str, ...], tuple[frozenset[str], frozenset[str]]]] = []
    for record in records:
        day = record.administered_on
        if day > as_of:
            continue
        if day < birth_on:
            issues.append(DataIssue(f"{day} {record.vaccine_group} dose: dated before birth; not counted"))
            continue
        plan = _plan_of(record, cdsi)
        if plan.problem:
            issues.append(DataIssue(f"{day} {record.vaccine_group} dose: {plan.problem}"))
        antigens = plan.antigens
        if plan.by_age is not None:
            antigens = tuple(a.antigen for a in plan.by_age if a.applies(birth_on, day))
        if antigens:
            given.append((day, antigens, plan.marks))
    given.sort(key=_first)
    by_antigen: dict[str, list[AntigenDose]] = {}
    for day, antigens, (cvx, products) in given:
        for antigen in antigens:
            doses = by_antigen.get(antigen)
            if doses is None:
                by_antigen[antigen] = [AntigenDose(antigen, day, cvx, products)]
            elif doses[-1].given_on == day:
                # The same antigen twice on one day (a combination entered twice) is one dose.
                last = doses[-1]
                doses[-1] = AntigenDose(antigen, day, last.cvx_codes | cvx, last.products | products)
            else:
                doses.append(AntigenDose(antigen, day, cvx, products))
    return by_antigen, issues


_first = operator.itemgetter(0)


def expand_doses(
    records: Iterable[DoseInput], birth_on: dt.date, as_of: dt.date, cdsi: CdsiMap | None = None
) -> tuple[list[AntigenDose], list[DataIssue]]:
    """Antigen-doses given by `as_of`, one per antigen and day (a combination entered twice counts once),
    in (antigen, day) order."""
    by_antigen, issues = _doses_by_antigen(records, birth_on, as_of, cdsi or load_map())
    return [dose for antigen in sorted(by_antigen) for dose in by_antigen[antigen]], issues


# -- one requirement row ----------------------------------------------------------------------------


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _OptionCheck(NamedTuple):
    min_doses: int
    needed: int
    satisfiable: bool
    failures: tuple[str, ...]
    label: str


def _booster_failure(
    booster: Mapping[str, Any], doses_by_antigen: Mapping[str, Sequence[AntigenDose]], as_of: dt.date
) -> str | None:
    """Why the booster condition fails on `as_of`, or None when a qualifying dose is recent enough.

    Without `within`, a qualifying dose given any time by `as_of` meets it (Florida's one Tdap dose).
    """
    within = booster.get("within")
    since = subtract_age(as_of, str(within)) if within is not None else dt.date.min
    cvx_in = {normalise_cvx(c) for c in booster.get("cvx_in", [])}
    product_in = {p.lower() for p in booster.get("product_in", [])}
    for dose in doses_by_antigen.get(str(booster["antigen"]), ()):
        # Merged doses keep each record's say: a qualifying CVX code, or a qualifying product on a record without one.
        if dose.given_on >= since and (dose.cvx_codes & cvx_in or dose.products & product_in):
            return None
    products = "/".join(booster.get("product_in", [])) or "booster"
    if within is None:
        return f"no {products} dose on record"
    return f"no {products} booster in the last {within} (since {since.isoformat()})"


def _check_option(
    option: Mapping[str, Any],
    counted: Sequence[AntigenDose],
    birth_on: dt.date,
    as_of: dt.date,
    booster_failure: str | None,
    label: str,
) -> _OptionCheck:
    """How far one way of meeting a row (the main rule or an alternative) is from being met."""
    min_doses = int(option["min_doses"])
    failures: list[str] = []
    needed = max(0, min_doses - len(counted))
    if needed:
        failures.append(f"{len(counted)} of {_plural(min_doses, 'dose')}")
    satisfiable = True
    for constraint in option.get("age_constraints", []):
        age = str(constraint["on_or_after_age"])
        threshold = add_age(birth_on, age)
        if "count_at_least" in constraint:
            want = int(constraint["count_at_least"])
            have = sum(1 for d in counted if d.given_on >= threshold)
            if have < want:
                # Once past that age, any further dose counts for both: the dose count says it all.
                if want - have > needed or as_of < threshold:
                    failures.append(
                        f"no dose on or after age {age}"
                        if have == 0
                        else f"{have} of {want} doses on or after age {age}"
                    )
                needed = max(needed, want - have)
        else:
            nth = int(constraint["dose"])
            # A dose already given cannot move: if the nth is early, only another option can help.
            if len(counted) >= nth and counted[nth - 1].given_on < threshold:
                satisfiable = False
                failures.append(f"the {_ordinal(nth)} dose was given before age {age}")
    if booster_failure:
        needed = max(needed, 1)
        failures.append(booster_failure)
    return _OptionCheck(min_doses, needed, satisfiable, tuple(failures), label)


def evaluate_requirement(
    rule: RequirementRule,
    doses_by_antigen: Mapping[str, Sequence[AntigenDose]],
    birth_on: dt.date,
    as_of: dt.date,
    evidence: Iterable[EvidenceInput] = (),
) -> RowResult:
    """Whether one requirement row is met on `as_of`, with the doses counted against it and why.

    `doses_by_antigen` holds each antigen's doses in date order (as `evaluate_student` builds them).
    """
    conditions = rule.conditions
    doses = doses_by_antigen.get(rule.antigen, ())
    min_age = conditions.get("min_age")
    if min_age is None:
        counted = doses
    else:
        threshold = add_age(birth_on, str(min_age))
        counted = [d for d in doses if d.given_on >= threshold]
    booster = conditions.get("booster")
    booster_failure = _booster_failure(booster, doses_by_antigen, as_of) if booster else None

    main = rule.main_option
    if booster_failure is None and not main["age_constraints"] and len(counted) >= rule.min_doses:
        # The common case, met by the dose count alone: what `_check_option` would conclude.
        return RowResult(
            rule.antigen, True, len(counted), rule.min_doses, 0, f"requirement met ({len(counted)} counted)"
        )
    # Options are tried in order and the first one met answers, so later ones are checked only if needed.
    options = [_check_option(main, counted, birth_on, as_of, booster_failure, "requirement met")]
    for alt in conditions.get("alternatives", ()):
        if options[-1].satisfiable and options[-1].needed == 0:
            break
        from_age = alt.get("from_student_age")
        if from_age is not None and as_of < add_age(birth_on, str(from_age)):
            continue
        label = f"met by the {_plural(int(alt['min_doses']), 'dose')} alternative"
        options.append(_check_option(alt, counted, birth_on, as_of, booster_failure, label))

    met = next((o for o in options if o.satisfiable and o.needed == 0), None)
    if met is not None:
        return RowResult(rule.antigen, True, len(counted), met.min_doses, 0, f"{met.label} ({len(counted)} counted)")

    accepted = set(conditions.get("evidence", []))
    proof = next(
        (e for e in evidence if e.antigen == rule.antigen and e.kind in accepted and e.recorded_on <= as_of), None
    )
    if proof is not None:
        return RowResult(
            rule.antigen,
            True,
            len(counted),
            rule.min_doses,
            0,
            f"evidence of immunity ({proof.kind}, {proof.recorded_on.isoformat()})",
            evidence_kind=proof.kind,
        )

    best = min(options, key=lambda o: (not o.satisfiable, o.needed, o.min_doses))
    failures = list(best.failures)
    # Say why an alternative whose dose count is already met does not apply (a dose given too early).
    for option in options:
        if option is not best and not option.satisfiable and option.needed == 0:
            failures += [f for f in option.failures if f not in failures]
    if min_age is not None and len(doses) > len(counted):
        failures.append(f"{_plural(len(doses) - len(counted), 'dose')} before age {min_age} not counted")
    return RowResult(rule.antigen, False, len(counted), best.min_doses, max(best.needed, 1), "; ".join(failures))


# -- a vaccine group and a student ----------------------------------------------------------------


def _best_exemption(exemptions: Iterable[ExemptionInput]) -> ExemptionInput | None:
    # A lifelong exemption outranks any dated one; then the one that lasts longest.
    return max(exemptions, key=lambda e: (e.expires_on is None, e.expires_on or dt.date.min), default=None)


def _join_reasons(rows: Sequence[RowResult], *, named: bool) -> str:
    if len(rows) == 1 and not named:
        return rows[0].reason
    if not named:
        return "; ".join(r.reason for r in rows)
    by_reason: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_reason[row.reason].append(row.antigen)
    return "; ".join(f"{', '.join(antigens)}: {reason}" for reason, antigens in by_reason.items())


def evaluate_group(
    group: str,
    rules: Sequence[RequirementRule],
    doses_by_antigen: Mapping[str, Sequence[AntigenDose]],
    birth_on: dt.date,
    as_of: dt.date,
    *,
    exemptions: Iterable[ExemptionInput] = (),
    evidence: Iterable[EvidenceInput] = (),
    provisionals: Iterable[ProvisionalInput] = (),
) -> GroupStatus:
    """One vaccine group's state: met only when every row of the group is met (MMR as a whole)."""
    evidence = evidence if isinstance(evidence, list) else list(evidence)
    rows = tuple([evaluate_requirement(r, doses_by_antigen, birth_on, as_of, evidence) for r in rules])
    shown = rows[0] if len(rows) == 1 else min(rows, key=lambda r: (r.met, -r.doses_needed, r.doses_counted))
    unmet = [r for r in rows if not r.met]
    if not unmet:
        kinds = tuple(sorted({r.evidence_kind for r in rows if r.evidence_kind}))
        if kinds:
            return GroupStatus(
                group,
                ComplianceState.EVIDENCE,
                shown.doses_counted,
                shown.doses_required,
                _join_reasons(rows, named=len(rows) > 1),
                rows,
                evidence_kinds=kinds,
            )
        return GroupStatus(
            group,
            ComplianceState.COMPLIANT,
            shown.doses_counted,
            shown.doses_required,
            _join_reasons(rows, named=len(rows) > 1),
            rows,
        )

    reason = _join_reasons(unmet, named=len(rows) > 1)
    covering = [e for e in exemptions if e.covers(group) and e.signed_on <= as_of]
    exemption = _best_exemption(e for e in covering if e.valid_on(as_of))
    if exemption is not None:
        return GroupStatus(
            group,
            ComplianceState.EXEMPT,
            shown.doses_counted,
            shown.doses_required,
            f"{exemption.kind} exemption; {reason}",
            rows,
            exemption_kind=exemption.kind,
            exemption_expires_on=exemption.expires_on,
        )
    notes = [reason]
    expired = _best_exemption(covering)
    if expired is not None:
        notes.append(f"{expired.kind} exemption expired on {expired.expires_on}")

    covering_prov = [p for p in provisionals if p.covers(group) and p.granted_on <= as_of]
    active = max((p for p in covering_prov if p.due_on >= as_of), key=lambda p: p.due_on, default=None)
    if active is not None:
        return GroupStatus(
            group,
            ComplianceState.PROVISIONAL,
            shown.doses_counted,
            shown.doses_required,
            f"provisional until {active.due_on}; {reason}",
            rows,
            provisional_due_on=active.due_on,
        )
    lapsed = max(covering_prov, key=lambda p: p.due_on, default=None)
    if lapsed is not None:
        notes.append(f"provisional enrollment was due on {lapsed.due_on}")
    return GroupStatus(
        group, ComplianceState.MISSING, shown.doses_counted, shown.doses_required, "; ".join(notes), rows
    )


def evaluate_student(
    *,
    birth_on: dt.date,
    as_of: dt.date,
    rules: Iterable[RequirementRule],
    records: Iterable[DoseInput] = (),
    exemptions: Iterable[ExemptionInput] = (),
    evidence: Iterable[EvidenceInput] = (),
    provisionals: Iterable[ProvisionalInput] = (),
    cdsi: CdsiMap | None = None,
) -> StudentCompliance:
    """Every vaccine group of the given (already grade-selected) rules, evaluated as of a date."""
    doses_by_antigen, issues = _doses_by_antigen(records, birth_on, as_of, cdsi or load_map())
    by_group: dict[str, list[RequirementRule]] = defaultdict(list)
    for rule in rules:
        by_group[rule.vaccine_group].append(rule)
    exemptions, evidence, provisionals = list(exemptions), list(evidence), list(provisionals)
    groups = tuple(
        evaluate_group(
            group,
            by_group[group],
            doses_by_antigen,
            birth_on,
            as_of,
            exemptions=exemptions,
            evidence=evidence,
            provisionals=provisionals,
        )
        for group in sorted(by_group)
    )
    return StudentCompliance(groups, tuple(issues))
