"""Issue #15, Audit, "A tail cut off the chain goes unnoticed": signed checkpoints of the chain heads.

`sis audit checkpoint` and `sis audit verify --checkpoints` run as real processes on a real SQLite
file and on the PostgreSQL server; the attacker tampers with raw SQL, dropping the append-only
triggers the migration installed and creating them again, as someone with database access would.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import AuditChainHead, QueryLog
from domain.audit.chain import Chain, entry_hash, record_of
from domain.audit.checkpoint import canonical
from mcp_server.app import create_app
from mcp_server.settings import Settings
from tests.conftest import ENGINES, fresh_database
from tests.integration.audit.conftest import fill_query_log

SIS = shutil.which("sis", path=str(Path(sys.executable).parent)) or "sis"


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A new migrated database holding six query-log entries."""
    engine = fresh_database(request.param, request, tmp_path_factory, f"ckpt_{uuid.uuid4().hex[:8]}")
    with Session(engine) as session:
        fill_query_log(session, 6)
        session.commit()
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        admin = make_engine(request.getfixturevalue("postgres_server_url"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    """(private, public) from `sis audit checkpoint-key`."""
    done = subprocess.run([SIS, "audit", "checkpoint-key"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    return lines[1], lines[-1]


def sis(engine: Engine, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "SIS_DATABASE_URL": engine.url.render_as_string(hide_password=False), **env}
    return subprocess.run([SIS, "audit", *args], env=environ, capture_output=True, text=True, timeout=120)


def _tamper(engine: Engine, change) -> None:
    """Run `change(session)` with the query log's append-only triggers dropped, then create them again."""
    postgres = engine.dialect.name == "postgresql"
    names = ["query_log_append_only"] if postgres else ["query_log_no_update", "query_log_no_delete"]
    with Session(engine) as session:
        triggers = {}
        if not postgres:
            triggers = {
                name: sql
                for name, sql in session.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (:a, :b)"),
                    {"a": names[0], "b": names[1]},
                )
            }
        for name in names:
            session.execute(text(f"DROP TRIGGER {name} ON query_log" if postgres else f"DROP TRIGGER {name}"))
        change(session)
        if postgres:
            session.execute(
                text(
                    "CREATE TRIGGER query_log_append_only BEFORE UPDATE OR DELETE ON query_log "
                    "FOR EACH ROW EXECUTE FUNCTION sis_audit_append_only()"
                )
            )
        else:
            for sql in triggers.values():
                session.execute(text(sql))
        session.commit()


def cut_tail(engine: Engine, count: int) -> None:
    """Delete the last `count` query-log entries and move the head back to the entry before them."""

    def change(session: Session) -> None:
        head = session.execute(select(AuditChainHead).where(AuditChainHead.chain == "query_log")).scalar_one()
        keep = head.seq - count
        session.execute(QueryLog.__table__.delete().where(QueryLog.seq > keep))
        last = session.execute(select(QueryLog).where(QueryLog.seq == keep)).scalar_one()
        head.seq, head.entry_hash, head.prev_hash = keep, last.entry_hash, last.prev_hash

    _tamper(engine, change)


def rewrite_entry(engine: Engine, seq: int) -> None:
    """Alter entry `seq` and re-hash it and every entry after it, moving the head: the chain verifies."""

    def change(session: Session) -> None:
        session.execute(update(QueryLog).where(QueryLog.seq == seq).values(row_count=999))
        session.flush()
        rows = session.execute(select(QueryLog).where(QueryLog.seq >= seq).order_by(QueryLog.seq)).scalars().all()
        prev = session.execute(select(QueryLog.entry_hash).where(QueryLog.seq == seq - 1)).scalar_one()
        for row in rows:
            digest = entry_hash(prev, record_of(Chain.QUERY_LOG, row))
            session.execute(update(QueryLog).where(QueryLog.seq == row.seq).values(prev_hash=prev, entry_hash=digest))
            last_prev, prev = prev, digest
        session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.chain == "query_log")
            .values(entry_hash=prev, prev_hash=last_prev)
        )

    _tamper(engine, change)


def checkpoint(engine: Engine, keys: tuple[str, str], sink: Path) -> None:
    done = sis(engine, "checkpoint", SIS_AUDIT_CHECKPOINT_KEY=keys[0], SIS_AUDIT_CHECKPOINT_SINK=str(sink))
    assert done.returncode == 0, done.stderr
    assert "query_log seq" in done.stdout


def verify(engine: Engine, sink: Path, public: str) -> subprocess.CompletedProcess[str]:
    return sis(engine, "verify", "--checkpoints", str(sink), "--public-key", public)


def test_a_cut_tail_passes_plain_verify_but_fails_against_a_checkpoint(db, keys, tmp_path):
    checkpoint(db, keys, tmp_path)
    cut_tail(db, 2)

    plain = sis(db, "verify")
    assert plain.returncode == 0, plain.stderr  # the finding: the shortened chain verifies on its own
    assert "query_log: intact, 4 entries" in plain.stdout

    checked = verify(db, tmp_path, keys[1])
    assert checked.returncode == 1
    assert "query_log: BROKEN against checkpoint checkpoint-" in checked.stderr
    assert "entry 6" in checked.stderr and "cut off" in checked.stderr


def test_a_cut_tail_refilled_past_the_checkpoint_still_fails(db, keys, tmp_path):
    checkpoint(db, keys, tmp_path)
    cut_tail(db, 3)
    with Session(db) as session:
        fill_query_log(session, 4)  # the head is past the checkpoint again, on other entries
        session.commit()

    checked = verify(db, tmp_path, keys[1])
    assert checked.returncode == 1
    assert "query_log: BROKEN" in checked.stderr and "entry 6 differs" in checked.stderr


def test_a_rewritten_entry_before_the_checkpoint_fails(db, keys, tmp_path):
    checkpoint(db, keys, tmp_path)
    rewrite_entry(db, 2)

    assert sis(db, "verify").returncode == 0  # re-hashed to the end: the chain alone cannot tell
    checked = verify(db, tmp_path, keys[1])
    assert checked.returncode == 1
    assert "query_log: BROKEN" in checked.stderr and "rewritten" in checked.stderr


def test_a_forged_checkpoint_fails_on_its_signature(db, keys, tmp_path):
    checkpoint(db, keys, tmp_path)
    [path] = tmp_path.glob("*.json")
    envelope = json.loads(path.read_text())
    envelope["checkpoint"]["chains"]["query_log"]["seq"] = 4  # what an attacker who cut two entries wants
    path.write_text(json.dumps(envelope))

    checked = verify(db, tmp_path, keys[1])
    assert checked.returncode == 1
    assert f"checkpoint: BROKEN against checkpoint {path.name}: signature does not verify" in checked.stderr


def test_a_checkpoint_signed_with_another_key_fails(db, keys, tmp_path):
    other = subprocess.run([SIS, "audit", "checkpoint-key"], capture_output=True, text=True, timeout=60)
    checkpoint(db, (other.stdout.splitlines()[1], ""), tmp_path)
    checked = verify(db, tmp_path, keys[1])
    assert checked.returncode == 1 and "signature does not verify" in checked.stderr


def test_an_untouched_database_passes_against_its_checkpoints(db, keys, tmp_path):
    checkpoint(db, keys, tmp_path)
    with Session(db) as session:
        fill_query_log(session, 3)  # entries after the newest checkpoint are the chain walk's
        session.commit()
    checkpoint(db, keys, tmp_path)
    public_file = tmp_path.parent / "public.key"
    public_file.write_text(keys[1] + "\n")

    checked = verify(db, tmp_path, str(public_file))
    assert checked.returncode == 0, checked.stderr
    assert "checkpoints: 2 verified" in checked.stdout and "query_log seq 9" in checked.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SIS_AUDIT_CHECKPOINT_KEY": "", "SIS_AUDIT_CHECKPOINT_SINK": "/nonexistent/dir"},
            "SIS_AUDIT_CHECKPOINT_KEY is not set",
        ),
        (
            {"SIS_AUDIT_CHECKPOINT_KEY": "not-a-key", "SIS_AUDIT_CHECKPOINT_SINK": "/nonexistent/dir"},
            "must be an Ed25519",
        ),
        ({"SIS_AUDIT_CHECKPOINT_SINK": "/nonexistent/dir"}, "is not a directory"),
    ],
)
def test_checkpoint_mistakes_are_one_clear_line(db, keys, env, message):
    done = sis(db, "checkpoint", **{"SIS_AUDIT_CHECKPOINT_KEY": keys[0], **env})
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.command, self.path, dict(self.headers), body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = _record

    def log_message(self, *args):
        """Quiet: the test reads what the sink received, not its access log."""


