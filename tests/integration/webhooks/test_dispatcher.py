"""Webhook delivery against a real HTTP receiver on loopback: signatures, retries with backoff, restarts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select, update

from db.base import utcnow
from db.models import DeliveryStatus, DomainEvent, Organization, RoleGrant, WebhookAttempt, WebhookDelivery
from domain.events import emit_event
from domain.webhooks.config import WebhookConfig
from domain.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from domain.webhooks.urls import UrlPolicy
from mcp_server.webhook_http import http_sender
from mcp_server.webhook_worker import Dispatcher, PinnedTarget, RetryPolicy, SendResult
from tools.runner import ToolCallError, run_tool

# The receivers here are on loopback, which only an operator's allow-list opens (#15 SSRF).
LOOPBACK = WebhookConfig(urls=UrlPolicy.build(allow_hosts=("127.0.0.1",), allow_http=True))


@pytest.fixture()
def demo_deps(demo_deps):
    return dataclasses.replace(demo_deps, webhooks=LOOPBACK)


@dataclass
class Clock:
    now: dt.datetime = field(default_factory=utcnow)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def _austin(deps) -> Organization:
    with deps.session_factory() as session:
        return session.execute(select(Organization).where(Organization.slug == "austin")).scalar_one()


def _subscribe(deps, persona, url: str, types: list[str]) -> dict:
    result = run_tool(
        deps,
        persona("registrar_austin"),
        "create_webhook_subscription",
        {"org_id": str(_austin(deps).id), "url": url, "event_types": types, "description": "test receiver"},
    )
    return result.output.model_dump(mode="json")


def _emit(deps, count: int, event_type: str = "enrollment.created") -> list[str]:
    org = _austin(deps)
    with deps.session_factory.begin() as session:
        for n in range(count):
            emit_event(session, event_type=event_type, org_id=org.id, payload={"n": n, "student_id": None})
    with deps.session_factory() as session:
        from db.models import DomainEvent

        rows = session.execute(select(DomainEvent.id).order_by(DomainEvent.seq.desc()).limit(count)).scalars().all()
    return sorted(str(r) for r in rows)


def _dispatcher(deps, client: httpx.Client, clock: Clock, **kw) -> Dispatcher:
    policy = RetryPolicy(base=dt.timedelta(seconds=1), factor=2, jitter=0, max_attempts=kw.pop("max_attempts", 8))
    return Dispatcher(deps.session_factory, http_sender(), clock=clock, policy=policy, webhooks=LOOPBACK, **kw)


def test_receiver_on_loopback_gets_signed_events(demo_deps, persona, receiver):
    sub = _subscribe(demo_deps, persona, receiver.url, ["enrollment.created"])
    events = _emit(demo_deps, 3)
    _emit(demo_deps, 1, "enrollment.withdrawn")  # not subscribed: never sent
    with httpx.Client() as client:
        stats = _dispatcher(demo_deps, client, Clock()).run_once()
    assert stats.delivered == 3 and stats.failed_attempts == 0
    assert sorted(receiver.accepted_ids()) == events
    for headers, body, _ in receiver.received:
        assert verify(sub["secret"], headers[SIGNATURE_HEADER], body, now=int(time.time()))
        assert not verify("whsec_wrong", headers[SIGNATURE_HEADER], body, now=int(time.time()))
        payload = json.loads(body)
        assert payload["event"]["id"] == headers[EVENT_ID_HEADER] and payload["event"]["type"] == "enrollment.created"
    deliveries = run_tool(
        demo_deps, persona("registrar_austin"), "list_webhook_deliveries", {"subscription_id": sub["id"]}
    ).output
    assert deliveries.total == 3 and all(d.status is DeliveryStatus.SUCCEEDED for d in deliveries.items)
    assert all(len(d.attempt_log) == 1 and d.attempt_log[0].status_code == 200 for d in deliveries.items)


def test_failing_receiver_gets_every_event_exactly_once_after_retries_with_backoff(demo_deps, persona, receiver):
    _subscribe(demo_deps, persona, receiver.url, ["*"])
    events = _emit(demo_deps, 4)
    receiver.statuses = [500, 503, 500, 502, 500, 500, 500, 500, 500, 500]  # down for a while, then back
    clock = Clock()
    with httpx.Client() as client:
        dispatcher = _dispatcher(demo_deps, client, clock)
        for _ in range(20):
            dispatcher.run_once()
            if len(receiver.accepted_ids()) == len(events):
                break
            clock.advance(120)
    assert sorted(receiver.accepted_ids()) == events  # every event, once
    assert len(receiver.received) == len(events) + 10  # each failure was retried, nothing more
    with demo_deps.session_factory() as session:
        attempts = session.execute(select(WebhookAttempt).order_by(WebhookAttempt.id)).scalars().all()
        statuses = session.execute(select(WebhookDelivery.status)).scalars().all()
    assert len(attempts) == len(receiver.received)
    assert {a.status_code for a in attempts if not a.succeeded} == {500, 502, 503}
    assert set(statuses) == {DeliveryStatus.SUCCEEDED}


def test_backoff_doubles_and_gives_up_after_the_last_attempt(demo_deps, persona, receiver):
    _subscribe(demo_deps, persona, receiver.url, ["enrollment.created"])
    _emit(demo_deps, 1)
    receiver.statuses = [500] * 10
    clock = Clock()
    waits = []
    with httpx.Client() as client:
        dispatcher = _dispatcher(demo_deps, client, clock, max_attempts=4)
        for _ in range(4):
            dispatcher.run_once()
            with demo_deps.session_factory() as session:
                delivery = session.execute(select(WebhookDelivery)).scalar_one()
            waits.append((delivery.next_attempt_at - clock.now).total_seconds())
            clock.now = delivery.next_attempt_at
    assert waits[:3] == [1.0, 2.0, 4.0]
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == 4


class Crash(BaseException):
    """A process dying mid-delivery (not an Exception, so nothing catches it)."""


@pytest.mark.parametrize("crash_after_send", [False, True])
def test_dispatcher_restart_mid_delivery_loses_nothing(demo_deps, persona, receiver, crash_after_send):
    _subscribe(demo_deps, persona, receiver.url, ["enrollment.created"])
    events = _emit(demo_deps, 5)
    clock = Clock()
    with httpx.Client() as client:
        real = http_sender()
        sent = 0

        def dying(url: PinnedTarget, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
            nonlocal sent
            sent += 1
            if sent == 3:
                if crash_after_send:
                    real(url, body, headers, timeout)  # the receiver got it; the dispatcher dies before recording
                raise Crash
            return real(url, body, headers, timeout)

        first = Dispatcher(
            demo_deps.session_factory,
            dying,
            name="first",
            clock=clock,
            lease=dt.timedelta(seconds=30),
            webhooks=LOOPBACK,
        )
        with pytest.raises(Crash):
            first.run_once()
        assert len(receiver.accepted_ids()) == 2 + crash_after_send
        # A new process before the lease expires finds nothing to take; after it, it takes over.
        second = _dispatcher(demo_deps, client, clock, name="second")
        assert second.run_once().claimed == 0
        clock.advance(31)
        second.run_once()
    accepted = receiver.accepted_ids()
    assert sorted(set(accepted)) == events  # nothing lost
    assert len(accepted) == len(events) + crash_after_send  # a repeat only for the one in flight, same event id


def test_fan_out_creates_one_delivery_per_subscription_and_event(demo_deps, persona, receiver):
    _subscribe(demo_deps, persona, receiver.url, ["enrollment.created"])
    _subscribe(demo_deps, persona, receiver.url + "/other", ["*"])
    _emit(demo_deps, 2)
    dispatcher = Dispatcher(demo_deps.session_factory, lambda *a: SendResult(200), clock=Clock(), webhooks=LOOPBACK)
    assert dispatcher.fan_out()[1] == 4
    assert dispatcher.fan_out()[1] == 0
    with demo_deps.session_factory() as session:
        assert len(session.execute(select(WebhookDelivery)).scalars().all()) == 4


def test_subscribing_needs_write_access_and_read_access_to_the_event_class(demo_deps, persona, receiver):
    org = str(_austin(demo_deps).id)
    with pytest.raises(ToolCallError) as nurse:
        run_tool(
            demo_deps,
            persona("nurse_austin"),
            "create_webhook_subscription",
            {"org_id": org, "url": receiver.url, "event_types": ["enrollment.created"]},
        )
    assert nurse.value.status == 403
    with pytest.raises(ToolCallError) as financial:
        run_tool(
            demo_deps,
            persona("registrar_austin"),
            "create_webhook_subscription",
            {"org_id": org, "url": receiver.url, "event_types": ["invoice.paid"]},
        )
    assert financial.value.status == 403 and "invoice.paid" in financial.value.message
    with pytest.raises(ToolCallError) as miami:
        run_tool(
            demo_deps,
            persona("registrar_miami"),
            "create_webhook_subscription",
            {"org_id": org, "url": receiver.url, "event_types": ["enrollment.created"]},
        )
    assert miami.value.status == 404


def test_pull_feed_resumes_after_a_position_and_respects_scope(demo_deps, persona):
    events = _emit(demo_deps, 3)
    first = run_tool(demo_deps, persona("registrar_austin"), "list_events", {"limit": 2}).output
    rest = run_tool(demo_deps, persona("registrar_austin"), "list_events", {"after": first.next_after}).output
    seen = [str(e.id) for e in first.items + rest.items]
    assert set(events) <= set(seen) and len(seen) == len(set(seen))
    positions = [e.position for e in first.items + rest.items]
    assert positions == sorted(positions) and first.has_more
    miami = run_tool(demo_deps, persona("registrar_miami"), "list_events", {}).output
    assert not set(events) & {str(e.id) for e in miami.items}


def test_a_star_subscription_delivers_only_what_its_owner_may_read_now(demo_deps, persona, receiver):
    """The Austin registrar (no financial access) subscribed to * and received payment bodies (#15)."""
    _subscribe(demo_deps, persona, receiver.url, ["*"])
    _emit(demo_deps, 1, "enrollment.created")
    _emit(demo_deps, 1, "payment.refunded")
    dispatcher = Dispatcher(demo_deps.session_factory, lambda *a: SendResult(200), clock=Clock(), webhooks=LOOPBACK)
    assert dispatcher.fan_out()[1] == 1, "the enrollment event only: financial events are not the registrar's"
    with demo_deps.session_factory() as session:
        delivered = session.execute(
            select(DomainEvent.event_type).join(WebhookDelivery, WebhookDelivery.event_id == DomainEvent.id)
        ).scalars()
        assert list(delivered) == ["enrollment.created"]

    registrar = persona("registrar_austin")
    with demo_deps.session_factory.begin() as session:
        session.execute(
            update(RoleGrant).where(RoleGrant.user_id == registrar.user_id).values(revoked_at=dt.datetime.now(dt.UTC))
        )
    _emit(demo_deps, 1, "enrollment.created")
    assert dispatcher.fan_out()[1] == 0, "a revoked grant stops deliveries"


def test_a_subscriptions_url_is_shown_only_to_those_who_may_manage_it(demo_deps, persona, receiver):
    """Every directory reader saw where an org's events go (#15); now only its managers do."""
    made = _subscribe(demo_deps, persona, receiver.url + "/private", ["enrollment.created"])
    seen = {
        name: {
            s["id"]: s["url"]
            for s in run_tool(demo_deps, persona(name), "list_webhook_subscriptions", {}).data["items"]
        }
        for name in ("registrar_austin", "nurse_austin")
    }
    assert seen["registrar_austin"][made["id"]] == receiver.url + "/private"
    assert seen["nurse_austin"][made["id"]] is None, "a nurse reads the directory but does not manage webhooks"
