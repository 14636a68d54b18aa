"""`sis rollover` as a user runs it: a subprocess on a demo-seeded SQLite file, twice, and its refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import Enrollment, ProgramOffering, QueryLog

SIS = [sys.executable, "-c", "from mcp_server.cli import main; main()"]


@pytest.fixture()
def demo_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'sis.db'}"
    seeded = subprocess.run(
        [*SIS, "seed", "demo", "--today", "2026-11-20"], env={**os.environ, "SIS_DATABASE_URL": url}, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    return url


def sis(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIS_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run([*SIS, "rollover", *args], env=env, capture_output=True, text=True, timeout=600)


def next_year(url: str) -> tuple[int, int, int]:
    """2027-28 offerings, their stints, and the successful run_rollover calls in the query log."""
    engine = make_engine(url)
    with Session(engine) as session:
        offerings = session.execute(select(func.count()).where(ProgramOffering.session_label == "2027-28")).scalar_one()
        stints = session.execute(
            select(func.count())
            .select_from(Enrollment)
            .join(ProgramOffering, ProgramOffering.id == Enrollment.offering_id)
            .where(ProgramOffering.session_label == "2027-28")
        ).scalar_one()
        logged = session.execute(
            select(func.count()).where(QueryLog.capability == "run_rollover", QueryLog.outcome == "ok")
        ).scalar_one()
    engine.dispose()
    return offerings, stints, logged


def test_sis_rollover_previews_then_runs_once_and_a_second_run_creates_nothing(demo_file):
    before = next_year(demo_file)
    args = ("--from", "2026-27", "--to", "2027-28", "--org", "/alpha/connect/", "--as", "admin@sis.example")
    preview = sis(demo_file, *args, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "would create: 2 offerings" in preview.stdout and next_year(demo_file) == before

    first = sis(demo_file, *args)
    assert first.returncode == 0, first.stderr
    assert "created: 2 offerings" in first.stdout and "Alpha Online School Regular Year, 2027-28" in first.stdout
    offerings, stints, logged = next_year(demo_file)
    assert (offerings, logged) == (before[0] + 2, before[2] + 1) and stints > before[1]

    second = sis(demo_file, *args)
    assert second.returncode == 0, second.stderr
    assert "created: 0 offerings, 0 stints" in second.stdout
    assert next_year(demo_file) == (offerings, stints, logged + 1)  # one more logged call, no new rows


def test_sis_rollover_refuses_in_one_line_without_writing(demo_file):
    before = next_year(demo_file)
    cases = [
        ((), "give --as EMAIL"),
        (("--as", "registrar.austin@sis.example"), "your role may not change administration records"),
        (("--as", "nobody@sis.example"), "no active user nobody@sis.example"),
        (("--as", "admin@sis.example", "--org", "/no/such/"), "no organization at /no/such/"),
    ]
    for extra, message in cases:
        result = sis(demo_file, "--from", "2026-27", "--to", "2027-28", *extra)
        assert result.returncode == 1 and message in result.stderr, (extra, result.stderr)
        assert "Traceback" not in result.stderr
    bad_year = sis(demo_file, "--from", "2026", "--to", "2027-28", "--as", "admin@sis.example")
    assert bad_year.returncode == 1 and "from_year" in bad_year.stderr
    assert next_year(demo_file) == before
