"""Host and Origin checks for every web route, and the caller's address for the MCP face's guard.

A page that DNS-rebinds its own name to a running server makes the browser send `Host: <its
name>`; refusing names the server does not answer to stops it on every route (the MCP endpoint
also keeps the SDK's own exact host:port check). A name passes when it is one the server serves on
(its base URL, loopback, SIS_ALLOWED_HOSTS, on any port), an IP literal, or a single-label name
("localhost", a container name, TestClient's "testserver"): a rebinding page can only send a
public DNS name it controls, which always has a dot. An unsafe method (POST, PUT, PATCH, DELETE)
with an `Origin` must come from the request's own origin or an allowed host:port.
"""

from __future__ import annotations

import ipaddress
import json
import math
from contextvars import ContextVar
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# The source address of the request being handled, for faces whose auth hook is not handed it (MCP).
REQUEST_ADDRESS: ContextVar[str | None] = ContextVar("sis_request_address", default=None)
# Set by the MCP token verifier when a failure is throttled: seconds the caller must wait.
MCP_RETRY_AFTER: ContextVar[list[int] | None] = ContextVar("sis_mcp_retry_after", default=None)


def _hostname(netloc: str) -> str:
    """The host part of "host[:port]" or "[v6]:port", lowercased, without a trailing dot."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0].rstrip(".") if netloc.count(":") == 1 else netloc.rstrip(".")


def host_allowed(netloc: str, names: frozenset[str]) -> bool:
    """True when a Host header names this server (see the module docstring for the rule)."""
    name = _hostname(netloc)
    if not name or name in names or ("." not in name and ":" not in name):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


async def _refuse(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "field": None, "audit_seq": None}}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


class WebGuard:
    """Pure ASGI middleware: refuse foreign Host (400) and cross-site Origin on unsafe methods (403)."""

    def __init__(self, app: ASGIApp, *, hosts: list[str]) -> None:
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)
        self.names = frozenset(_hostname(h) for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        # /mcp keeps the SDK's stricter check (exact host:port and Origin), answered as the SDK answers it.
        mcp = scope.get("path", "") == "/mcp" or scope.get("path", "").startswith("/mcp/")
        if not mcp and not host_allowed(host, self.names):
            shown = host[:100]
            await _refuse(
                send,
                400,
                "host_not_allowed",
                f"this server does not answer to the host {shown!r}; an operator adds it to SIS_ALLOWED_HOSTS",
            )
            return
        origin = headers.get("origin")
        if origin is not None and not mcp and scope.get("method", "GET") not in SAFE_METHODS:
            netloc = urlsplit(origin).netloc.lower() if "://" in origin else ""
            if not netloc or (netloc != host.lower() and netloc not in self.hosts):
                await _refuse(
                    send, 403, "origin_not_allowed", f"cross-site {scope.get('method')} from origin {origin[:100]!r}"
                )
                return
        client = scope.get("client")
        token = REQUEST_ADDRESS.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_ADDRESS.reset(token)


class ThrottledMCP:
    """Wraps the MCP app: a 401 the token verifier marked as throttled goes out as 429 with Retry-After."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        verdict: list[int] = []
        token = MCP_RETRY_AFTER.set(verdict)
        replaced = False

        async def send_(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start" and message["status"] == 401 and verdict:
                replaced = True
                wait = max(1, math.ceil(max(verdict)))
                message_text = (
                    f"too many failed authentications from this address or for this key; try again in {wait} seconds"
                )
                await _refuse(send, 429, "too_many_failures", message_text, {"Retry-After": str(wait)})
                return
            await send(message)

        try:
            await self.app(scope, receive, send_)
        finally:
            MCP_RETRY_AFTER.reset(token)
