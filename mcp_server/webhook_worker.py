"""The webhook dispatcher: publish, fan out, claim with a lease, deliver signed, record, retry with backoff.

Restart safety comes from the database, not from the process:

1. Publishing and fan-out each run under their cursor row's lock; fan-out inserts one delivery
   per (subscription, event), unique, and advances its cursor in the same transaction, so a
   crash repeats nothing and skips nothing.
2. A dispatcher claims due deliveries by writing its name and a lease expiry (PostgreSQL:
   FOR UPDATE SKIP LOCKED, so dispatchers never wait on each other); a dispatcher that dies
   holding claims loses them when the lease expires and another one takes them over.
3. The HTTP call happens outside any transaction; its outcome is then recorded as an attempt,
   and the delivery is closed or rescheduled only while the claim is still ours.

Delivery is at-least-once: a crash between a receiver's 2xx and step 3 repeats that delivery,
with the same SIS-Event-Id, which receivers deduplicate by. The HTTP transport is injected (a
Sender), so this module stays free of web libraries and tests can stand in a failing network.
It is process machinery (threads, leases named after the host), so it lives with the faces, not in domain/.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.models import (
    ApiKey,
    DeliveryStatus,
    DomainEvent,
    Organization,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from domain.errors import DomainError
from domain.events import TEST_EVENT, event_class, lock_cursor, publish_pending, set_cursor, to_read
from domain.webhooks.config import WebhookConfig
from domain.webhooks.sealing import is_sealed
from domain.webhooks.service import ALL_EVENTS
from domain.webhooks.signing import (
    ATTEMPT_HEADER,
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from domain.webhooks.urls import BlockedUrl, IPAddress, check_address, check_url, literal_address
from policies.authorize import build_scope
from policies.enforcer import default_enforcer
from policies.principal import load_principal
from policies.scope import Action, Scope

log = logging.getLogger("sis.webhooks")


class _OwnerScopes:
    """Each subscription owner's scope as of this fan-out: a subscription delivers only what its owner
    may read now, at the event's org (`*` means the readable types), so a revoked grant or a
    deactivated owner stops deliveries. A subscription made with an API key is narrowed by that key
    (its org and scopes) and stops when the key is revoked or expires. Decided once per owner and key."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session, self.now, self.today = session, now, now.date()
        self._scopes: dict[tuple[uuid.UUID, uuid.UUID | None], Scope | None] = {}

    def may_read(self, owner: uuid.UUID | None, key_id: uuid.UUID | None, event: DomainEvent) -> bool:
        if owner is None:
            return False
        if (owner, key_id) not in self._scopes:
            self._scopes[owner, key_id] = self._decide(owner, key_id)
        scope = self._scopes[owner, key_id]
        return scope is not None and scope.allows_org(event.org_id, event_class(event.event_type), Action.READ)

    def _decide(self, owner: uuid.UUID, key_id: uuid.UUID | None) -> Scope | None:
        try:
            principal = load_principal(self.session, user_id=owner, today=self.today)
        except DomainError:  # deactivated or gone
            return None
        if key_id is not None:
            key = self.session.get(ApiKey, key_id)
            if (
                key is None
                or key.user_id != owner
                or key.revoked_at is not None
                or (key.expires_at is not None and key.expires_at <= self.now)
            ):
                return None
            limit = self.session.get(Organization, key.org_id) if key.org_id else None
            principal = replace(
                principal,
                api_key_id=key.id,
                api_key_prefix=key.prefix,
                token_scopes=tuple(key.scopes),
                org_limit_id=key.org_id,
                org_limit_path=limit.path if limit else None,
            )
        return build_scope(self.session, default_enforcer(), principal, today=self.today)


FANOUT = "fanout"
USER_AGENT = "sis-webhooks/1"


@dataclass(frozen=True)
class SendResult:
    """What the receiver answered: a status code, or an error category when there was no answer.

    `error` is what the subscriber sees (timeout, refused, tls, dns, blocked_address, network,
    internal): a category, never socket text, so the delivery log is no port scanner. `detail`
    goes to the server log only.
    """

    status_code: int | None
    error: str | None = None
    body_excerpt: str | None = None
    detail: str | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class PinnedTarget:
    """Where one delivery goes: the URL (its host for Host and TLS) and the checked address to dial."""

    url: str
    host: str
    port: int
    address: str


