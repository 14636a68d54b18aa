"""What every section of `sis bench` shares: timing series, alternation, the machine, servers, MCP on the wire."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SIS = [sys.executable, "-c", "from mcp_server.cli import main; main()"]


@dataclass
class Series:
    """Latencies of one contender in milliseconds."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p99(self) -> float:
        return percentile(self.values, 0.99)

    def add_since(self, started: float) -> None:
        self.values.append((time.perf_counter() - started) * 1000)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def alternate(contenders: dict[str, Callable[[int], object]], calls: int, *, warmup: int = 1) -> dict[str, Series]:
    """Call each contender `calls` times, one after the other in each round (order rotating per round).

    Alternating call by call means drift on a shared machine (another engineer's test run) hits every
    contender alike; rotating the order keeps any one from always following the same neighbour.
    """
    names = list(contenders)
    for i in range(warmup):
        for name in names:
            contenders[name](-1 - i)
    out = {name: Series() for name in names}
    for i in range(calls):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            contenders[name](i)
            out[name].add_since(started)
    return out


# -- the machine ---------------------------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    """Cores, memory, CPU model, OS and Python: what a reader needs to weigh the figures."""
    facts = {"cores": str(os.cpu_count()), "python": platform.python_version(), "os": platform.platform()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                facts["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    return facts


class LoadSampler:
    """Samples the 1-minute load average every few seconds while the bench runs (the machine is shared)."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def since(self, mark: int) -> tuple[float, float]:
        """(mean, max) of the samples taken since sample number `mark`."""
        window = self.samples[mark:] or self.samples[-1:]
        return statistics.fmean(window), max(window)

    def summary(self) -> str:
        return (
            f"1-min load average at start {self.samples[0]:.2f}, mean {statistics.fmean(self.samples):.2f}, "
            f"max {max(self.samples):.2f} ({len(self.samples)} samples every {self.every_s:.0f} s)"
        )


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def git_commit() -> str:
    if not shutil.which("git"):
        return "unknown"
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "") if done.returncode == 0 else "unknown"


# -- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants (uvicorn workers), in MiB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(c) for c in children)
    return total / 1024


@dataclass
class Server:
    """A `sis serve` process on a loopback port."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def sis_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SIS_API_KEY"}
    return {**env, "SIS_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT), **extra}


def serve_help() -> str:
    """`sis serve --help` as this checkout prints it (to see which options exist)."""
    done = subprocess.run([*SIS, "serve", "--help"], capture_output=True, text=True, cwd=ROOT, env=sis_env(""))
    return done.stdout + done.stderr


@contextlib.contextmanager
def sis_server(database_url: str, workdir: Path, *, args: tuple[str, ...] = (), tag: str = "sis") -> Iterator[Server]:
    """Run `sis serve` (with `args`) until the block ends; its log goes to `workdir`."""
    port = free_port()
    log = workdir / f"{tag}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*SIS, "serve", "--port", str(port), *args], cwd=ROOT, env=sis_env(database_url), stdout=out, stderr=out
        )
    server = Server(proc, port, log)
    try:
        wait_healthy(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(server: Server, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the server exited ({server.proc.returncode}): {server.log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /healthz in {seconds:.0f} s")


# -- MCP over streamable HTTP, as thin as the bare SQL it is compared with ----------------------------------


class McpError(RuntimeError):
    """A JSON-RPC error, a tool result with isError, or an HTTP status other than 200."""


class WireClient:
    """One MCP session over streamable HTTP with a plain httpx client: initialize once, then tools/call.

    The requests are those the MCP SDK client sends (same headers and JSON-RPC envelope); its own
    dispatching and result validation stay out of the timing, as they stay out of the bare SQL's.
    """

    def __init__(self, base_url: str, key: str, *, timeout: float = 300) -> None:
        self.url = base_url.rstrip("/") + "/mcp/"
        self.http = httpx.Client(
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {key}",
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            },
        )
        self._id = 0
        init = self._post(
            {
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "sis-bench", "version": "1"},
                },
            }
        )
        self.protocol = str(init["result"].get("protocolVersion", "2025-06-18"))
        self.http.headers["mcp-protocol-version"] = self.protocol
        response = self.http.post(
            self.url, content=json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        if response.status_code not in (200, 202):
            raise McpError(f"notifications/initialized: HTTP {response.status_code}")

    def _post(self, message: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        response = self.http.post(self.url, content=json.dumps({"jsonrpc": "2.0", "id": self._id, **message}))
        if response.status_code != 200:
            raise McpError(f"HTTP {response.status_code}: {response.text[:300]}")
        session = response.headers.get("mcp-session-id")
        if session and "mcp-session-id" not in self.http.headers:
            self.http.headers["mcp-session-id"] = session
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
            answer: dict[str, Any] = json.loads(data[-1])
        else:
            answer = response.json()
        if "error" in answer:
            raise McpError(str(answer["error"])[:300])
        return answer

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's structured result; raises McpError when the tool reports an error."""
        result = self._post({"method": "tools/call", "params": {"name": name, "arguments": arguments}})["result"]
        if result.get("isError"):
            raise McpError(f"{name}: {json.dumps(result.get('content'))[:300]}")
        structured = result.get("structuredContent")
        if structured is None:
            text = "".join(c.get("text", "") for c in result.get("content", []))
            return {"text": text}
        return dict(structured)

    def call_raw(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str, dict[str, Any] | None]:
        """(ok, text content, structured content) of one tools/call; ok is False on any error."""
        try:
            result = self._post({"method": "tools/call", "params": {"name": name, "arguments": arguments}})["result"]
        except McpError as err:
            return False, str(err), None
        text = "".join(str(c.get("text", "")) for c in result.get("content", []) if isinstance(c, dict))
        return not result.get("isError", False), text, result.get("structuredContent")

    def close(self) -> None:
        self.http.close()


class StdioWire:
    """One MCP session over stdio (newline-delimited JSON-RPC) with a subprocess: no SDK in between.

    Used for every stdio contender alike (this server's `sis mcp` and the peers), so that none pays
    client-side validation the others do not; a peer's malformed answer is read, not rejected.
    """

    def __init__(self, command: list[str], env: dict[str, str], log: Path, *, timeout: float = 120) -> None:
        self.timeout = timeout
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=ROOT
        )
        self._id = 0
        self.server_info = self._request(
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "sis-bench", "version": "1"}},
        ).get("result", {})
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        self._send({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise McpError(f"the server exited ({self.proc.poll()}) before answering {method}")
            try:
                answer: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                continue  # a stray log line on stdout
            if answer.get("id") == self._id:
                return answer

    def tools(self) -> list[dict[str, Any]]:
        return list(self._request("tools/list", {}).get("result", {}).get("tools", []))

    def call_raw(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str, dict[str, Any] | None]:
        """(ok, text content, structured content) of one tools/call; ok is False on any error."""
        answer = self._request("tools/call", {"name": name, "arguments": arguments})
        if "error" in answer:
            return False, json.dumps(answer["error"])[:2000], None
        result = answer.get("result", {})
        text = "".join(str(c.get("text", "")) for c in result.get("content", []) if isinstance(c, dict))
        return not result.get("isError", False), text, result.get("structuredContent")

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        ok, text, _ = self.call_raw(name, arguments)
        if not ok:
            raise McpError(f"{name}: {text[:300]}")
        return text

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
