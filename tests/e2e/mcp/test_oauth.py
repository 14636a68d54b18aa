"""#20 "OAuth for MCP clients": /mcp as an OAuth 2.1 resource server.

The 401 names the RFC 9728 metadata, which answers and names the authorization server; JWT access
tokens from the configured issuer (a real issuer on loopback publishing OpenID discovery and a JWKS,
tokens signed RS256) are verified by signature, issuer, audience and expiry, mapped to the user by
verified email and narrowed by scope; the real MCP client over streamable HTTP calls tools with one.
API keys keep working beside them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server.app import create_app
from mcp_server.settings import Settings
from tests.personas import email_of

pytestmark = pytest.mark.anyio
BASE = "http://127.0.0.1:8000"
AUDIENCE = f"{BASE}/mcp"


class Issuer:
    """An authorization server's public face: discovery and its signing keys; it signs test tokens."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                documents = {
                    "/.well-known/openid-configuration": {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks.json"},
                    "/jwks.json": issuer.jwks,
                }
                body = json.dumps(documents.get(self.path, {})).encode()
                self.send_response(200 if self.path in documents else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, email: str, *, scope: str = "sis.read", signer=None, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "user-123",
            "client_id": "claude-desktop",
            "email": email,
            "email_verified": True,
            "scope": scope,
            "iat": now,
            "exp": now + 300,
        } | overrides
        return jwt.encode(claims, signer or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    yield found
    found.server.shutdown()


def app_for(served_db, issuer: Issuer):
    settings = Settings.from_environ({"SIS_OAUTH_ISSUER": issuer.url, "SIS_PUBLIC_URL": BASE})
    return create_app(served_db.engine, settings=settings, base_url=BASE)


async def post_mcp(app, token: str) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=app)
    async with app.state.mcp.session_manager.run(), httpx2.AsyncClient(transport=transport, base_url=BASE) as http:
        return await http.post(
            "/mcp/",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {token}"},
        )


async def test_the_401_points_to_metadata_that_names_the_issuer(served_db, issuer):
    app = app_for(served_db, issuer)
    refused = await post_mcp(app, "not-a-token")
    assert refused.status_code == 401
    assert f'resource_metadata="{BASE}/.well-known/oauth-protected-resource/mcp"' in refused.headers["www-authenticate"]
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE) as http:
        metadata = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert metadata["resource"] == AUDIENCE and metadata["authorization_servers"] == [issuer.url]
    assert set(metadata["scopes_supported"]) == {"sis.read", "sis.write", "audit.read"}


async def test_the_real_mcp_client_calls_tools_with_an_issuer_token_narrowed_by_its_scope(served_db, issuer):
    app = app_for(served_db, issuer)
    token = issuer.token(email_of("registrar_austin"), scope="openid sis.read")
    transport = httpx2.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        app.state.mcp.session_manager.run(),
        httpx2.AsyncClient(transport=transport, base_url=BASE, headers=headers) as http,
        Client(streamable_http_client(f"{BASE}/mcp/", http_client=http)) as client,
    ):
        me = await client.call_tool("whoami", {})
        roster = await client.call_tool("query_roster", {"limit": 5})
        write = await client.call_tool("record_attendance", {"student_id": "00000000-0000-0000-0000-000000000000"})
    assert me.structured_content["email"] == email_of("registrar_austin")
    assert not roster.is_error and roster.structured_content["total"] > 0
    assert write.is_error, "sis.read does not write, whatever the registrar's role allows"


@pytest.mark.parametrize(
    "spoil",
    [
        {"aud": "https://another.example/mcp"},
        {"iss": "https://another-issuer.example"},
        {"exp": int(time.time()) - 3600},
        {"email_verified": False},
        {"subject_email": "nobody@nowhere.example"},
        {"scope": "openid profile"},
    ],
    ids=["audience", "issuer", "expired", "unverified-email", "unknown-user", "no-known-scope"],
)
async def test_a_token_that_fails_any_check_is_refused(served_db, issuer, spoil):
    app = app_for(served_db, issuer)
    spoil = dict(spoil)  # the parameter is shared by both engines
    email = spoil.pop("subject_email", email_of("registrar_austin"))
    token = issuer.token(email, **spoil)
    assert (await post_mcp(app, token)).status_code == 401


async def test_a_token_signed_by_another_key_is_refused_and_api_keys_still_work(served_db, issuer):
    app = app_for(served_db, issuer)
    forged = issuer.token(email_of("network_admin"), signer=issuer.other_key, scope="sis.read sis.write")
    assert (await post_mcp(app, forged)).status_code == 401
    assert (await post_mcp(app_for(served_db, issuer), served_db.keys["registrar_austin"])).status_code == 200
