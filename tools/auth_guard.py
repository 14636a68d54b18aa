"""The one guard every face puts around checking a credential: throttle, log and record failures.

`AuthGuard.check(...)` refuses at once a source address that has failed too often (429 with
Retry-After, without looking at the credential); otherwise it runs the face's own check. A
failure (any DomainError with status 401) is counted against the address and against the key
prefix presented, written to the server log (prefix only, never the secret) and to the query log
as `auth:<face>`, both rate-limited per address. A prefix over its budget turns that prefix's
*failures* into 429s, but the right secret still signs in from anywhere: an attacker spraying a
victim's prefix cannot lock the victim out. State is per process (policies/throttle.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.models import QueryOutcome
from domain.audit.auth_failure import record_auth_failure
from domain.audit.requests import key_prefix as presented_prefix
from domain.errors import DomainError
from policies.throttle import FailureThrottle, RecordBudget

log = logging.getLogger("sis.auth")
T = TypeVar("T")


class AuthThrottled(DomainError):
    """Too many failed authentications from this address or with this key prefix: wait, then retry."""

    code = "too_many_failures"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed authentications from this address or for this key; try again in {retry_after} seconds"
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class AuthGuardSettings:
    """Budgets (0 disables one); see docs/security/authentication.md."""

    failures_per_address: int = 10
    failures_per_prefix: int = 5
    window_seconds: float = 60.0
    max_wait_seconds: float = 900.0
    logged_per_address: int = 5
    logged_overall: int = 100


class AuthGuard:
    """Throttling and audit of failed authentications for one app (Deps.auth_guard)."""

    def __init__(self, settings: AuthGuardSettings | None = None, *, clock: Callable[[], float] | None = None) -> None:
        s = settings or AuthGuardSettings()
        now = clock or time.monotonic
        self.by_address = FailureThrottle(
            s.failures_per_address, window=s.window_seconds, max_wait=s.max_wait_seconds, clock=now
        )
        self.by_prefix = FailureThrottle(
            s.failures_per_prefix, window=s.window_seconds, max_wait=s.max_wait_seconds, clock=now
        )
        self.logged = RecordBudget(s.logged_per_address, overall=s.logged_overall, window=s.window_seconds, clock=now)

    def check(
        self,
        session_factory: sessionmaker[Session],
        *,
        face: str,
        address: str | None,
        presented: str | None,
        authenticate: Callable[[], T],
    ) -> T:
        """`authenticate()`, unless `address` must wait; a failure is counted, logged and recorded.

        Raises:
            AuthThrottled: the address, or (for a failure) the prefix, is over its budget.
            DomainError: what `authenticate()` raised, when still within budget.
        """
        prefix = presented_prefix(presented)
        waiting = self.by_address.wait(address)
        if waiting:
            self._note(session_factory, face, address, prefix, AuthThrottled.code, "refused unchecked: address waiting")
            raise AuthThrottled(waiting)
        try:
            return authenticate()
        except DomainError as err:
            if err.status != 401:
                raise
            waiting = max(self.by_address.fail(address), self.by_prefix.fail(prefix))
            self._note(session_factory, face, address, prefix, err.code, err.message)
            if waiting:
                raise AuthThrottled(waiting) from None
            raise

    def _note(
        self,
        session_factory: sessionmaker[Session],
        face: str,
        address: str | None,
        prefix: str | None,
        code: str,
        message: str,
    ) -> None:
        admitted, dropped = self.logged.admit(address or "unknown")
        entries: list[tuple[str, str, int]] = []
        if dropped:
            log.warning("authentication: %d further failures from %s were not logged", dropped, address)
            entries.append(("dropped", "", dropped))
        if admitted:
            log.warning("authentication failed on %s from %s with key prefix %s: %s", face, address, prefix, code)
            entries.append((code, message, 0))
        if not entries:
            return
        outcome = QueryOutcome.DENIED if prefix else QueryOutcome.INVALID
        try:
            with session_factory.begin() as session:
                for entry_code, entry_message, entry_dropped in entries:
                    record_auth_failure(
                        session,
                        face=face,
                        address=address,
                        key_prefix=prefix,
                        code=entry_code,
                        message=entry_message,
                        outcome=outcome,
                        dropped=entry_dropped,
                    )
        except SQLAlchemyError as err:  # the refusal stands; the server log is its only trace now
            log.warning("authentication failure on %s from %s not written to the query log: %s", face, address, err)
