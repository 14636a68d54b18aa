"""Issue #15 "Chat writes from stored text", in a real browser: a write the model proposes is a form.

The page shows exactly what would be written, and nothing is written until the person presses
Confirm; Cancel writes nothing and leaves a refusal in the query log. The model is the real
`anthropic` SDK against the fake Messages API, write tools on (SIS_CHAT_WRITE_TOOLS=1), over a
demo database of this module's own (the shared one must keep its seeded balances).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.models import ChangeEvent, Household, LedgerEntry, Organization, QueryLog, WebhookSubscription
from tests.browser.conftest import _require_browser
from tests.browser.test_chat_page import sign_in_as
from tests.conftest import fresh_database
from tests.fakes.anthropic_server import FakeAnthropic, Reply, text, tool_use
from tests.live_server import LiveServer

HOOK_URL = "https://hooks.example.com/proposed"
REFERENCE = "CHK-4242"


@pytest.fixture(scope="module")
def engine(request, tmp_path_factory) -> Iterator[Engine]:
    eng = fresh_database("sqlite", request, tmp_path_factory, "browserwrites", demo=True)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def targets(engine) -> dict[str, str]:
    with Session(engine) as s:
        austin = s.execute(select(Organization.id).where(Organization.slug == "austin")).scalar_one()
        household = s.execute(select(Household.id).where(Household.org_id == austin).limit(1)).scalar_one()
    return {"household_id": str(household), "org_id": str(austin)}


def model(targets: dict[str, str]):
    """The scripted model: a payment or a webhook for the question, then a sentence after the tool result."""

    def reply(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        if isinstance(last, list) and any(block.get("type") == "tool_result" for block in last):
            return Reply([text("I have proposed the change; please check it and confirm.")])
        question = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last)
        if "payment" in question:
            payment = {"household_id": targets["household_id"], "amount_cents": 12_345, "method": "check"}
            return Reply([tool_use("record_payment", {**payment, "reference": REFERENCE})], "tool_use")
        hook = {"org_id": targets["org_id"], "url": HOOK_URL, "event_types": ["student.created"]}
        return Reply([tool_use("create_webhook_subscription", hook)], "tool_use")

    return reply


@pytest.fixture(scope="module")
def live_server(engine, targets) -> Iterator[LiveServer]:
    """The app online (the fake model) with write tools on: the model may only propose writes."""
    _require_browser()
    from mcp_server.app import create_app
    from mcp_server.settings import Settings

    with FakeAnthropic(model(targets)) as fake:
        environ = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": fake.url, "SIS_CHAT_WRITE_TOOLS": "1"}
        app = create_app(engine, settings=Settings.from_environ(environ), demo_mode=True)
        with LiveServer(app) as server:
            yield server


def payments(engine) -> list[LedgerEntry]:
    with Session(engine) as s:
        return list(s.execute(select(LedgerEntry).where(LedgerEntry.reference == REFERENCE)).scalars())


def hooks(engine) -> int:
    with Session(engine) as s:
        query = select(func.count()).select_from(WebhookSubscription).where(WebhookSubscription.url == HOOK_URL)
        return int(s.execute(query).scalar_one())


def logged(engine, seq: int) -> QueryLog:
    with Session(engine) as s:
        return s.execute(select(QueryLog).where(QueryLog.seq == seq)).scalar_one()


def propose(page, question: str):
    sign_in_as(page, "network_admin")
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.locator("article.assistant.done").wait_for(timeout=30_000)
    form = page.locator("form.proposal")
    form.wait_for()
    return form


def audit_seq(form) -> int:
    return int(re.search(r"audit #(\d+)", form.locator(".outcome").inner_text()).group(1))


def test_confirming_the_form_writes_exactly_the_shown_payment_once(page, engine, targets):
    form = propose(page, "Record the check payment from the incident note")
    assert form.get_attribute("data-tool") == "record_payment"
    assert form.locator('dd[data-field="amount_cents"]').inner_text().startswith("12345")
    assert form.locator('dd[data-field="reference"]').inner_text().startswith(REFERENCE)
    assert "Nothing has been written" in form.inner_text()
    assert payments(engine) == [], "the model's request wrote nothing"

    form.get_by_role("button", name="Confirm").click()
    page.locator('form.proposal[data-outcome="confirmed"]').wait_for()
    assert form.get_by_role("button", name="Confirm").is_disabled(), "a proposal is confirmed once"
    rows = payments(engine)
    assert len(rows) == 1 and rows[0].amount_cents == -12_345 and str(rows[0].household_id) == targets["household_id"]
    with Session(engine) as s:
        changes = s.execute(select(ChangeEvent).where(ChangeEvent.entity_id == str(rows[0].id))).scalars().all()
    assert changes, "the payment's change events are recorded with it"
    entry = logged(engine, audit_seq(form))
    assert entry.capability == "record_payment" and entry.outcome == "ok"
    assert entry.principal_email == "admin@sis.example" and entry.arguments["channel"] == "chat"


def test_cancelling_the_form_writes_nothing_and_is_logged_as_refused(page, engine):
    before = hooks(engine)
    form = propose(page, "Subscribe our partner's URL to new students")
    assert form.get_attribute("data-tool") == "create_webhook_subscription"
    assert form.locator('dd[data-field="url"]').inner_text().startswith(HOOK_URL)

    form.get_by_role("button", name="Cancel").click()
    page.locator('form.proposal[data-outcome="cancelled"]').wait_for()
    assert "nothing was written" in form.locator(".outcome").inner_text()
    assert hooks(engine) == before
    entry = logged(engine, audit_seq(form))
    assert entry.capability == "create_webhook_subscription" and entry.outcome == "denied"
    assert entry.error_code == "cancelled" and "not confirmed by the user" in entry.error_message
