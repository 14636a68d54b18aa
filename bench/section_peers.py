"""Item 2: side by side with the generic PostgreSQL MCP servers a school's IT team would point at the database.

@modelcontextprotocol/server-postgres and @bytebase/dbhub (npm, installed into ~/.cache/sis-bench/peers)
and postgres-mcp (PyPI, restricted mode, in its own virtual environment: it needs Python 3.12), each
over stdio on the same database, asked the same questions with the SQL an agent would write over the
raw tables; next to this server's typed tools and its run_sql over the reporting views, over stdio
(`sis mcp`) and over HTTP. Then, as a campus-scoped registrar, the rows each returns from outside the
registrar's campus, and a fixed set of escape statements against each one's read-only mode.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.databases import bench_keys, campuses, root_of
from bench.harness import SIS, McpError, Series, StdioWire, WireClient, alternate, sis_env
from bench.report import Section, ms, ratio

PEERS = Path.home() / ".cache" / "sis-bench" / "peers"
NPM = {"@modelcontextprotocol/server-postgres": "mcp-server-postgres", "@bytebase/dbhub": "dbhub"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Client = StdioWire | WireClient


@dataclass
class Contender:
    name: str
    client: Client | None
    tool: str = ""
    views: bool = False  # this server's run_sql: the reporting views, not the raw tables
    typed: bool = False  # this server's typed tools
    why_not: str = ""
    version: str = ""


def _npm_installed() -> str:
    """'' when both npm peers are installed (installing them if needed), else why not."""
    if not (shutil.which("node") and shutil.which("npm")):
        return "node/npm not found on this machine"
    if all((PEERS / "node_modules" / ".bin" / b).exists() for b in NPM.values()):
        return ""
    PEERS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PEERS), *NPM],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    return "" if done.returncode == 0 else f"npm install failed: {done.stderr.strip()[-200:]}"


def _npm_version(package: str) -> str:
    manifest = PEERS / "node_modules" / package / "package.json"
    return str(json.loads(manifest.read_text())["version"]) if manifest.exists() else "?"


def _python312() -> str | None:
    """A Python of at least 3.12 that runs: on PATH, or one pyenv installed (its shims may not point at it)."""
    candidates = [shutil.which(n) for n in ("python3.13", "python3.12")]
    candidates += [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3"))]
    for found in filter(None, candidates):
        done = subprocess.run([found, "-c", "import sys; assert sys.version_info >= (3, 12)"], capture_output=True)
        if done.returncode == 0:
            return found
    return None


def start_peers(dsn: str, workdir: Path) -> list[Contender]:
    """Every peer, started over stdio on `dsn`, or marked "not available: why"."""
    out: list[Contender] = []
    why = _npm_installed()
    for package, binary in NPM.items():
        if why:
            out.append(Contender(package, None, why_not=why))
            continue
        command = [str(PEERS / "node_modules" / ".bin" / binary)]
        if binary == "dbhub":
            config = workdir / "dbhub.toml"
            config.write_text(f'[[sources]]\nid = "default"\ndsn = "{dsn}?sslmode=disable"\n\n'
                              '[[tools]]\nname = "execute_sql"\nsource = "default"\nreadonly = true\n')  # fmt: skip
            command += ["--transport=stdio", f"--config={config}"]
            tool, mode = "execute_sql", "readonly = true"
        else:
            command.append(dsn)
            tool, mode = "query", "read-only transaction (its only mode)"
        try:
            client = StdioWire(command, {"PATH": "/usr/bin:/bin"}, workdir / f"{binary}.log")
            out.append(Contender(package, client, tool, version=f"{_npm_version(package)}, {mode}"))
        except (McpError, OSError) as err:
            out.append(Contender(package, None, why_not=f"did not start: {err}"))
    python = _python312()
    if python is None:
        versions = sorted(p.name for p in Path("/usr/bin").glob("python3.[0-9]*") if "-" not in p.name)
        out.append(Contender("postgres-mcp (PyPI)", None, why_not="needs Python ≥ 3.12; this machine has "
                             f"{', '.join(versions) or 'no other Python'} (and Debian's archive here offers no 3.12)"))  # fmt: skip
        return out
    venv = PEERS / "postgres-mcp-venv"
    if not (venv / "bin" / "postgres-mcp").exists():
        failed = _install_postgres_mcp(python, venv)
        if failed:
            out.append(Contender("postgres-mcp (PyPI)", None, why_not=failed))
            return out
    try:
        client = StdioWire([str(venv / "bin" / "postgres-mcp"), "--access-mode=restricted", dsn],
                           {"PATH": "/usr/bin:/bin", "DATABASE_URI": dsn}, workdir / "postgres-mcp.log")  # fmt: skip
        pinned = _venv_versions(venv)
        out.append(
            Contender("postgres-mcp (PyPI)", client, "execute_sql", version=f"{pinned}, --access-mode=restricted")
        )
    except (McpError, OSError) as err:
        out.append(Contender("postgres-mcp (PyPI)", None, why_not=f"did not start: {err}"))
    return out


def _install_postgres_mcp(python: str, venv: Path) -> str:
    """Install postgres-mcp into its own venv; '' on success, else why not.

    Its release pins pglast==7.2.0, which the registry reachable here lacks (it has 7.20-7.22 of the same
    major version), so the package goes in without dependencies and they follow with pglast 7.x and mcp
    below 2 (it is written against the 1.x SDK).
    """
    steps = [
        [python, "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "postgres-mcp"],
        [str(venv / "bin" / "pip"), "install", "-q", "attrs>=25.3.0", "humanize>=4.8.0", "instructor>=1.7.9",
         "mcp[cli]>=1.5.0,<2", "psycopg-pool>=3.2.6", "psycopg[binary]>=3.2.6", "pglast>=7.2,<8"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(step[1:4])} failed: {done.stderr.strip()[-200:]}"
    return ""


def _venv_versions(venv: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('postgres-mcp'), m.version('pglast'), m.version('mcp'))"
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True)
    parts = done.stdout.split()
    return f"{parts[0]} (pglast {parts[1]} for its pinned 7.2.0, mcp {parts[2]})" if len(parts) == 3 else "?"


# -- the questions -------------------------------------------------------------------------------------


def questions(campus: uuid.UUID, student: uuid.UUID) -> dict[str, tuple[str, str, tuple[str, dict[str, Any]] | None]]:
    """question -> (SQL over the raw tables, the same over the reporting views, the typed tool and arguments)."""
    return {
        "5th graders at one campus (50 rows)": (
            "SELECT s.id AS student_id, s.student_number, s.first_name, s.last_name, e.grade_level FROM enrollment e"
            f" JOIN student s ON s.id = e.student_id WHERE e.org_id = '{campus}' AND e.grade_level = 5"
            " AND e.status = 'active' ORDER BY s.last_name, s.first_name LIMIT 50",
            "SELECT s.student_id, s.student_number, s.first_name, s.last_name, e.grade_level FROM enrollments e"
            f" JOIN students s ON s.student_id = e.student_id WHERE e.org_id = '{campus}' AND e.grade_level = 5"
            " AND e.status = 'active' ORDER BY s.last_name, s.first_name LIMIT 50",
            ("query_roster", {"org_id": str(campus), "grade": 5, "limit": 50, "status": "active"}),
        ),
        "students per campus (whole network)": (
            "SELECT o.name, count(DISTINCT e.student_id) AS students FROM enrollment e JOIN organization o"
            " ON o.id = e.org_id WHERE e.status = 'active' GROUP BY o.name ORDER BY students DESC LIMIT 50",
            "SELECT o.name, count(DISTINCT e.student_id) AS students FROM enrollments e JOIN organizations o"
            " ON o.org_id = e.org_id WHERE e.status = 'active' GROUP BY o.name ORDER BY students DESC LIMIT 50",
            None,
        ),
        "one student's record": (
            "SELECT s.id, s.first_name, s.last_name, s.grade_level, o.name AS campus FROM student s"
            f" JOIN organization o ON o.id = s.org_id WHERE s.id = '{student}'",
            "SELECT s.student_id, s.first_name, s.last_name, s.grade_level, o.name AS campus FROM students s"
            f" JOIN organizations o ON o.org_id = s.org_id WHERE s.student_id = '{student}'",
            ("get_student", {"student_id": str(student)}),
        ),
    }


def _ask(
    contender: Contender, raw: str, views: str, typed: tuple[str, dict[str, Any]] | None
) -> Callable[[int], object]:
    assert contender.client is not None
    client = contender.client
    if contender.typed:
        assert typed is not None
        name, args = typed
        return lambda i: client.call(name, args)
    sql = views if contender.views else raw
    return lambda i: client.call(contender.tool, {"sql": sql})


# -- escapes -----------------------------------------------------------------------------------------

ESCAPES: dict[str, str] = {
    "write after COMMIT": "COMMIT; INSERT INTO bench_canary(note) VALUES ('after commit')",
    "writable CTE": "WITH w AS (INSERT INTO bench_canary(note) VALUES ('cte') RETURNING note) SELECT * FROM w",
    "file-reading function": "SELECT pg_read_file('/etc/hostname') AS secret",
    "catalog read (password hashes)": "SELECT rolname, rolpassword FROM pg_authid",
    "set_config": "SELECT set_config('default_transaction_read_only', 'off', false) AS was",
    "pg_sleep (holds a connection)": "SELECT pg_sleep(2)",
}


EVIDENCE: dict[str, Callable[[], str]] = {  # what only a statement that ran returns
    "file-reading function": lambda: (
        Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    ),
    "catalog read (password hashes)": lambda: "rolname",
    "set_config": lambda: "was",
}


def _looks_refused(answer: str) -> bool:
    """Some servers report a refusal as ordinary text (postgres-mcp: "Error: ..."), not as an MCP error."""
    head = answer.lstrip()[:200]
    return head.startswith("Error") or '"success": false' in head or head.startswith('{"error"')


def _through(engine: Engine, client: Client, tool: str, label: str, sql: str) -> str:
    """Run one escape statement; 'through' with the evidence, or 'blocked' with the refusal's first words."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE bench_canary"))
    started = time.perf_counter()
    try:
        ok, answer, _ = client.call_raw(tool, {"sql": sql})
    except (McpError, OSError) as err:
        ok, answer = False, str(err)
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        written = int(conn.execute(text("SELECT count(*) FROM bench_canary")).scalar_one())
    ran = ok and not _looks_refused(answer)
    if written:
        return f"**through**: {written} row written"
    if ran and "pg_sleep" in label:
        return f"**through**: slept {elapsed:.1f} s" if elapsed >= 1.9 else f"blocked ({elapsed:.1f} s)"
    evidence = EVIDENCE.get(label)
    if ran and evidence and evidence() and evidence() in answer:
        return "**through**: " + re.sub(r"\s+", " ", answer)[:50]
    reason = re.sub(r"\s+", " ", answer).replace('{"error": {"code": "sql_refused", "message": ', "")[:70]
    return f"blocked: {reason or 'refused'}"