@pytest.fixture()
def loopback() -> Iterator[tuple[str, list]]:
    _Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Recorder.received
    server.shutdown()
    server.server_close()


def _signature_holds(body: bytes, public: str) -> dict:
    envelope = json.loads(body)
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public))
    key.verify(base64.b64decode(envelope["signature"]["value"]), canonical(envelope["checkpoint"]))
    return envelope


@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_the_http_sinks_receive_the_signed_body(engine_name, request, tmp_path_factory, keys, loopback):
    engine = fresh_database(engine_name, request, tmp_path_factory, f"ckpt_http_{uuid.uuid4().hex[:8]}")
    with Session(engine) as session:
        fill_query_log(session, 2)
        session.commit()
    base, received = loopback

    posted = sis(engine, "checkpoint", SIS_AUDIT_CHECKPOINT_KEY=keys[0], SIS_AUDIT_CHECKPOINT_SINK=f"{base}/hook")
    put = sis(
        engine,
        "checkpoint",
        SIS_AUDIT_CHECKPOINT_KEY=keys[0],
        SIS_AUDIT_CHECKPOINT_SINK=f"put+{base}/bucket/sis/?X-Sig=secret",
    )
    assert posted.returncode == 0 and put.returncode == 0, posted.stderr + put.stderr
    assert "secret" not in put.stdout
    (m1, p1, _, b1), (m2, p2, h2, b2) = received
    assert (m1, p1) == ("POST", "/hook")
    assert m2 == "PUT" and p2.startswith("/bucket/sis/checkpoint-") and p2.endswith(".json?X-Sig=secret")
    assert h2.get("If-None-Match") == "*"
    for body in (b1, b2):
        assert _signature_holds(body, keys[1])["checkpoint"]["chains"]["query_log"]["seq"] == 2
    engine.dispose()


