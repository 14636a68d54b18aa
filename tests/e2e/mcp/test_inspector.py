"""A third-party client: the MCP Inspector CLI lists and calls tools over stdio and over HTTP.

The test never reaches the network: `.ci/run` installs the pinned Inspector into the cache
directory before the suite starts (`npm install --prefix "$SIS_TEST_CACHE/inspector-2.12.0" ...`,
see INSTALL below). Without it the test is skipped, and under CI that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from mcp_server.app import create_app

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
CACHE = Path(os.environ.get("SIS_TEST_CACHE", Path.home() / ".cache" / "sis-tests")) / "inspector-2.12.0"


INSTALL = f"npm install --no-audit --no-fund --prefix {CACHE} {INSPECTOR}"


@pytest.fixture(scope="session")
def inspector() -> Path:
    binary = CACHE / "node_modules" / ".bin" / "mcp-inspector"
    if not (shutil.which("node") and binary.exists()):
        if os.environ.get("CI"):
            pytest.fail(f"the MCP Inspector is expected under CI (.ci/run installs it): {INSTALL}")
        pytest.skip(f"the MCP Inspector is not installed; to run this check: {INSTALL}")
    return binary


def run_inspector(binary: Path, *args: str) -> dict:
    done = subprocess.run(
        # The stdio server imports the whole app before it answers: on a loaded two-core machine
        # that can pass the Inspector's default 15 s connect timeout.
        [str(binary), "--cli", *args, "--connect-timeout", "120000", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)["result"]


def sis_binary() -> str:
    return str(Path(sys.executable).parent / "sis")


def test_inspector_lists_and_calls_tools_over_stdio(inspector, served_db):
    env = ["-e", f"SIS_API_KEY={served_db.keys['nurse_austin']}", "-e", f"SIS_DATABASE_URL={served_db.url}"]
    listed = run_inspector(inspector, sis_binary(), "mcp", *env, "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert "find_missing_immunizations" in names and "enroll_student" not in names
    called = run_inspector(inspector, sis_binary(), "mcp", *env, "--method", "tools/call", "--tool-name", "whoami")
    assert called["structuredContent"]["email"] == "nurse.austin@sis.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_inspector_lists_and_calls_tools_over_http(inspector, served_db):
    port = _free_port()
    app = create_app(served_db.engine, base_url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/mcp/"
        auth = ["--transport", "http", "--header", f"Authorization: Bearer {served_db.keys['registrar_austin']}"]
        listed = run_inspector(inspector, url, *auth, "--method", "tools/list")
        assert "query_roster" in {t["name"] for t in listed["tools"]}
        called = run_inspector(
            inspector, url, *auth, "--method", "tools/call", "--tool-name", "query_roster", "--tool-arg", "grade=5"
        )
        assert called["structuredContent"]["total"] > 0
    finally:
        server.should_exit = True
        thread.join(timeout=10)
