"""The /chat page and its API over the real app (create_app) on a committed demo database, both engines."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import User
from mcp_server.app import create_app
from mcp_server.auth import create_api_key, revoke_api_key
from mcp_server.settings import Settings
from tests.e2e.conftest import served_db  # noqa: F401 - the shared committed demo database fixture
from tests.fakes.anthropic_server import FakeAnthropic, Reply, tool_use
from tests.fakes.anthropic_server import text as said


@pytest.fixture(scope="module")
def demo_app(served_db):  # noqa: F811
    """One demo-mode app per engine for the module (building the app takes seconds)."""
    with TestClient(create_app(served_db.engine, demo_mode=True)) as http:
        yield http


@pytest.fixture()
def client(demo_app):
    # The app's settings name no model key, so the chat answers offline.
    return demo_app


def sse(response) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a Server-Sent Events body."""
    found = []
    for block in response.text.strip().split("\n\n"):
        kind = re.search(r"^event: (.+)$", block, re.M).group(1)
        data = re.search(r"^data: (.+)$", block, re.M).group(1)
        found.append((kind, json.loads(data)))
    return found


def sign_in(client, **body) -> dict[str, str]:
    response = client.post("/chat/api/session", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_the_page_and_its_assets_are_served_locally_with_a_strict_policy(client):
    page = client.get("/chat")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    for name in ("app.js", "chart.js", "style.css"):
        asset = client.get(f"/chat/static/{name}")
        assert asset.status_code == 200 and asset.text
    for name in ("index.html", "app.js", "chart.js", "style.css"):
        source = resources.files("chat_ui").joinpath("static", name).read_text()
        # The only absolute URL allowed is the SVG namespace, which is a name, not a download.
        urls = set(re.findall(r"https?://[^\s\"'`)]+", source)) - {"http://www.w3.org/2000/svg"}
        assert not urls, f"{name} loads from elsewhere: {urls}"
    assert client.get("/chat/static/routes.py").status_code == 404
    assert client.get("/chat/static/..%2Froutes.py").status_code == 404


def test_demo_mode_offers_the_persona_picker(client):
    config = client.get("/chat/api/config").json()
    assert config["demo_mode"] and config["api_key_sign_in"]
    assert {"registrar_austin", "nurse_austin", "guide_austin"} <= {p["key"] for p in config["personas"]}
    assert config["assistant"] == {"mode": "offline", "model": None}


def test_outside_demo_mode_there_is_no_persona_picker(served_db):  # noqa: F811
    with TestClient(create_app(served_db.engine, demo_mode=False)) as http:
        assert http.get("/chat/api/config").json()["personas"] == []
        refused = http.post("/chat/api/session", json={"persona": "nurse_austin"})
        assert refused.status_code == 403 and "demo mode" in refused.json()["detail"]
        ok = http.post("/chat/api/session", json={"api_key": served_db.keys["nurse_austin"]})
        assert ok.status_code == 200


def test_sign_in_with_an_api_key_shows_who_you_are_and_what_you_may_see(client, served_db):  # noqa: F811
    body = client.post("/chat/api/session", json={"api_key": served_db.keys["registrar_austin"]}).json()
    banner = body["banner"]
    assert banner["email"] == "registrar.austin@sis.example" and banner["campuses"] == ["Austin"]
    assert any("health records" in line and "Not visible" in line for line in banner["lines"])
    assert not any("immunization records" in line and "Not visible" in line for line in banner["lines"])
    assert any("API key is limited" in line for line in banner["lines"])
    questions = [q["text"] for q in body["questions"]]
    assert "Who is enrolled in 3rd grade at Austin?" in questions, "suggestions name the caller's own campus"
    assert "Show me all 5th graders with incomplete immunization records at Austin" in questions
    assert "api_key" not in json.dumps(body) or body["method"] == "api_key"
    assert served_db.keys["registrar_austin"] not in json.dumps(body)


@pytest.mark.parametrize("key", ["", "sis_live_nope_notakey", "sis_live_00000000_" + "x" * 43])
def test_a_bad_api_key_is_refused(client, key):
    response = client.post("/chat/api/session", json={"api_key": key})
    assert response.status_code in {400, 401}


def test_asking_without_a_session_is_refused(client):
    assert client.post("/chat/api/ask", json={"question": "hi"}).status_code == 401
    assert (
        client.post("/chat/api/ask", json={"question": "hi"}, headers={"Authorization": "Bearer x"}).status_code == 401
    )


def test_an_answer_streams_as_server_sent_events_with_the_audit_id(client):
    headers = sign_in(client, persona="nurse_austin")
    question = "Show me all 5th graders with incomplete immunization records at Austin"
    response = client.post("/chat/api/ask", json={"question": question}, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse(response)
    kinds = [k for k, _ in events]
    assert kinds[0] == "mode" and kinds[-1] == "done"
    assert kinds.index("tool_call") < kinds.index("tool_result")
    result = next(d for k, d in events if k == "tool_result")
    assert result["name"] == "find_missing_immunizations" and result["audit_seq"] > 0


def test_the_registrar_answers_the_immunization_question_in_the_chat(client, served_db):  # noqa: F811
    headers = sign_in(client, persona="registrar_austin")
    question = "Show me all 5th graders with incomplete immunization records"
    events = sse(client.post("/chat/api/ask", json={"question": question}, headers=headers))
    assert not [d for k, d in events if k == "refusal"]
    result = next(d for k, d in events if k == "tool_result")
    assert result["name"] == "find_missing_immunizations" and result["audit_seq"] > 0
    table = result["views"][0]
    assert table["kind"] == "table" and table["rows"], "Austin has 5th graders with gaps in the demo"
    prose = "".join(d["delta"] for k, d in events if k == "text")
    assert "5th graders" in prose and "incomplete immunization records" in prose


def test_a_refusal_is_specific(client):
    headers = sign_in(client, persona="guide_austin")
    response = client.post(
        "/chat/api/ask", json={"question": "5th graders missing immunizations at Austin"}, headers=headers
    )
    refusal = next(d for k, d in sse(response) if k == "refusal")
    assert refusal["message"] == "immunization records are not visible to your role"


def test_sign_out_ends_the_session(client):
    headers = sign_in(client, persona="guide_austin")
    assert client.get("/chat/api/session", headers=headers).status_code == 200
    assert client.delete("/chat/api/session", headers=headers).status_code == 204
    assert client.post("/chat/api/ask", json={"question": "hi"}, headers=headers).status_code == 401


def test_a_revoked_key_stops_working_at_the_next_question(client, served_db):  # noqa: F811
    with Session(served_db.engine) as session, session.begin():
        user = session.execute(select(User).where(User.email == "guide.austin@sis.example")).scalar_one()
        key, plaintext = create_api_key(session, user, "chat revoke test", ["sis.read"])
        prefix = key.prefix
    headers = sign_in(client, api_key=plaintext)
    assert client.post("/chat/api/ask", json={"question": "who am i"}, headers=headers).status_code == 200
    with Session(served_db.engine) as session, session.begin():
        revoke_api_key(session, prefix)
    refused = client.post("/chat/api/ask", json={"question": "who am i"}, headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_with_a_model_key_the_agent_answers_through_the_fake_messages_api(served_db):  # noqa: F811
    script = [
        Reply([tool_use("query_roster", {"grade": 3})], "tool_use"),
        Reply([said("Here are the 3rd graders enrolled at Austin today.")]),
    ]
    with FakeAnthropic(script) as fake:
        environ = {
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "ANTHROPIC_BASE_URL": fake.url,
            "SIS_CHAT_MODEL": "claude-haiku-5-5",
        }
        online = create_app(served_db.engine, settings=Settings.from_environ(environ), demo_mode=True)
        with TestClient(online) as client:
            headers = sign_in(client, persona="registrar_austin")
            response = client.post("/chat/api/ask", json={"question": "who is in 3rd grade?"}, headers=headers)
            offline = client.post(
                "/chat/api/ask", json={"question": "who is in 3rd grade?", "mode": "offline"}, headers=headers
            )
    events = sse(response)
    assert events[0] == ("mode", {"mode": "anthropic", "label": "Claude (claude-haiku-5-5)"})
    assert [k for k, _ in events].count("text") > 1
    assert next(d for k, d in events if k == "tool_result")["name"] == "query_roster"
    assert fake.requests[0].body["model"] == "claude-haiku-5-5"
    assert sse(offline)[0][1]["mode"] == "offline"