# -- the section -------------------------------------------------------------------------------------


def run(section: Section, *, url: str, engine: Engine, workdir: Path, server_url: str, calls: int) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    scale_root, campus = root_of(engine), campuses(engine)[0]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_canary (note text)"))
        student = uuid.UUID(str(conn.execute(
            text("SELECT student_id FROM enrollment WHERE org_id = :c ORDER BY student_id LIMIT 1"), {"c": str(campus)}
        ).scalar_one()))  # fmt: skip
    admin = bench_keys(engine, "bench.peers@sis.example", "network_admin", scale_root, ["sis.read"], count=2)
    registrar = bench_keys(engine, "bench.registrar@sis.example", "registrar", campus, ["sis.read"], count=2)
    peers = start_peers(dsn, workdir)
    stdio = StdioWire([*SIS, "mcp"], sis_env(url, SIS_API_KEY=admin[0]), workdir / "sis-mcp.log")
    http = WireClient(server_url, admin[1])
    ours = [
        Contender("this server: run_sql, stdio", stdio, "run_sql", views=True),
        Contender("this server: run_sql, HTTP", http, "run_sql", views=True),
        Contender("this server: typed tool, stdio", stdio, typed=True),
        Contender("this server: typed tool, HTTP", http, typed=True),
    ]
    running = [p for p in peers if p.client is not None]
    section.intro.append(
        f"On the network-scale database; each peer connects with the same PostgreSQL role this server uses "
        f"(here the cluster's superuser, as a quickly set-up deployment would), over stdio. {calls} calls per "
        "contender and question, all contenders alternating call by call. Peers are asked the SQL an agent "
        "would write over the raw tables; run_sql the same question over the reporting views; the typed "
        "tool where one answers the question. Goal: run_sql median at most 2× the fastest peer's while "
        "letting nothing through."
    )
    avail = section.table("contender", "version / read-only mode", "status", title="Contenders")
    for p in peers:
        avail.add(p.name, p.version or "—", "running" if p.client else f"not available: {p.why_not}")
    try:
        for question, (raw, views, typed) in questions(campus, student).items():
            contenders = running + [c for c in ours if typed is not None or not c.typed]
            timed = alternate({c.name: _ask(c, raw, views, typed) for c in contenders}, calls)
            fastest = min((timed[p.name].median for p in running), default=float("nan"))
            table = section.table("contender", "median ms", "p99 ms", "ratio to the fastest peer",
                                  title=f"{question}")  # fmt: skip
            for c in contenders:
                series: Series = timed[c.name]
                table.add(c.name, ms(series.median), ms(series.p99), ratio(series.median, fastest))
            runs = [timed[c.name].median for c in contenders if c.views]
            if running and runs:
                verdict = "met" if max(runs) <= 2 * fastest else "missed"
                section.notes.append(f"{question}: run_sql median {ms(min(runs))}–{ms(max(runs))} ms; the fastest peer "
                                     f"{ms(fastest)} ms, so the goal (≤ {ms(2 * fastest)} ms) is {verdict}.")  # fmt: skip
        _registrar(section, engine, campus, running, url, registrar, server_url, workdir)
        _escapes(section, engine, running, ours[:2])
    finally:
        for p in running:
            assert p.client is not None
            p.client.close()
        stdio.close()
        http.close()
    section.notes.append(
        "Why a peer can be faster: it sends the statement as written over one open connection, with no "
        "authentication, scope, SQL guard (parse, rewrite, re-check) or audit entry; this server parses and "
        "rewrites each statement with the caller's scope and appends a hash-chained query-log entry in the "
        "same transaction before answering."
    )


