"""Which version of each billing definition is in force on a date, at an org or for an offering.

A definition (fee, discount, plan, refund rule) is a series of versions sharing an org, a code
and, for fees and refund rules, what it applies to. On a date D the series' version in force is
the highest one whose effective_from is on or before D; a retired version (is_active false)
removes the code from D on. Among series of one code, the most specific wins (an offering's fee
over its program's over an org-wide one), then the one defined nearest the org (a campus
overrides its brand).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from db.models import DiscountDefinition, FeeDefinition, Organization, PaymentPlan, ProgramOffering, RefundRule
from domain.billing.access import ancestors

Row = TypeVar("Row", FeeDefinition, DiscountDefinition, PaymentPlan, RefundRule)


def series_key(row: Any) -> tuple[uuid.UUID, str, uuid.UUID | None]:
    """What the versions of one definition share: its org, its code and what it applies to."""
    return (row.org_id, row.code, getattr(row, "applies_to_id", None))


def latest_by_series(rows: Iterable[Row]) -> dict[tuple[uuid.UUID, str, uuid.UUID | None], Row]:
    """The newest version of each series among `rows` (the one in force when rows were cut at a date)."""
    best: dict[tuple[uuid.UUID, str, uuid.UUID | None], Row] = {}
    for row in rows:
        key = series_key(row)
        if key not in best or (row.effective_from, row.version) > (best[key].effective_from, best[key].version):
            best[key] = row
    return best


def _in_force(rows: Iterable[Row]) -> list[Row]:
    return [row for row in latest_by_series(rows).values() if row.is_active]


def _nearest_by_code(rows: Iterable[Row], chain: Sequence[Organization], specificity: Any = None) -> dict[str, Row]:
    depth = {o.id: i for i, o in enumerate(chain)}

    def rank(row: Row) -> tuple[int, int]:
        # Later rows win: the most specific, then the nearest org.
        return (specificity(row) if specificity else 0, -depth[row.org_id])

    best: dict[str, Row] = {}
    for row in sorted(rows, key=rank):
        best[row.code] = row
    return best


def plans_in_force(session: Session, chain: Sequence[Organization], on: dt.date) -> dict[str, PaymentPlan]:
    """The payment plans in force at chain[0] on `on`, by code."""
    rows = session.execute(
        select(PaymentPlan).where(PaymentPlan.org_id.in_([o.id for o in chain]), PaymentPlan.effective_from <= on)
    ).scalars()
    return _nearest_by_code(_in_force(rows), chain)


def discounts_in_force(session: Session, chain: Sequence[Organization], on: dt.date) -> dict[str, DiscountDefinition]:
    """The discount definitions in force at chain[0] on `on`, by code."""
    rows = session.execute(
        select(DiscountDefinition).where(
            DiscountDefinition.org_id.in_([o.id for o in chain]), DiscountDefinition.effective_from <= on
        )
    ).scalars()
    return _nearest_by_code(_in_force(rows), chain)


def _fee_specificity(row: FeeDefinition) -> int:
    return 2 if row.offering_id is not None else 1 if row.program_id is not None else 0


def fees_in_force(
    session: Session, offering: ProgramOffering, chain: Sequence[Organization], on: dt.date
) -> list[FeeDefinition]:
    """The fees an offering charges on `on`: its own, its program's and org-wide ones, one per code, by code."""
    rows = session.execute(
        select(FeeDefinition).where(
            FeeDefinition.org_id.in_([o.id for o in chain]),
            FeeDefinition.effective_from <= on,
            or_(
                FeeDefinition.offering_id == offering.id,
                and_(FeeDefinition.offering_id.is_(None), FeeDefinition.program_id == offering.program_id),
                and_(FeeDefinition.offering_id.is_(None), FeeDefinition.program_id.is_(None)),
            ),
        )
    ).scalars()
    chosen = _nearest_by_code(_in_force(rows), chain, _fee_specificity)
    return [chosen[code] for code in sorted(chosen)]


def current_fee(
    session: Session, org_id: uuid.UUID, code: str, on: dt.date, *, offering_id: uuid.UUID | None = None
) -> FeeDefinition | None:
    """The fee `code` in force on `on` for an offering (when given) or org-wide at the org; None when there is none.

    For other areas (offerings) that show or check an offering's fee lines.
    """
    chain = ancestors(session, org_id)
    if offering_id is not None:
        offering = session.get(ProgramOffering, offering_id)
        if offering is None:
            return None
        return next((f for f in fees_in_force(session, offering, chain, on) if f.code == code), None)
    rows = session.execute(
        select(FeeDefinition).where(
            FeeDefinition.org_id.in_([o.id for o in chain]),
            FeeDefinition.code == code,
            FeeDefinition.effective_from <= on,
            FeeDefinition.offering_id.is_(None),
            FeeDefinition.program_id.is_(None),
        )
    ).scalars()
    return _nearest_by_code(_in_force(rows), chain).get(code)


def refund_rule_in_force(session: Session, offering: ProgramOffering, on: dt.date) -> RefundRule | None:
    """The offering's own refund rule in force on `on`, else the one defined nearest its org."""
    chain = ancestors(session, offering.org_id)
    rows = session.execute(
        select(RefundRule).where(
            RefundRule.effective_from <= on,
            or_(
                RefundRule.offering_id == offering.id,
                and_(RefundRule.offering_id.is_(None), RefundRule.org_id.in_([o.id for o in chain])),
            ),
        )
    ).scalars()
    depth = {o.id: i for i, o in enumerate(chain)}
    ranked = sorted(_in_force(rows), key=lambda r: (r.offering_id is None, depth.get(r.org_id, len(chain)), r.code))
    return ranked[0] if ranked else None
