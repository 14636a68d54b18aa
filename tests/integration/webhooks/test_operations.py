"""#20 "Webhook tools": a test event, the delivery log with request and response, redelivery, and a secret
rotation whose overlap window signs with both secrets. A real receiver on loopback, both engines."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import httpx
import pytest

from db.models import WebhookSubscription
from domain.webhooks.signing import EVENT_TYPE_HEADER, SIGNATURE_HEADER, verify
from tests.integration.webhooks.test_dispatcher import (
    LOOPBACK,
    Clock,
    _dispatcher,
    _emit,
    _subscribe,
)
from tools.runner import ToolCallError, run_tool


@pytest.fixture()
def demo_deps(demo_deps):
    return dataclasses.replace(demo_deps, webhooks=LOOPBACK)


def call(deps, who, tool: str, **arguments):
    return run_tool(deps, who, tool, arguments).output.model_dump(mode="json")


def refused(deps, who, tool: str, **arguments) -> ToolCallError:
    with pytest.raises(ToolCallError) as caught:
        run_tool(deps, who, tool, arguments)
    return caught.value


def test_a_test_event_reaches_only_its_subscription_signed_and_shows_in_the_delivery_log(demo_deps, persona, receiver):
    registrar = persona("registrar_austin")
    sub = _subscribe(demo_deps, persona, receiver.url, ["enrollment.created"])
    other = _subscribe(demo_deps, persona, receiver.url + "/other", ["*"])
    sent = call(demo_deps, registrar, "send_test_webhook", subscription_id=sub["id"])
    with httpx.Client() as client:
        _dispatcher(demo_deps, client, Clock()).run_once()
    tests = [(h, b) for h, b, _ in receiver.received if h[EVENT_TYPE_HEADER] == "webhook.test"]
    assert len(tests) == 1, "the ping goes to its subscription only, not to the '*' one"
    headers, body = tests[0]
    assert verify(sub["secret"], headers[SIGNATURE_HEADER], body, now=int(time.time()))
    log = call(demo_deps, registrar, "list_webhook_deliveries", subscription_id=sub["id"])
    (delivery,) = [d for d in log["items"] if d["id"] == sent["delivery_id"]]
    assert delivery["status"] == "succeeded" and delivery["event"]["type"] == "webhook.test"
    assert delivery["event"] == json.loads(body)["event"], "the log shows the request body's event"
    attempt = delivery["attempt_log"][0]
    assert attempt["status_code"] == 200 and attempt["response_excerpt"] == "ok" and attempt["duration_ms"] >= 0
    other_log = call(demo_deps, registrar, "list_webhook_deliveries", subscription_id=other["id"])
    assert all(d["event_type"] != "webhook.test" for d in other_log["items"])


def test_a_failed_delivery_is_redelivered_once_more_and_its_attempt_log_goes_on(demo_deps, persona, receiver):
    registrar = persona("registrar_austin")
    sub = _subscribe(demo_deps, persona, receiver.url, ["enrollment.created"])
    _emit(demo_deps, 1)
    receiver.statuses = [500]
    with httpx.Client() as client:
        _dispatcher(demo_deps, client, Clock(), max_attempts=1).run_once()
        (failed,) = call(demo_deps, registrar, "list_webhook_deliveries", subscription_id=sub["id"])["items"]
        assert failed["status"] == "failed"
        again = call(demo_deps, registrar, "redeliver_webhook", delivery_id=failed["id"])
        assert again["status"] == "pending" and again["attempts_so_far"] == 1
        twice = refused(demo_deps, registrar, "redeliver_webhook", delivery_id=failed["id"])
        assert twice.code == "invalid_input" and "pending" in twice.message
        _dispatcher(demo_deps, client, Clock(), max_attempts=2).run_once()
    (done,) = call(demo_deps, registrar, "list_webhook_deliveries", subscription_id=sub["id"])["items"]
    assert done["status"] == "succeeded"
    assert [a["attempt_no"] for a in done["attempt_log"]] == [1, 2]
    assert [a["status_code"] for a in done["attempt_log"]] == [500, 200]


def test_a_rotated_secret_signs_beside_the_old_one_during_the_overlap_then_alone(demo_deps, persona, receiver):
    registrar = persona("registrar_austin")
    sub = _subscribe(demo_deps, persona, receiver.url, ["enrollment.created"])
    rotated = call(demo_deps, registrar, "rotate_webhook_secret", subscription_id=sub["id"], overlap_hours=2)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != sub["secret"]
    with demo_deps.session_factory() as session:
        row = session.get(WebhookSubscription, uuid.UUID(sub["id"]))
        assert rotated["secret"] not in row.secret and sub["secret"] not in (row.previous_secret or ""), "sealed"
    _emit(demo_deps, 1)
    clock = Clock()
    with httpx.Client() as client:
        _dispatcher(demo_deps, client, clock).run_once()
        headers, body, _ = receiver.received[-1]
        now = int(time.time())
        assert verify(rotated["secret"], headers[SIGNATURE_HEADER], body, now=now)
        assert verify(sub["secret"], headers[SIGNATURE_HEADER], body, now=now), "the old secret still verifies"
        assert headers[SIGNATURE_HEADER].count("v1=") == 2
        clock.advance(3 * 3600)
        _emit(demo_deps, 1)
        _dispatcher(demo_deps, client, clock).run_once()
    headers, body, _ = receiver.received[-1]
    assert headers[SIGNATURE_HEADER].count("v1=") == 1, "after the overlap only the new secret signs"
    ts = int(headers[SIGNATURE_HEADER].split(",")[0][2:])
    assert verify(rotated["secret"], headers[SIGNATURE_HEADER], body, now=ts)
    assert not verify(sub["secret"], headers[SIGNATURE_HEADER], body, now=ts)


def test_operations_refuse_outsiders_readers_and_bad_input(demo_deps, persona, receiver):
    sub = _subscribe(demo_deps, persona, receiver.url, ["enrollment.created"])
    miami = persona("registrar_miami")
    for tool, arguments in (
        ("send_test_webhook", {"subscription_id": sub["id"]}),
        ("rotate_webhook_secret", {"subscription_id": sub["id"]}),
    ):
        assert refused(demo_deps, miami, tool, **arguments).code == "not_found", "another campus's looks unknown"
    reader = dataclasses.replace(persona("registrar_austin"), token_scopes=("sis.read",))
    assert refused(demo_deps, reader, "send_test_webhook", subscription_id=sub["id"]).status == 403
    bad = refused(
        demo_deps, persona("registrar_austin"), "rotate_webhook_secret", subscription_id=sub["id"], overlap_hours=9999
    )
    assert bad.code == "invalid_input" and bad.field == "overlap_hours"
    unknown = refused(demo_deps, persona("registrar_austin"), "redeliver_webhook", delivery_id=sub["id"])
    assert unknown.code == "not_found" and unknown.field == "delivery_id"
    with demo_deps.session_factory() as session:
        row = session.get(WebhookSubscription, uuid.UUID(sub["id"]))
        assert row.previous_secret is None, "a refused rotation changed nothing"
