"""The daily enrollment job: start pending stints on their first day and complete ended ones.

`advance_all` runs `domain.enrollment.lifecycle.advance_enrollments` in batches, one transaction
each, until nothing is due (`sis enrollments advance` calls it with a progress bar). The server
runs it at start and then just after every local midnight (`run_daily`, started by the app's
lifespan when `create_app(..., run_jobs=True)`, as `sis serve` and `sis demo` do). Statuses only
move forward, so a run that overlaps another (two servers, a manual run) changes nothing twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from domain.enrollment.lifecycle import BATCH, AdvanceResult, advance_enrollments, count_due, system_scope

log = logging.getLogger(__name__)
# A guard against a loop that would never finish (each batch must change what it read).
MAX_BATCHES = 100_000


def advance_all(
    session_factory: sessionmaker[Session],
    *,
    as_of: dt.date,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> AdvanceResult:
    """Advance every due stint as of `as_of`, committing each batch; `progress(done, total)` after each."""
    with session_factory() as session:
        total = count_due(session, as_of=as_of)
    done = activated = completed = 0
    if progress is not None:
        progress(0, total)
    for _ in range(MAX_BATCHES):
        scope = system_scope()
        with session_factory.begin() as session:
            result = advance_enrollments(session, scope, as_of=as_of, limit=batch)
        if result.stints == 0:
            break
        done, activated, completed = done + result.stints, activated + result.activated, completed + result.completed
        if progress is not None:
            progress(done, max(total, done))
    return AdvanceResult(as_of=as_of, stints=done, activated=activated, completed=completed)


def seconds_until_next_midnight(now: dt.datetime) -> float:
    """Seconds from `now` (aware, local) to a few seconds past the next local midnight."""
    tomorrow = (now + dt.timedelta(days=1)).date()
    midnight = dt.datetime.combine(tomorrow, dt.time(0, 0, 5), tzinfo=now.tzinfo)
    return max((midnight - now).total_seconds(), 1.0)


async def advance_now(session_factory: sessionmaker[Session], clock: Callable[[], dt.date]) -> AdvanceResult | None:
    """One run off the event loop; a failure is logged (the next run retries), never raised."""
    try:
        result = await asyncio.to_thread(advance_all, session_factory, as_of=clock())
    except Exception:
        log.exception("enrollment job failed; the next run retries")
        return None
    log.info(
        "enrollments advanced as of %s: %d activated, %d completed", result.as_of, result.activated, result.completed
    )
    return result


async def run_daily(session_factory: sessionmaker[Session], clock: Callable[[], dt.date]) -> None:
    """After every local midnight, advance enrollments, until cancelled (the start-up run is the caller's)."""
    while True:
        await asyncio.sleep(seconds_until_next_midnight(dt.datetime.now().astimezone()))
        await advance_now(session_factory, clock)
