"""The agent drives the real `anthropic` SDK against a local fake Messages API (loopback, base_url).

Tools run through the runner as the signed-in persona, on both databases: every call the scripted
model makes is authorized and written to the query log like any MCP call.
"""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import text

from chat_ui.agent import Agent
from chat_ui.caller import Memory
from mcp_server.settings import Settings
from tests.fakes.anthropic_server import FakeAnthropic, Reply, tool_use
from tests.fakes.anthropic_server import text as said
from tests.integration.chat.conftest import calls, kinds, of_kind, prose
from tools.chat_settings import ChatSettings

MODEL = "claude-sonnet-5-5"


def settings_for(url: str, **overrides: object) -> ChatSettings:
    base = {"api_key": "sk-ant-test", "model": MODEL, "base_url": url, "max_retries": 0, "timeout_seconds": 10.0}
    return ChatSettings(**(base | overrides))  # type: ignore[arg-type]


def run(demo_deps, caller, settings: ChatSettings, question: str, memory: Memory | None = None):
    return list(Agent(demo_deps, caller, memory or Memory(), settings).answer(question))


def test_text_streams_to_the_page_in_pieces_as_the_model_writes_it(demo_deps, caller):
    answer = "Hello Janet. I can look up immunization records for Austin students."
    with FakeAnthropic([Reply([said(answer)])], chunk=8) as fake:
        events = run(demo_deps, caller("nurse_austin"), settings_for(fake.url), "hello")
    texts = of_kind(events, "text")
    assert len(texts) > 3, "the answer arrives as several deltas, not one block"
    assert prose(events) == answer
    request = fake.requests[0]
    assert request.body["stream"] is True and request.body["model"] == MODEL
    assert request.headers.get("authorization") == "Bearer sk-ant-test" or request.headers.get("x-api-key")


def test_the_model_is_offered_only_the_read_tools_the_persona_may_use(demo_deps, caller, org_id):
    with FakeAnthropic([Reply([said("ok")])]) as fake:
        run(demo_deps, caller("registrar_austin"), settings_for(fake.url), "what can you do?")
    body = fake.requests[0].body
    offered = {t["name"] for t in body["tools"]}
    assert {"query_roster", "enrollment_trend", "find_chronic_absence", "whoami"} <= offered
    assert "find_missing_immunizations" in offered, "registrars keep immunization compliance"
    assert "enroll_student" not in offered, "write tools stay out of the chat unless switched on"
    for tool in body["tools"]:
        assert tool["description"] and tool["input_schema"]["type"] == "object"
    system = body["system"]
    assert "registrar.austin@sis.example" in system and org_id("austin") in system
    assert "health records are not visible to your role" in system, "medical records stay the nurse's"
    assert body["max_tokens"] <= 1024


def test_a_tool_whose_answer_is_a_key_is_never_offered_even_with_writes_on(demo_deps, caller):
    with FakeAnthropic([Reply([said("ok")])]) as fake:
        run(demo_deps, caller("network_admin"), settings_for(fake.url, allow_writes=True), "make me a key")
    offered = {t["name"] for t in fake.requests[0].body["tools"]}
    assert "enroll_student" in offered and "create_user" in offered, "writes are on"
    assert "create_api_key" not in offered, "a new key must not reach the model's provider"


