"""A fake Anthropic Messages API on loopback, speaking the real wire format (JSON and SSE streaming).

Tests script the model's turns (text, tool_use blocks, stop reasons, HTTP errors) and point the
real `anthropic` SDK at it through `base_url`. Every request body and its headers are recorded,
so a test can check what the agent sent: tools, system prompt, tool_result blocks.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


def text(value: str) -> dict[str, Any]:
    """A text content block."""
    return {"type": "text", "text": value}


def tool_use(name: str, arguments: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    """A tool_use content block."""
    return {"type": "tool_use", "id": block_id or f"toolu_{next(_ids):04d}", "name": name, "input": arguments}


@dataclass
class Reply:
    """One scripted answer of the model (or an HTTP error when status is not 200)."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "end_turn"
    status: int = 200
    error_type: str = "api_error"
    error_message: str = "scripted failure"
    output_tokens: int = 10


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def last_user_blocks(self) -> list[dict[str, Any]]:
        """The content blocks of the last user message (tool_result blocks after a tool call)."""
        content = self.body["messages"][-1]["content"]
        return content if isinstance(content, list) else [{"type": "text", "text": content}]


Script = Callable[[dict[str, Any]], Reply]


class FakeAnthropic:
    """A threaded HTTP server answering POST /v1/messages from a script of replies."""

    def __init__(self, script: list[Reply] | Script, *, chunk: int = 12, delay: float = 0.0) -> None:
        self._queue = list(script) if isinstance(script, list) else None
        self._script = script if callable(script) else None
        self.chunk = chunk
        self.delay = delay
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script is not None:
                return self._script(body)
            if not self._queue:
                return Reply(status=500, error_message="the fake server has no scripted reply left")
            return self._queue.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.split("?")[0] != "/v1/messages":
                    self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})
                    return
                auth = self.headers.get("authorization", "") or self.headers.get("x-api-key", "")
                if not auth:
                    self._json(401, {"type": "error", "error": {"type": "authentication_error", "message": "no key"}})
                    return
                fake.requests.append(Recorded(body=body, headers={k.lower(): v for k, v in self.headers.items()}))
                reply = fake._next(body)
                if reply.status != 200:
                    error = {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}}
                    self._json(reply.status, error)
                elif body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._json(200, _message(body, reply, reply.content, reply.stop_reason))

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_fake_{next(_ids)}")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for name, payload in _events(body, reply, fake.chunk):
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
                    self.wfile.flush()
                    if fake.delay:
                        time.sleep(fake.delay)
                self.close_connection = True

        return Handler


def _message(body: dict[str, Any], reply: Reply, content: list[dict[str, Any]], stop: str | None) -> dict[str, Any]:
    return {
        "id": f"msg_fake_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": reply.output_tokens if stop else 1},
    }


def _pieces(value: str, size: int) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


def _events(body: dict[str, Any], reply: Reply, chunk: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE events of a streamed reply, in the order the real API sends them."""
    yield "message_start", {"type": "message_start", "message": _message(body, reply, [], None)}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(reply.content):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for piece in _pieces(block["text"], chunk):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
            for piece in _pieces(json.dumps(block["input"]), chunk):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}
