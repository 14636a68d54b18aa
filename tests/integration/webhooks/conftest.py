"""A real HTTP receiver on loopback for the webhook tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from domain.webhooks.signing import EVENT_ID_HEADER


@dataclass
class Receiver:
    """A loopback HTTP receiver that answers a scripted status per request, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    url: str = ""

    def accepted_ids(self) -> list[str]:
        return [headers[EVENT_ID_HEADER] for headers, _, status in self.received if status < 300]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                status = state.statuses.pop(0) if state.statuses else 200
                state.received.append(({k: v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"try later")

        def log_message(self, *args: object) -> None:
            """Keep the receiver quiet in test output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
