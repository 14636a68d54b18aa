"""The dispatcher's HTTP transport: POST to the checked address only, and report failures as categories.

The dispatcher resolves and checks a URL's host (webhook_worker.pin); this transport then dials that
address and no other, while the request keeps the URL's host name for the Host header, TLS SNI and
certificate verification, so a DNS answer that changes between the check and the connection (DNS
rebinding) cannot move the delivery to an internal address. Proxies from the environment are
ignored for the same reason, and redirects are not followed.
"""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx

from mcp_server.webhook_worker import PinnedTarget, Sender, SendResult

RESPONSE_EXCERPT = 500


class _PinnedBackend(httpcore.SyncBackend):
    """Connects to one address whatever host the connection pool asks for."""

    def __init__(self, address: str) -> None:
        self.address = address

    def connect_tcp(self, host: str, port: int, *args: typing.Any, **kwargs: typing.Any) -> httpcore.NetworkStream:
        return super().connect_tcp(self.address, port, *args, **kwargs)


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes to `address` (TLS still checks the URL's host)."""

    def __init__(self, address: str, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx builds its pool without a way to pass a network backend; this replaces it with one that has ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=_PinnedBackend(address), max_connections=1
        )


def failure_category(err: BaseException) -> str:
    """timeout, tls, refused, dns or network: what the subscriber may know of a failed connection."""
    if isinstance(err, httpx.TimeoutException):
        return "timeout"
    chain: list[BaseException] = []
    cause: BaseException | None = err
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, ssl.SSLError) for c in chain):
        return "tls"
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return "refused"
    if any(isinstance(c, OSError) and "Name or service" in str(c) for c in chain):
        return "dns"
    return "refused" if isinstance(err, httpx.ConnectError) else "network"


def http_sender(ssl_context: ssl.SSLContext | None = None) -> Sender:
    """A Sender that POSTs to each target's checked address; a network failure is a result, never an exception."""
    context = ssl_context or ssl.create_default_context()

    def send(target: PinnedTarget, body: bytes, headers: dict[str, str], timeout_s: float) -> SendResult:
        try:
            with httpx.Client(transport=PinnedTransport(target.address, context), trust_env=False) as client:
                response = client.post(
                    target.url, content=body, headers=headers, timeout=timeout_s, follow_redirects=False
                )
        except httpx.HTTPError as err:
            return SendResult(None, failure_category(err), detail=f"{type(err).__name__}: {err}")
        return SendResult(response.status_code, None, response.text[:RESPONSE_EXCERPT])

    return send
