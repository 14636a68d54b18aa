"""Rate limits and quotas per API key and per OAuth client, counted in the database (docs/running/rate-limits.md).

Each answered call of a limited credential adds one to its counters for the current minute, UTC
day and UTC month, in the call's own transaction (an upsert, so concurrent calls in any number of
server processes count exactly). A call that would go past a limit is refused with 429 before the
tool runs, and its increment is rolled back with it: refusals do not use the quota. Limits are data:
a key's own (`set_api_key_limits`), else the plan defaults from settings; 0 or none means unlimited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import UsageCounter
from domain.errors import DomainError

WINDOWS = ("minute", "day", "month")


@dataclass(frozen=True)
class RateLimits:
    """Calls allowed per minute, per UTC day and per UTC month (None or 0: unlimited)."""

    per_minute: int | None = None
    per_day: int | None = None
    per_month: int | None = None

    def over(self, defaults: RateLimits) -> RateLimits:
        """These limits, each unset one taken from `defaults`."""
        return RateLimits(
            self.per_minute if self.per_minute is not None else defaults.per_minute,
            self.per_day if self.per_day is not None else defaults.per_day,
            self.per_month if self.per_month is not None else defaults.per_month,
        )

    def of(self, window: str) -> int | None:
        value: int | None = getattr(self, f"per_{window}")
        return value or None


@dataclass(frozen=True)
class LimitState:
    """The tightest window after this call: its limit, what is left, and when it resets."""

    window: str
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class RateLimited(DomainError):
    """A credential's calls for this minute, day or month are used up."""

    code = "rate_limited"
    status = 429

    def __init__(self, state: LimitState) -> None:
        when = {"minute": "this minute", "day": "today (UTC)", "month": "this month (UTC)"}[state.window]
        super().__init__(
            f"this credential has used its {state.limit} calls {when}; try again in {state.reset_seconds} seconds"
        )
        self.state = state
        self.retry_after = state.reset_seconds


def window_start(window: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The window containing `now` as (start, next start), UTC."""
    now = now.astimezone(dt.UTC)
    if window == "minute":
        start = now.replace(second=0, microsecond=0)
        return start, start + dt.timedelta(minutes=1)
    if window == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + dt.timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    )
    return start, following


def count_call(session: Session, subject: str, limits: RateLimits, now: dt.datetime) -> LimitState | None:
    """Count one call of `subject` in each limited window; None when nothing limits it.

    Raises:
        RateLimited: a window is already full (the caller's transaction must roll back, as the runner's does).
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    tightest: LimitState | None = None
    for window in WINDOWS:
        limit = limits.of(window)
        if limit is None:
            continue
        start, end = window_start(window, now)
        upsert = (
            insert(UsageCounter)
            .values(subject=subject, window=window, starts_at=start, count=1)
            .on_conflict_do_update(
                index_elements=["subject", "window", "starts_at"], set_={"count": UsageCounter.count + 1}
            )
            .returning(UsageCounter.count)
        )
        used = int(session.execute(upsert).scalar_one())
        state = LimitState(window, limit, max(limit - used, 0), max(1, int((end - now).total_seconds() + 0.999)))
        if used > limit:
            raise RateLimited(state)
        if tightest is None or state.remaining < tightest.remaining:
            tightest = state
    return tightest