# (target, body, headers, timeout seconds) -> result; must not raise for network failures, and must
# connect to target.address, the address that was checked.
Sender = Callable[[PinnedTarget, bytes, dict[str, str], float], SendResult]
# (host, port) -> the addresses it resolves to; raises OSError when it does not resolve.
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address DNS (getaddrinfo) gives for host."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def pin(url: str, config: WebhookConfig, resolver: Resolver) -> PinnedTarget:
    """The URL's checked target: its text passes the policy and every address it resolves to is allowed.

    Raises:
        BlockedUrl: the URL or one of its addresses may not be delivered to.
        OSError: the host does not resolve.
    """
    target = check_url(url, config.urls)
    if target.literal is not None:
        addresses: list[IPAddress] = [target.literal]
    else:
        addresses = [a for a in (literal_address(r.split("%", 1)[0]) for r in resolver(target.host, target.port)) if a]
        if not addresses:
            raise OSError(f"{target.host} resolved to no address")
    for address in addresses:
        check_address(address, target, config.urls)
    return PinnedTarget(url=target.url, host=target.host, port=target.port, address=str(addresses[0]))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base * factor^(n-1), capped, with +-jitter; give up after max_attempts."""

    base: dt.timedelta = dt.timedelta(seconds=10)
    factor: float = 2.0
    cap: dt.timedelta = dt.timedelta(hours=6)
    max_attempts: int = 12
    jitter: float = 0.1

    def delay(self, attempts: int, rng: random.Random) -> dt.timedelta:
        """How long to wait after the `attempts`-th failure."""
        raw = min(self.base.total_seconds() * self.factor ** max(attempts - 1, 0), self.cap.total_seconds())
        spread = raw * self.jitter
        return dt.timedelta(seconds=max(raw + rng.uniform(-spread, spread), 0.0))


@dataclass(frozen=True)
class Claim:
    """A delivery this dispatcher holds, with everything needed to send it outside a transaction."""

    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    attempt_no: int
    url: str
    secrets: tuple[str, ...] = field(repr=False)  # the current secret, then the previous one during an overlap
    body: bytes


@dataclass
class DispatchStats:
    published: int = 0
    fanned_out: int = 0
    claimed: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0


@dataclass
class Dispatcher:
    """One dispatcher process (or thread); any number may run against one database."""

    session_factory: sessionmaker[Session]
    sender: Sender
    name: str = field(default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}")
    lease: dt.timedelta = dt.timedelta(seconds=60)
    batch: int = 50
    timeout_s: float = 10.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], dt.datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    # The operator's URL policy and sealing key (mcp_server/webhook_config.py); the DNS lookup.
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    resolver: Resolver = system_resolver

    def fan_out(self, *, limit: int = 1_000) -> tuple[int, int]:
        """Publish pending events, then create the deliveries owed for newly published ones."""
        with self.session_factory.begin() as session:
            published = publish_pending(session)
        with self.session_factory.begin() as session:
            last = lock_cursor(session, FANOUT)
            events = session.execute(
                select(DomainEvent, Organization.path)
                .join(Organization, Organization.id == DomainEvent.org_id)
                .where(DomainEvent.position > last, DomainEvent.event_type != TEST_EVENT)
                .order_by(DomainEvent.position)
                .limit(limit)
            ).all()
            if not events:
                return published, 0
            subs = session.execute(
                select(WebhookSubscription, Organization.path)
                .join(Organization, Organization.id == WebhookSubscription.org_id)
                .where(WebhookSubscription.is_active.is_(True))
            ).all()
            owners = _OwnerScopes(session, self.clock())
            owed = [
                (sub.id, event.id)
                for event, event_path in events
                for sub, sub_path in subs
                if event_path.startswith(sub_path)
                and (ALL_EVENTS in sub.event_types or event.event_type in sub.event_types)
                and owners.may_read(sub.created_by_user_id, sub.created_by_api_key_id, event)
            ]
            existing = set()
            if owed:
                existing = set(
                    session.execute(
                        select(WebhookDelivery.subscription_id, WebhookDelivery.event_id).where(
                            WebhookDelivery.event_id.in_({e for _, e in owed})
                        )
                    ).all()
                )
            now = self.clock()
            created = 0
            for sub_id, event_id in owed:
                if (sub_id, event_id) in existing:
                    continue
                session.add(
                    WebhookDelivery(
                        id=uuid.uuid4(),
                        subscription_id=sub_id,
                        event_id=event_id,
                        status=DeliveryStatus.PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                created += 1
            session.flush()
            last_position = events[-1][0].position
            assert last_position is not None
            set_cursor(session, FANOUT, last_position)
        return published, created

    def claim(self) -> list[Claim]:
        """Lease up to `batch` due deliveries (pending, due, and unclaimed or with an expired lease)."""
        now = self.clock()
        with self.session_factory.begin() as session:
            stmt = (
                select(WebhookDelivery.id)
                # A test ping's event is owed before it is published: it waits for its position.
                .join(DomainEvent, DomainEvent.id == WebhookDelivery.event_id)
                .where(
                    DomainEvent.position.is_not(None),
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.lease_expires_at.is_(None), WebhookDelivery.lease_expires_at <= now),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(self.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
            ids = list(session.execute(stmt).scalars())
            if not ids:
                return []
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(lease_owner=self.name, lease_expires_at=now + self.lease)
            )
            rows = session.execute(
                select(WebhookDelivery, DomainEvent, WebhookSubscription)
                .join(DomainEvent, DomainEvent.id == WebhookDelivery.event_id)
                .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookDelivery.id.in_(ids))
                .order_by(DomainEvent.position, WebhookDelivery.id)
            )
            claims = []
            for delivery, event, sub in rows:
                attempt_no = delivery.attempts + 1
                body = json.dumps(
                    {
                        "delivery_id": str(delivery.id),
                        "attempt": attempt_no,
                        "event": to_read(event).model_dump(mode="json"),
                    },
                    separators=(",", ":"),
                    sort_keys=True,
                ).encode("utf-8")
                secret = self.webhooks.box.open(sub.secret)
                if not is_sealed(sub.secret):  # written before secrets were sealed: seal it now
                    sub.secret = self.webhooks.box.seal(secret)
                signing: tuple[str, ...] = (secret,)
                if sub.previous_secret and sub.previous_secret_expires_at and sub.previous_secret_expires_at > now:
                    signing += (self.webhooks.box.open(sub.previous_secret),)
                claims.append(Claim(delivery.id, event.id, event.event_type, attempt_no, sub.url, signing, body))
            return claims

    def deliver(self, claim: Claim) -> SendResult:
        """Send one claimed delivery, signed, and record the attempt and its consequence."""
        started = self.clock()
        timestamp = int(started.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: str(claim.event_id),
            EVENT_TYPE_HEADER: claim.event_type,
            DELIVERY_ID_HEADER: str(claim.delivery_id),
            ATTEMPT_HEADER: str(claim.attempt_no),
            SIGNATURE_HEADER: signature_header(claim.secrets, timestamp, claim.body),
        }
        t0 = time.perf_counter()
        try:
            # Checked again now, after DNS: a name may point elsewhere than when it was subscribed.
            target = pin(claim.url, self.webhooks, self.resolver)
            result = self.sender(target, claim.body, headers, self.timeout_s)
        except BlockedUrl as err:
            result = SendResult(None, "blocked_address", detail=err.message)
        except OSError as err:
            result = SendResult(None, "dns", detail=f"{type(err).__name__}: {err}")
        except Exception as err:  # a transport bug must not kill the dispatcher; it is one failed attempt
            log.exception("webhook sender failed for delivery %s", claim.delivery_id)
            result = SendResult(None, "internal", detail=f"{type(err).__name__}: {err}")
        if not result.ok:
            log.warning(
                "webhook delivery %s attempt %s failed: %s (%s)",
                claim.delivery_id,
                claim.attempt_no,
                result.error or f"http_{result.status_code}",
                result.detail or "",
            )
        duration_ms = int((time.perf_counter() - t0) * 1000)
        self._record(claim, result, started, duration_ms)
        return result

    def _record(self, claim: Claim, result: SendResult, started: dt.datetime, duration_ms: int) -> None:
        now = self.clock()
        with self.session_factory.begin() as session:
            session.add(
                WebhookAttempt(
                    delivery_id=claim.delivery_id,
                    attempt_no=claim.attempt_no,
                    dispatcher=self.name,
                    started_at=started,
                    duration_ms=duration_ms,
                    status_code=result.status_code,
                    succeeded=result.ok,
                    error=None if result.ok else (result.error or f"http_{result.status_code}"),
                    response_excerpt=result.body_excerpt,
                )
            )
            delivery = session.execute(
                select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id).with_for_update()
            ).scalar_one()
            if delivery.lease_owner != self.name or delivery.status is not DeliveryStatus.PENDING:
                # Our lease expired and another dispatcher owns the row now: its outcome decides.
                return
            delivery.attempts = claim.attempt_no
            delivery.last_status_code = result.status_code
            delivery.lease_owner = None
            delivery.lease_expires_at = None
            if result.ok:
                delivery.status = DeliveryStatus.SUCCEEDED
                delivery.delivered_at = now
                delivery.last_error = None
            else:
                delivery.last_error = result.error or f"http_{result.status_code}"
                if claim.attempt_no >= self.policy.max_attempts:
                    delivery.status = DeliveryStatus.FAILED
                else:
                    delivery.next_attempt_at = now + self.policy.delay(claim.attempt_no, self.rng)

    def run_once(self) -> DispatchStats:
        """One pass: publish, fan out, then deliver every claimable delivery once."""
        stats = DispatchStats()
        stats.published, stats.fanned_out = self.fan_out()
        claims = self.claim()
        stats.claimed = len(claims)
        for claim in claims:
            result = self.deliver(claim)
            if result.ok:
                stats.delivered += 1
            else:
                stats.failed_attempts += 1
                stats.gave_up += claim.attempt_no >= self.policy.max_attempts
        return stats

    def run_forever(self, stop: threading.Event, *, idle_s: float = 1.0) -> None:
        """Loop until `stop` is set, sleeping `idle_s` after a pass that found nothing to do."""
        while not stop.is_set():
            try:
                stats = self.run_once()
            except Exception:
                # A database hiccup: the claims and cursors are in the database, so the next pass resumes.
                log.exception("webhook dispatch pass failed")
                stats = DispatchStats()
            if stats.claimed == 0 and stats.fanned_out == 0:
                stop.wait(idle_s)
