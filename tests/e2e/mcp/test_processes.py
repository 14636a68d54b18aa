"""Several server processes over one database: any process answers any MCP request, and a revocation made
through one is applied by the others within the documented bound (docs/running/processes.md).

Real `sis serve` subprocesses on loopback, the real MCP client over streamable HTTP behind a round-robin
"load balancer" (an httpx transport that sends each request to the next process), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.models import User
from mcp_server.auth import create_api_key
from tests.conftest import ENGINES, fresh_database
from tests.personas import email_of

pytestmark = pytest.mark.anyio

# The load balancer's name: what clients put in Host, and what the servers are told to answer to.
LB_HOST = "sis.lb.test"
POLL_SECONDS = 0.5
# The documented bound on a revocation reaching every process: one poll interval plus one token read,
# given as one second (processes.md). Used only as the deadline of the wait below.
REVOCATION_BOUND_SECONDS = POLL_SECONDS + 1.0
# Remembered verifications would keep a revoked key working this long without the watch.
AUTH_CACHE_SECONDS = 600
STARTUP_SECONDS = 90


@dataclass
class Database:
    engine: Engine
    url: str


@pytest.fixture(scope="module", params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A demo database of this module's own (the servers' start-up job advances enrollments to today)."""
    engine = fresh_database(request.param, request, tmp_path_factory, "procs", demo=True)
    yield Database(engine=engine, url=engine.url.render_as_string(hide_password=False))
    engine.dispose()


def _key(database: Database, persona: str, name: str, scopes: list[str]) -> tuple[str, str]:
    """A new API key for the persona: (its id, the plaintext)."""
    with Session(database.engine) as session, session.begin():
        user = session.execute(select(User).where(User.email == email_of(persona))).scalar_one()
        key, plaintext = create_api_key(session, user, name, scopes)
        return str(key.id), plaintext


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(database: Database) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update(
        SIS_DATABASE_URL=database.url,
        SIS_ALLOWED_HOSTS=LB_HOST,
        SIS_AUTH_CACHE_SECONDS=str(AUTH_CACHE_SECONDS),
        SIS_CACHE_POLL_SECONDS=str(POLL_SECONDS),
    )
    return env


@contextlib.contextmanager
def sis_serve(database: Database, *args: str) -> Iterator[int]:
    """`sis serve` as a subprocess on a free loopback port, ready when /healthz answers; yields the port."""
    port = _free_port()
    command = [sys.executable, "-c", "from mcp_server.cli import main; main()", "serve", "--port", str(port), *args]
    process = subprocess.Popen(
        command, env=_server_env(database), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"sis serve exited with {process.returncode}: {process.stderr.read()[-2000:]}")
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("sis serve did not start")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each request goes to the next server port; Host stays the balancer's."""

    def __init__(self, ports: list[int], *, keep_alive: bool = True) -> None:
        limits = httpx2.Limits() if keep_alive else httpx2.Limits(max_keepalive_connections=0)
        self._inner = httpx2.AsyncHTTPTransport(limits=limits)
        self._ports = itertools.cycle(ports)
        self.sent_to: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self._ports)
        self.sent_to.append(port)
        request.url = request.url.copy_with(host="127.0.0.1", port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _client(transport: httpx2.AsyncBaseTransport, key: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=transport, base_url=f"http://{LB_HOST}", headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


async def _mcp_calls(http: httpx2.AsyncClient, calls: int) -> list[dict]:
    """One MCP client session: list the tools, then `calls` tool calls; every answer's structured content."""
    answers = []
    async with Client(streamable_http_client(f"http://{LB_HOST}/mcp/", http_client=http)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "query_roster" in names
        for i in range(calls):
            result = await (client.call_tool("whoami", {}) if i % 2 else client.call_tool("query_roster", {"limit": 5}))
            assert not result.is_error, result.content
            answers.append(result.structured_content)
    return answers


async def _whoami_status(http: httpx2.AsyncClient) -> int:
    """The HTTP status of one stateless tools/call (no initialize needed: no server-side session)."""
    response = await http.post(
        "/mcp/",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}},
        headers={"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"},
    )
    return response.status_code


async def test_one_mcp_client_alternating_between_two_servers_sees_no_session_errors_and_a_revocation_reaches_both(
    database,
):
    _, admin_key = _key(database, "network_admin", "procs admin", ["sis.read", "sis.write"])
    victim_id, victim_key = _key(database, "registrar_austin", "procs victim", ["sis.read"])
    with sis_serve(database) as first, sis_serve(database) as second:
        balancer = RoundRobin([first, second])
        async with _client(balancer, admin_key) as http:
            answers = await _mcp_calls(http, calls=8)
        assert {first, second} <= set(balancer.sent_to)
        assert all("items" in a or "email" in a for a in answers)

        # The victim's key is verified, and remembered for AUTH_CACHE_SECONDS, by the second server.
        async with _client(RoundRobin([second]), victim_key) as on_second:
            assert await _whoami_status(on_second) == 200
            # Revoked through the first server, by the network administrator, with the MCP tool.
            async with (
                _client(RoundRobin([first]), admin_key) as on_first,
                Client(streamable_http_client(f"http://{LB_HOST}/mcp/", http_client=on_first)) as admin,
            ):
                revoked = await admin.call_tool("revoke_api_key", {"key_id": victim_id, "reason": "test"})
            assert not revoked.is_error, revoked.content
            deadline = time.monotonic() + REVOCATION_BOUND_SECONDS
            status = await _whoami_status(on_second)
            while status == 200 and time.monotonic() < deadline:
                await anyio.sleep(0.05)
                status = await _whoami_status(on_second)
        assert status == 401
        async with _client(RoundRobin([first]), victim_key) as on_first:
            assert await _whoami_status(on_first) == 401


async def test_sis_serve_with_two_workers_answers_every_mcp_request_on_new_connections(database):
    """With per-worker sessions, about half of the requests on new connections found no session (404)."""
    _, key = _key(database, "registrar_austin", "procs workers", ["sis.read"])
    with sis_serve(database, "--workers", "2") as port:
        balancer = RoundRobin([port], keep_alive=False)
        async with _client(balancer, key) as http:
            answers = await _mcp_calls(http, calls=10)
    assert len(answers) == 10 and all(answers)
