"""Issue 17: `sis bench --quick` runs the whole harness end to end and writes its report.

A real `sis` subprocess on the PostgreSQL server the suite uses (it makes its own databases there);
no figure is judged, only that every section ran and the report says how the run was made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.command import TITLES

SIS = shutil.which("sis", path=str(Path(sys.executable).parent)) or "sis"
ROOT = Path(__file__).resolve().parents[3]


def test_quick_bench_writes_a_report_with_every_section(postgres_server_url, tmp_path):
    out = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [SIS, "bench", "--quick", "--database-url", postgres_server_url, "--out", str(out)],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "SIS_DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = out.read_text()
    for title in TITLES.values():
        assert f"## {title}" in report, f"missing section {title!r}"
    for fact in ("| date |", "| command |", "| machine |", "| load |", "| PostgreSQL |", "| versions |"):
        assert fact in report, f"missing fact {fact!r}"
    assert "This section failed" not in report, report[report.find("This section failed") - 2000 :][:4000]
    assert "median" in report and "p99" in report
    assert f"report written to {out}" in done.stdout