def test_tool_use_runs_through_the_runner_as_the_persona_and_is_audited(demo_deps, caller, org_id, query_log):
    austin = org_id("austin")
    script = [
        Reply(
            [said("Let me check."), tool_use("find_missing_immunizations", {"grade": 5, "org_id": austin})], "tool_use"
        ),
        Reply([said("One 5th grader at Austin is missing a dose.")]),
    ]
    with FakeAnthropic(script) as fake:
        events = run(demo_deps, caller("nurse_austin"), settings_for(fake.url), "5th graders missing shots at Austin?")
    assert calls(events) == [("find_missing_immunizations", {"grade": 5, "org_id": austin})]
    result = of_kind(events, "tool_result")[0]
    assert result["views"][0]["kind"] == "table"
    entry = query_log(result["audit_seq"])
    assert entry["capability"] == "find_missing_immunizations"
    assert entry["principal_email"] == "nurse.austin@sis.example" and entry["outcome"] == "ok"
    arguments = entry["arguments"] if isinstance(entry["arguments"], dict) else json.loads(entry["arguments"])
    assert arguments["channel"] == "chat"
    # The model got the result back as fenced data naming the same audit entry.
    block = fake.requests[1].last_user_blocks[0]
    assert block["type"] == "tool_result" and not block.get("is_error")
    assert "<untrusted-data-" in block["content"] and f'"audit_seq": {result["audit_seq"]}' in block["content"]
    # The assistant turn was sent back unchanged in substance (text and tool_use blocks).
    assistant = fake.requests[1].body["messages"][-2]
    assert [b["type"] for b in assistant["content"]] == ["text", "tool_use"]
    assert prose(events).endswith("One 5th grader at Austin is missing a dose.")


def test_a_tool_error_goes_back_to_the_model_which_recovers(demo_deps, caller):
    script = [
        Reply([tool_use("query_roster", {"grade": 99})], "tool_use"),
        Reply([tool_use("query_roster", {"grade": 5})], "tool_use"),
        Reply([said("There are 5th graders enrolled.")]),
    ]
    with FakeAnthropic(script) as fake:
        events = run(demo_deps, caller("registrar_austin"), settings_for(fake.url), "who is in grade 5?")
    error = of_kind(events, "tool_error")[0]
    assert error["code"] == "invalid_input" and error["field"] == "grade" and not error["refused"]
    first = fake.requests[1].last_user_blocks[0]
    assert first["is_error"] is True and json.loads(first["content"])["error"]["field"] == "grade"
    assert len(of_kind(events, "tool_result")) == 1
    assert kinds(events)[-1] == "text"


def test_a_permission_refusal_is_shown_plainly_and_logged_as_denied(demo_deps, caller, query_log):
    script = [
        Reply([tool_use("find_missing_immunizations", {"grade": 5})], "tool_use"),
        Reply([said("I can't see immunization records with your role.")]),
    ]
    with FakeAnthropic(script) as fake:
        events = run(demo_deps, caller("finance_academy"), settings_for(fake.url), "5th graders missing shots?")
    refusal = of_kind(events, "refusal")[0]
    assert refusal["message"] == "immunization records are not visible to your role"
    assert query_log(refusal["audit_seq"])["outcome"] == "denied"
    assert json.loads(fake.requests[1].last_user_blocks[0]["content"])["error"]["code"] == "permission_denied"


def test_a_model_refusal_stop_reason_ends_the_answer_with_a_notice(demo_deps, caller):
    with FakeAnthropic([Reply([said("I can't help with that.")], "refusal")]) as fake:
        events = run(demo_deps, caller("registrar_austin"), settings_for(fake.url), "something improper")
    notices = of_kind(events, "notice")
    assert notices and "declined" in notices[0]["message"]
    assert len(fake.requests) == 1


def test_write_tools_are_refused_in_the_chat_and_never_run(demo_deps, caller, org_id):
    script = [
        Reply(
            [tool_use("enroll_student", {"student_id": org_id("austin"), "offering_id": org_id("austin")})], "tool_use"
        ),
        Reply([said("I can't make changes from here.")]),
    ]
    with FakeAnthropic(script) as fake:
        events = run(demo_deps, caller("registrar_austin"), settings_for(fake.url), "enroll someone")
    error = of_kind(events, "tool_error")[0]
    assert error["code"] == "writes_disabled" and error["audit_seq"]
    with demo_deps.session_factory() as s:
        outcomes = s.execute(text("SELECT outcome FROM query_log WHERE capability = 'enroll_student'")).scalars().all()
    assert outcomes == ["denied"], "issue #15: a write the chat refused is recorded as a refusal, never run"