def test_a_refusing_http_sink_is_an_error(db, keys):
    done = sis(db, "checkpoint", SIS_AUDIT_CHECKPOINT_KEY=keys[0], SIS_AUDIT_CHECKPOINT_SINK="http://127.0.0.1:9/x")
    assert done.returncode == 2 and "unreachable" in done.stderr


def test_the_server_writes_a_checkpoint_when_it_runs_jobs(db, keys, tmp_path):
    settings = Settings(audit_checkpoint_key=keys[0], audit_checkpoint_sink=str(tmp_path))
    with TestClient(create_app(db, settings=settings, run_jobs=True)):
        for _ in range(500):  # sequencing: the job's first checkpoint is written off the event loop
            if list(tmp_path.glob("*.json")):
                break
            time.sleep(0.02)
    [path] = tmp_path.glob("*.json")
    assert verify(db, tmp_path, keys[1]).returncode == 0
    assert json.loads(path.read_text())["checkpoint"]["chains"]["query_log"]["seq"] == 6


def test_the_server_writes_nothing_without_a_key(db, tmp_path, caplog):
    caplog.set_level("INFO", logger="mcp_server.audit_checkpoint")
    with TestClient(create_app(db, settings=Settings(audit_checkpoint_sink=str(tmp_path)), run_jobs=True)):
        for _ in range(500):  # sequencing: the job says so when it starts
            if "audit checkpoints off" in caplog.text:
                break
            time.sleep(0.02)
    assert not list(tmp_path.glob("*.json"))
    assert "audit checkpoints off: SIS_AUDIT_CHECKPOINT_KEY is not set" in caplog.text
