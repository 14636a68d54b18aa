"""Issue #15, "Host header": every web route refuses a Host this server does not answer to (DNS
rebinding against `sis demo`), and an unsafe method from a cross-site Origin.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from mcp_server.app import create_app
from mcp_server.settings import Settings


def test_a_foreign_host_is_refused_on_chat_and_rest(served_db):
    client = TestClient(create_app(served_db.engine, demo_mode=True))
    for path in ("/chat", "/api/v1/me", "/chat/api/config"):
        answer = client.get(path, headers={"Host": "evil.example"})
        assert answer.status_code == 400, path
        assert answer.json()["error"]["code"] == "host_not_allowed"
    rebinding = client.post(
        "/chat/api/session", json={"persona": "network_admin"}, headers={"Host": "evil.example:8000"}
    )
    assert rebinding.status_code == 400


def test_a_cross_site_origin_on_a_post_is_refused(served_db):
    client = TestClient(create_app(served_db.engine, demo_mode=True), base_url="http://127.0.0.1:8000")
    answer = client.post("/chat/api/session", json={"persona": "x"}, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "origin_not_allowed"
    same_site = client.post("/chat/api/session", json={"persona": "x"}, headers={"Origin": "http://127.0.0.1:8000"})
    assert same_site.status_code != 403


def test_health_stays_reachable_on_allowed_hosts(served_db):
    settings = Settings(allowed_hosts=("sis.example:443",))
    client = TestClient(create_app(served_db.engine, settings=settings))
    for host in ("127.0.0.1:8000", "localhost", "sis.example", "10.1.2.3:8000", "testserver"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    assert client.get("/healthz", headers={"Host": "sis.example.evil.example"}).status_code == 400