def _registrar(section: Section, engine: Engine, campus: uuid.UUID, peers: list[Contender], url: str,
               keys: list[str], server_url: str, workdir: Path) -> None:  # fmt: skip
    """A campus registrar asks for "the 5th graders": rows from outside the campus, per contender."""
    raw = ("SELECT s.id AS student_id, s.first_name, s.last_name FROM enrollment e JOIN student s ON s.id = e.student_id"
           " WHERE e.grade_level = 5 AND e.status = 'active' LIMIT 500")  # fmt: skip
    views = ("SELECT s.student_id, s.first_name, s.last_name FROM enrollments e JOIN students s"
             " ON s.student_id = e.student_id WHERE e.grade_level = 5 AND e.status = 'active' LIMIT 500")  # fmt: skip
    stdio = StdioWire([*SIS, "mcp"], sis_env(url, SIS_API_KEY=keys[0]), workdir / "sis-mcp-registrar.log")
    http = WireClient(server_url, keys[1])
    asks: list[tuple[str, Callable[[], str]]] = [(p.name, _raw_ask(p.client, p.tool, raw)) for p in peers if p.client]
    asks += [
        ("this server: run_sql, stdio", lambda: stdio.call("run_sql", {"sql": views, "limit": 500})),
        ("this server: run_sql, HTTP", lambda: json.dumps(http.call("run_sql", {"sql": views, "limit": 500}))),
        ("this server: query_roster, HTTP",
         lambda: json.dumps(http.call("query_roster", {"grade": 5, "status": "active", "limit": 500}))),
    ]  # fmt: skip
    table = section.table("contender", "students returned", "from outside the registrar's campus",
                          title="A campus registrar asks for the 5th graders (no campus named: the peers have no "
                                "notion of one)")  # fmt: skip
    try:
        for name, ask in asks:
            ids = sorted(set(UUID.findall(ask())))
            with engine.connect() as conn:
                students = conn.execute(text("SELECT id FROM student WHERE id = ANY(CAST(:ids AS uuid[]))"),
                                        {"ids": ids or [str(uuid.UUID(int=0))]}).scalars().all()  # fmt: skip
                outside = conn.execute(
                    text("SELECT count(*) FROM student s WHERE s.id = ANY(CAST(:ids AS uuid[])) AND NOT EXISTS "
                         "(SELECT 1 FROM enrollment e WHERE e.student_id = s.id AND e.org_id = :c)"),
                    {"ids": [str(s) for s in students] or [str(uuid.UUID(int=0))], "c": str(campus)},
                ).scalar_one()  # fmt: skip
            table.add(name, len(students), outside)
    finally:
        stdio.close()
        http.close()


def _raw_ask(client: Client, tool: str, sql: str) -> Callable[[], str]:
    def ask() -> str:
        answer = client.call(tool, {"sql": sql})
        return answer if isinstance(answer, str) else json.dumps(answer)

    return ask


def _escapes(section: Section, engine: Engine, peers: list[Contender], ours: list[Contender]) -> None:
    """Each escape statement against each contender's read-only mode: what got through."""
    contenders = peers + ours
    table = section.table("statement", *(c.name for c in contenders), title="Escape statements against each "
                          "read-only mode (a row in bench_canary, returned rows or a completed sleep = through)")  # fmt: skip
    for label, sql in ESCAPES.items():
        cells = []
        for c in contenders:
            assert c.client is not None
            cells.append(_through(engine, c.client, c.tool, label, sql))
        table.add(f"{label}: `{sql}`", *cells)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_canary"))