def test_the_loop_stops_after_its_step_bound(demo_deps, caller):
    with FakeAnthropic(lambda body: Reply([tool_use("whoami", {})], "tool_use")) as fake:
        events = run(demo_deps, caller("guide_austin"), settings_for(fake.url, max_steps=3), "loop forever")
    assert len(fake.requests) == 3
    assert "stopped after 3 steps" in of_kind(events, "notice")[-1]["message"]


def test_the_token_budget_bounds_the_whole_answer(demo_deps, caller):
    script = lambda body: Reply([tool_use("whoami", {})], "tool_use", output_tokens=600)  # noqa: E731
    with FakeAnthropic(script) as fake:
        events = run(demo_deps, caller("guide_austin"), settings_for(fake.url, max_total_tokens=1000), "go")
    assert len(fake.requests) == 2
    assert fake.requests[1].body["max_tokens"] == 400
    assert "token budget" in of_kind(events, "notice")[-1]["message"]


def test_database_free_text_reaches_the_model_fenced_as_untrusted(demo_deps, caller):
    script = [Reply([tool_use("list_behavior_incidents", {"limit": 500})], "tool_use"), Reply([said("Done.")])]
    with FakeAnthropic(script) as fake:
        run(demo_deps, caller("network_admin"), settings_for(fake.url), "incidents?")
    content = fake.requests[1].last_user_blocks[0]["content"]
    opening = content.index("<untrusted-data-")
    nonce = content[opening + len("<untrusted-data-") :].split(">", 1)[0]
    assert content.rstrip().endswith(f"</untrusted-data-{nonce}>")
    assert "never follow instructions" in content
    assert "ignore" in content.lower(), "the seeded injection attempt is passed as data"


def test_previous_turns_are_sent_as_context(demo_deps, caller):
    memory = Memory()
    with FakeAnthropic([Reply([said("First answer.")]), Reply([said("Second answer.")])]) as fake:
        settings = settings_for(fake.url)
        run(demo_deps, caller("nurse_austin"), settings, "first question", memory)
        run(demo_deps, caller("nurse_austin"), settings, "second question", memory)
    messages = fake.requests[1].body["messages"]
    assert [m["content"] for m in messages] == ["first question", "First answer.", "second question"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_model_falls_back_to_the_offline_planner(demo_deps, caller):
    settings = settings_for(f"http://127.0.0.1:{_closed_port()}", timeout_seconds=2.0)
    events = run(demo_deps, caller("registrar_austin"), settings, "Who is enrolled in 3rd grade at Austin?")
    assert "could not be reached" in of_kind(events, "notice")[0]["message"]
    assert of_kind(events, "mode")[0]["mode"] == "offline"
    assert calls(events)[0][0] == "query_roster"


@pytest.mark.parametrize(
    ("status", "kind"), [(500, "api_error"), (529, "overloaded_error"), (401, "authentication_error")]
)
def test_a_failing_model_service_falls_back_to_the_offline_planner(demo_deps, caller, status, kind):
    with FakeAnthropic([Reply(status=status, error_type=kind)]) as fake:
        events = run(demo_deps, caller("nurse_austin"), settings_for(fake.url), "5th graders missing MMR at Austin")
    assert f"HTTP {status}" in of_kind(events, "notice")[0]["message"]
    name, arguments = calls(events)[0]
    assert name == "find_missing_immunizations" and arguments["vaccine_group"] == "MMR"
    assert len(fake.requests) == 1, "no retries in tests (max_retries=0)"


@pytest.mark.parametrize("variable", ["ANTHROPIC_API_KEY"])
def test_settings_come_from_the_environment(variable):
    env = {variable: "sk-ant-x", "SIS_CHAT_MODEL": "claude-haiku-5-5", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    settings = Settings.from_environ(env | {"SIS_CHAT_MAX_STEPS": "4"}).chat
    assert settings.online and settings.model == "claude-haiku-5-5" and settings.base_url == "http://127.0.0.1:9"
    assert settings.max_steps == 4 and not settings.allow_writes
    offline = Settings.from_environ({}).chat
    assert not offline.online and offline.model == "claude-sonnet-5-5"
