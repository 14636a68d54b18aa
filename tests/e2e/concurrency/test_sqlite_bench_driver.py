"""SQLite under real use (#15, "SQLite as the embedded default"): the benchmark's driver, briefly.

bench/sqlite_concurrency_bench.py runs a real `sis serve` and a `sis mcp` stdio process on one
SQLite file while HTTP clients, each with its own key, mix reads and writes. Before the
write-lock-first transactions a few percent of such calls were `database is locked` 500s. This runs
the same driver for a few seconds with four clients: every call must succeed (no timing asserted).
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

from tests.conftest import fresh_database

BENCH = Path(__file__).resolve().parents[3] / "bench" / "sqlite_concurrency_bench.py"


def _driver():
    spec = importlib.util.spec_from_file_location("sqlite_concurrency_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_four_clients_and_a_stdio_process_mixing_reads_and_writes_on_one_sqlite_file_get_no_errors(
    request, tmp_path_factory
):
    engine = fresh_database("sqlite", request, tmp_path_factory, f"bench_{uuid.uuid4().hex[:8]}", demo=True)
    path = Path(engine.url.database or "")
    engine.dispose()

    (run,) = _driver().measure(path, clients=4, seconds=4, baseline=False)

    assert run.latencies_ms, "the clients made calls"
    assert set(run.statuses) == {"200"}, run.failures[:5]
    assert run.mcp_calls > 0 and not run.mcp_errors, run.mcp_errors[:5]
    assert {"record_attendance", "update_student", "query_roster"} <= set(run.by_tool)
