"""The full demo data set: the system of record's demo seed plus billing on top of it.

Composed here because billing amounts come from the domain's pricing function, which the
`db` layer may not import.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.demo.billing_seed import seed_billing
from db.demo.seed import DemoSummary, seed_demo
from domain.billing.demo import DemoPricing


def seed_full_demo(
    engine: Engine, *, seed: int, today: dt.date, progress: Callable[[str, int, int], None] | None = None
) -> DemoSummary:
    """Seed the demo network, then its tuition rules, plans, ledgers and payments."""
    summary = seed_demo(engine, seed=seed, today=today, progress=progress)
    with Session(engine) as session, session.begin():
        seed_billing(session, rng=random.Random(seed), today=today, pricing=DemoPricing())
    return summary
