"""Issue #15, "the red-team probes re-run give zero of them through": the probes of the issue, replayed.

Each finding has its own regression test beside the module that fixes it; this module replays the
issue's probes as an attacker sends them, over HTTP to a real uvicorn on loopback, on both engines,
and checks that none gets through: SSRF destinations, NUL bytes, spoofed server fields, CSV
formulas, unbounded numbers, duplicate payments, idempotency misuse, Host rebinding, brute force,
and the chat's unbounded periods. Probes that need a second process, a clock or a signing secret
(stdio revocation, SQLite concurrency, Stripe, checkpoints) are in their own modules.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.models import Household, LedgerEntry, Organization, QueryLog, QueryOutcome, User, WebhookSubscription
from mcp_server.app import create_app
from mcp_server.auth import create_api_key
from mcp_server.settings import Settings
from tests.conftest import ENGINES, fresh_database
from tests.live_server import LiveServer

ORG_SLUG = "austin"
HUGE = 2**63
FORMULAS = ('=HYPERLINK("https://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\t=1")


class Target:
    def __init__(self, engine: Engine, server: LiveServer, keys: dict[str, str], ids: dict[str, str]) -> None:
        self.engine, self.server, self.keys, self.ids = engine, server, keys, ids

    def client(self, persona: str | None = "network_admin", **headers: str) -> httpx.Client:
        if persona:
            headers["Authorization"] = f"Bearer {self.keys[persona]}"
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)

    def head(self) -> int:
        with Session(self.engine) as s:
            return int(s.execute(select(func.coalesce(func.max(QueryLog.seq), 0))).scalar_one())

    def entries_after(self, seq: int) -> list[QueryLog]:
        with Session(self.engine) as s:
            return list(s.execute(select(QueryLog).where(QueryLog.seq > seq).order_by(QueryLog.seq)).scalars())


@pytest.fixture(scope="module", params=ENGINES)
def target(request, tmp_path_factory) -> Iterator[Target]:
    """A demo database of this module's own behind a real uvicorn, http webhooks allowed (so that only the
    address rules stand between a subscription and the internal network)."""
    engine = fresh_database(request.param, request, tmp_path_factory, "redteam", demo=True)
    keys: dict[str, str] = {}
    with Session(engine) as s, s.begin():
        for persona, email in (("network_admin", "admin@sis.example"), ("registrar", "registrar.austin@sis.example")):
            user = s.execute(select(User).where(User.email == email)).scalar_one()
            _, keys[persona] = create_api_key(s, user, f"red team {persona}", ["sis.read", "sis.write", "audit.read"])
        org = s.execute(select(Organization.id).where(Organization.slug == ORG_SLUG)).scalar_one()
        household = s.execute(select(Household.id).where(Household.org_id == org).limit(1)).scalar_one()
    settings = Settings.from_environ({"SIS_WEBHOOK_ALLOW_HTTP": "1"})
    with LiveServer(create_app(engine, settings=settings, demo_mode=True)) as server:
        yield Target(engine, server, keys, {"org": str(org), "household": str(household)})
    engine.dispose()


def subscriptions(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(WebhookSubscription)).scalar_one())


def call(client: httpx.Client, tool: str, arguments: dict) -> httpx.Response:
    return client.post(f"/api/v1/tools/{tool}", json=arguments)


def test_no_internal_destination_is_accepted_as_a_webhook(target):
    own = target.server.url
    probes = [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://2130706433/hook",
        "http://0x7f000001/hook",
        "http://127.1/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://[fd00::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://224.0.0.1/hook",
        f"{own}/healthz",
        "https://user:secret@hooks.example.com/hook",
    ]
    before = subscriptions(target.engine)
    with target.client() as client:
        through = []
        for url in probes:
            answer = client.post(
                "/api/v1/webhooks", json={"org_id": target.ids["org"], "url": url, "event_types": ["*"]}
            )
            if answer.status_code < 400 or answer.status_code >= 500 or "url" not in answer.text:
                through.append((url, answer.status_code))
    assert through == []
    assert subscriptions(target.engine) == before


def test_nul_bytes_and_spoofed_server_fields_still_leave_an_entry(target):
    start = target.head()
    with target.client() as client:
        nul = call(client, "search_students", {"text": "a\x00b", "purpose": "audit\x00probe"})
        roster = client.get("/ims/oneroster/rostering/v1p2/students", params={"filter": "givenName='a\x00'"})
        spoofed = call(client, "no_such_tool", {"channel": "mcp", "guard": "passed"})
    assert nul.status_code < 500 and roster.status_code < 500 and spoofed.status_code == 404
    entries = target.entries_after(start)
    capabilities = [e.capability for e in entries]
    assert "search_students" in capabilities and "no_such_tool" in capabilities
    assert any("oneroster" in json.dumps(e.arguments) for e in entries), "the OneRoster call is on the log too"
    unknown = next(e for e in entries if e.capability == "no_such_tool")
    assert unknown.arguments["channel"] == "rest" and unknown.arguments.get("guard") != "passed"


def test_the_audit_export_runs_no_formula(target):
    with target.client() as client:
        for text in FORMULAS:
            assert call(client, "search_students", {"text": "x", "purpose": text}).status_code < 500
        export = client.get("/api/v1/audit/log.csv")
    assert export.status_code == 200
    cells = [cell for row in csv.reader(io.StringIO(export.text)) for cell in row]
    assert any("HYPERLINK" in cell for cell in cells), "the planted purposes are in the export"
    live = [c for c in cells if c[:1] in ("=", "+", "@", "\t") or (c[:1] == "-" and not c[1:2].isdigit())]
    assert live == []


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("GET", "/api/v1/students", {"offset": str(HUGE)}, "offset"),
        ("GET", "/api/v1/students", {"limit": str(HUGE)}, "limit"),
        ("TOOL", "list_outstanding_balances", {"over_dollars": "1e400"}, "over_dollars"),
        ("TOOL", "list_outstanding_balances", {"over_cents": HUGE}, "over_cents"),
        ("TOOL", "search_students", {"limit": "5"}, "limit"),
        ("PAYMENT", "", {"amount_cents": HUGE}, "amount_cents"),
        ("PAYMENT", "", {"amount_cents": 1e30}, "amount_cents"),
        ("GET", "/ims/oneroster/rostering/v1p2/students", {"offset": str(HUGE)}, "offset"),
    ],
)
def test_unbounded_numbers_are_a_4xx_naming_the_field(target, method, path, payload, field):
    with target.client() as client:
        if method == "GET":
            answer = client.get(path, params=payload)
        elif method == "TOOL":
            answer = call(client, path, payload)
        else:
            body = {"amount_cents": 100, "method": "check", "reference": secrets.token_hex(4), **payload}
            answer = client.post(f"/api/v1/households/{target.ids['household']}/payments", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert field in answer.text


def test_the_same_check_twice_is_one_payment_and_an_idempotency_key_is_bound_to_its_body(target):
    reference = f"CHK-{secrets.token_hex(3)}"
    body = {"amount_cents": 5_000, "method": "check", "reference": reference}
    path = f"/api/v1/households/{target.ids['household']}/payments"
    with target.client() as client:
        first = client.post(path, json=body, headers={"Idempotency-Key": f"k-{reference}"})
        replay = client.post(path, json=body, headers={"Idempotency-Key": f"k-{reference}"})
        other_body = client.post(
            path, json={**body, "amount_cents": 6_000}, headers={"Idempotency-Key": f"k-{reference}"}
        )
        again = client.post(path, json=body)
    assert first.status_code in (200, 201), first.text
    assert replay.status_code == first.status_code and replay.json() == first.json()
    assert other_body.status_code == 422
    assert 400 <= again.status_code < 500 and "confirm_duplicate" in again.text
    with Session(target.engine) as s:
        rows = s.execute(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.reference == reference))
        assert rows.scalar_one() == 1


def test_a_rebinding_host_gets_nothing(target):
    port = target.server.port
    for path in ("/chat", "/chat/api/config", "/api/v1/me", "/ims/oneroster/rostering/v1p2/students"):
        with target.client(Host="evil.example") as client:
            assert client.get(path).status_code == 400, path
        with target.client(Host=f"evil.example:{port}", Origin="http://evil.example") as client:
            assert client.get(path).status_code == 400, path
    with target.client() as client:
        page = client.get("/ims/oneroster/rostering/v1p2/students", params={"limit": 1})
    assert page.status_code == 200 and "evil.example" not in page.text + page.headers.get("link", "")


def test_a_burst_of_wrong_keys_is_throttled(target):
    """On a server of its own: the burst throttles loopback, which the other probes also come from."""
    start = target.head()
    statuses = []
    with LiveServer(create_app(target.engine)) as server:
        for _ in range(40):
            headers = {"Authorization": f"Bearer sis_live_{secrets.token_hex(4)}_{'x' * 40}"}
            statuses.append(httpx.get(f"{server.url}/api/v1/me", headers=headers, timeout=30))
    assert statuses[0].status_code == 401
    assert statuses[-1].status_code == 429 and int(statuses[-1].headers["Retry-After"]) > 0
    failures = [e for e in target.entries_after(start) if e.capability == "auth:rest"]
    assert failures and all(e.outcome is QueryOutcome.DENIED for e in failures), "the failures are on the log"


def test_the_chat_answers_unbounded_periods_and_amounts_without_failing(target):
    with target.client(None) as client:
        token = client.post("/chat/api/session", json={"persona": "network_admin"}).json()["token"]
        for question in (
            "payments in the last 99999999 months",
            "balances over $1e400",
            "who owes more than 9223372036854775808 dollars",
            "attendance for the last 99999999999999999999 days",
        ):
            answer = client.post(
                "/chat/api/ask", json={"question": question}, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200
            kinds = [line[7:] for line in answer.text.splitlines() if line.startswith("event: ")]
            assert "error" not in kinds, (question, answer.text)
            assert kinds[-1] == "done"


def test_every_probe_left_an_entry_and_the_chain_verifies(target):
    with target.client() as client:
        verify = client.get("/api/v1/audit/verify")
    assert verify.status_code == 200 and verify.json()["ok"] is True, verify.text
    with Session(target.engine) as s:
        invalid = s.execute(select(func.count()).select_from(QueryLog).where(QueryLog.outcome == QueryOutcome.INVALID))
        assert invalid.scalar_one() > 0
