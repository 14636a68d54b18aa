"""#15 Webhooks, SSRF and hygiene: where deliveries may go, what a failure tells, caps, sealed secrets, keys."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, text, update

from db.models import ApiKey, Organization, User
from domain.events import emit_event
from domain.webhooks.config import WebhookConfig
from domain.webhooks.urls import UrlPolicy
from mcp_server.auth import authenticate_api_key, create_api_key
from mcp_server.webhook_http import http_sender
from mcp_server.webhook_worker import Dispatcher, SendResult
from tests.personas import email_of
from tools.runner import ToolCallError, run_tool

STRICT = WebhookConfig(urls=UrlPolicy.build(public_url="https://sis.school.example"))
LOOPBACK = WebhookConfig(urls=UrlPolicy.build(allow_hosts=("127.0.0.1",), allow_http=True))

INTERNAL_URLS = [
    "https://127.0.0.1/hooks",
    "https://localhost/hooks",
    "https://app.localhost/hooks",
    "https://2130706433/hooks",
    "https://0x7f000001/hooks",
    "https://0177.0.0.1/hooks",
    "https://127.1/hooks",
    "https://[::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks",
    "https://[::ffff:7f00:1]/hooks",
    "https://169.254.169.254/latest/meta-data",
    "https://[fe80::1]/hooks",
    "https://10.0.0.5/hooks",
    "https://172.16.3.4/hooks",
    "https://192.168.1.1/hooks",
    "https://100.64.0.1/hooks",
    "https://[fc00::1]/hooks",
    "https://224.0.0.1/hooks",
    "https://0.0.0.0/hooks",
    "https://[::]/hooks",
    "https://[64:ff9b::7f00:1]/hooks",
    "https://sis.school.example/api/v1/webhooks",
    "https://user:pass@partner.example/hooks",
    "http://partner.example/hooks",
    "https://1.2.3.4.5/hooks",
]


@pytest.fixture()
def strict_deps(demo_deps):
    return dataclasses.replace(demo_deps, webhooks=STRICT)


def _austin(deps) -> Organization:
    with deps.session_factory() as session:
        return session.execute(select(Organization).where(Organization.slug == "austin")).scalar_one()


def _subscribe(deps, principal, url: str, types: tuple[str, ...] = ("enrollment.created",)) -> dict:
    args = {"org_id": str(_austin(deps).id), "url": url, "event_types": list(types)}
    return run_tool(deps, principal, "create_webhook_subscription", args).output.model_dump(mode="json")


def _emit(deps, event_type: str = "enrollment.created") -> None:
    with deps.session_factory.begin() as session:
        emit_event(session, event_type=event_type, org_id=_austin(deps).id, payload={"student_id": None})


@pytest.fixture()
def receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback receiver answering 200; yields its base address and the headers it received."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(dict(self.headers.items()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_a_subscription_to_an_internal_or_unsafe_url_is_refused_naming_the_url(strict_deps, persona, url):
    """SSRF (#15): loopback, private, link-local, metadata, the server itself and credentials, in every notation."""
    with pytest.raises(ToolCallError) as refused:
        _subscribe(strict_deps, persona("registrar_austin"), url)
    assert refused.value.status == 422 and refused.value.field == "url"


def test_a_public_https_url_is_accepted(strict_deps, persona):
    assert _subscribe(strict_deps, persona("registrar_austin"), "https://hooks.partner.example/sis")["is_active"]


def test_a_public_name_that_resolves_to_loopback_is_refused_at_delivery(strict_deps, persona):
    """SSRF (#15): DNS points an accepted name at 127.0.0.1; the dispatcher checks the answer and never connects."""
    _subscribe(strict_deps, persona("registrar_austin"), "https://hooks.partner.example/sis")
    _emit(strict_deps)
    sent = []
    dispatcher = Dispatcher(
        strict_deps.session_factory,
        lambda *a: sent.append(a) or SendResult(200),
        webhooks=STRICT,
        resolver=lambda host, port: ["93.184.216.34", "127.0.0.1"],
    )
    stats = dispatcher.run_once()
    assert stats.claimed == 1 and stats.delivered == 0 and sent == []
    deliveries = run_tool(strict_deps, persona("registrar_austin"), "list_webhook_subscriptions", {}).output
    sub_id = str(deliveries.items[0].id)
    log = run_tool(
        strict_deps, persona("registrar_austin"), "list_webhook_deliveries", {"subscription_id": sub_id}
    ).output
    assert log.items[0].last_error == "blocked_address"
    assert log.items[0].attempt_log[0].error == "blocked_address"


def test_an_allow_listed_name_reaches_a_loopback_receiver_at_the_checked_address(demo_deps, persona, receiver):
    """SSRF (#15): the operator's allow-list opens a private receiver; the connection goes to the resolved,
    checked address while Host stays the URL's name (the pin)."""
    address, seen = receiver
    port = address.rsplit(":", 1)[1]
    config = WebhookConfig(urls=UrlPolicy.build(allow_hosts=("hooks.internal.test",), allow_http=True))
    deps = dataclasses.replace(demo_deps, webhooks=config)
    _subscribe(deps, persona("registrar_austin"), f"http://hooks.internal.test:{port}/sis")
    _emit(deps)
    dispatcher = Dispatcher(
        deps.session_factory, http_sender(), webhooks=config, resolver=lambda host, port: ["127.0.0.1"]
    )
    assert dispatcher.run_once().delivered == 1
    assert seen[0]["Host"] == f"hooks.internal.test:{port}"


def test_without_the_allow_list_the_same_loopback_receiver_is_refused(demo_deps, persona, receiver):
    address, _ = receiver
    deps = dataclasses.replace(demo_deps, webhooks=WebhookConfig(urls=UrlPolicy.build(allow_http=True)))
    with pytest.raises(ToolCallError) as refused:
        _subscribe(deps, persona("registrar_austin"), f"http://{address}/sis")
    assert refused.value.field == "url"


def test_a_refused_connection_is_reported_as_a_category_not_socket_text(demo_deps, persona):
    """#15: "connection refused" versus an HTTP status made the delivery log a port scanner."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    deps = dataclasses.replace(demo_deps, webhooks=LOOPBACK)
    sub = _subscribe(deps, persona("registrar_austin"), f"http://127.0.0.1:{port}/sis")
    _emit(deps)
    Dispatcher(deps.session_factory, http_sender(), webhooks=LOOPBACK).run_once()
    log = run_tool(deps, persona("registrar_austin"), "list_webhook_deliveries", {"subscription_id": sub["id"]})
    delivery = log.output.items[0]
    assert delivery.last_error == "refused" and delivery.attempt_log[0].error == "refused"
    assert "errno" not in str(log.data).lower() and "connection refused" not in str(log.data).lower()


def test_an_org_may_have_at_most_the_configured_number_of_subscriptions(demo_deps, persona):
    """Hygiene (#15): a per-org cap (SIS_WEBHOOK_MAX_PER_ORG), refused with a 409 naming it."""
    deps = dataclasses.replace(demo_deps, webhooks=dataclasses.replace(STRICT, max_per_org=2))
    registrar = persona("registrar_austin")
    first = _subscribe(deps, registrar, "https://a.partner.example/")
    _subscribe(deps, registrar, "https://b.partner.example/")
    with pytest.raises(ToolCallError) as capped:
        _subscribe(deps, registrar, "https://c.partner.example/")
    assert capped.value.status == 409 and "SIS_WEBHOOK_MAX_PER_ORG=2" in capped.value.message
    run_tool(deps, registrar, "deactivate_webhook_subscription", {"subscription_id": first["id"]})
    assert _subscribe(deps, registrar, "https://c.partner.example/")["is_active"]


def test_the_signing_secret_is_not_readable_in_the_database(strict_deps, persona):
    """Hygiene (#15): signing secrets are sealed at rest; a legacy plaintext one is sealed on its next delivery."""
    made = _subscribe(strict_deps, persona("registrar_austin"), "https://hooks.partner.example/sis")
    query = text("SELECT secret FROM webhook_subscription WHERE url = 'https://hooks.partner.example/sis'")
    with strict_deps.session_factory() as session:
        stored = session.execute(query).scalar_one()
    assert made["secret"] not in stored and stored.startswith("fernet:")
    assert STRICT.box.open(stored) == made["secret"]

    with strict_deps.session_factory.begin() as session:
        session.execute(text("UPDATE webhook_subscription SET secret = :s"), {"s": made["secret"]})
    _emit(strict_deps)
    signed = []
    dispatcher = Dispatcher(
        strict_deps.session_factory,
        lambda target, body, headers, timeout: signed.append(headers) or SendResult(200),
        webhooks=STRICT,
        resolver=lambda host, port: ["93.184.216.34"],
    )
    assert dispatcher.run_once().delivered == 1
    with strict_deps.session_factory() as session:
        resealed = session.execute(query).scalar_one()
    assert resealed.startswith("fernet:") and STRICT.box.open(resealed) == made["secret"]


def test_a_subscription_made_with_an_api_key_stops_when_the_key_is_revoked(strict_deps, persona):
    """#15: revoking the key a subscription was created with stops its deliveries."""
    with strict_deps.session_factory.begin() as session:
        owner = session.execute(select(User).where(User.email == email_of("registrar_austin"))).scalar_one()
        key, plaintext = create_api_key(session, owner, "partner sync", ["sis.write"])
        principal = authenticate_api_key(session, plaintext)
    _subscribe(strict_deps, principal, "https://hooks.partner.example/sis")
    dispatcher = Dispatcher(strict_deps.session_factory, lambda *a: SendResult(200), webhooks=STRICT)
    _emit(strict_deps)
    assert dispatcher.fan_out()[1] == 1
    with strict_deps.session_factory.begin() as session:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=dt.datetime.now(dt.UTC)))
    _emit(strict_deps)
    assert dispatcher.fan_out()[1] == 0, "a revoked key stops deliveries"
    with strict_deps.session_factory.begin() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(revoked_at=None, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    _emit(strict_deps)
    assert dispatcher.fan_out()[1] == 0, "an expired key stops deliveries"
