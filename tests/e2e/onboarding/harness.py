"""An empty database made into a network by `sis init`, then driven through one face (MCP or REST).

The face is the only way in after `sis init`: every id and every key the scenario uses comes back
from a call it made, so nothing here reaches into the database but the final checks' own reads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server.app import create_app

BASE = "http://127.0.0.1:8000"
KEY_PATTERN = re.compile(r"\bsis_[a-z]+_[0-9a-f]{8}_[A-Za-z0-9_\-]+")


class CallRefused(Exception):
    """A tool call answered with an error: its code, message and field."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')} (field {error.get('field')})")
        self.error = error

    @property
    def code(self) -> str:
        return str(self.error.get("code"))


def sis_init(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`sis init ...` as a separate process against `database_url` (what an operator runs)."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env["SIS_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-c", "from mcp_server.cli import main; main()", "init", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def key_from(output: str) -> str:
    """The one API key `sis init` printed."""
    keys = KEY_PATTERN.findall(output)
    assert len(keys) == 1, f"expected one API key in the output, got {len(keys)}:\n{output}"
    return keys[0]


@dataclass
class Face:
    """Calls tools by name with a key, over MCP (streamable HTTP) or REST (/api/v1/tools/{name})."""

    kind: str
    app: Any
    http: httpx2.AsyncClient
    calls: list[str] = field(default_factory=list)

    async def call(self, key: str, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """The tool's structured output; CallRefused when the call answered with an error."""
        self.calls.append(tool)
        args = json.loads(json.dumps(args or {}, default=str))
        if self.kind == "rest":
            response = await self.http.post(
                f"/api/v1/tools/{tool}", json=args, headers={"Authorization": f"Bearer {key}"}
            )
            body = response.json()
            if response.status_code >= 400:
                assert 400 <= response.status_code < 500, f"{tool} answered {response.status_code}: {body}"
                raise CallRefused(body["error"])
            return dict(body["output"])
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=BASE, headers=headers) as http,
            Client(streamable_http_client(f"{BASE}/mcp/", http_client=http)) as client,
        ):
            result = await client.call_tool(tool, args)
        if result.is_error:
            text = result.content[0].text if result.content else "{}"
            try:
                error = json.loads(text)
            except json.JSONDecodeError:
                error = {"code": "error", "message": text}
            raise CallRefused(error.get("error", error))
        return dict(result.structured_content or {})

    async def refused(self, key: str, tool: str, args: dict[str, Any] | None = None) -> CallRefused:
        """The refusal of a call that must fail."""
        try:
            output = await self.call(key, tool, args)
        except CallRefused as refusal:
            return refusal
        raise AssertionError(f"{tool} should have been refused, answered {output}")


@asynccontextmanager
async def face(kind: str, engine: Any) -> AsyncIterator[Face]:
    """An app over `engine` and a Face of the given kind on it, for the duration of a scenario."""
    app = create_app(engine, base_url=BASE)
    async with (
        app.state.mcp.session_manager.run(),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE) as http,
    ):
        yield Face(kind=kind, app=app, http=http)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
