"""OneRoster `GET /users?limit=100` throughput at network scale, as a ratio to a bare FastAPI + psycopg endpoint.

Both servers run as their own uvicorn process (one worker each) on loopback against the same
PostgreSQL database holding `seed_scale` data (200 campuses, 100,000 students, their guardians
and staff). The SIS serves the page through the whole path (bearer API key, scope decision,
catalog tool via the runner, SQL with the scope in it, hash-chained query-log entry, JSON); the
bare endpoint runs hand-written SQL for the same rows with a small psycopg connection pool and
renders the same JSON; its page query takes the same shortcut as the SIS (each UNION branch's
first offset + limit ids, then the page), so the ratio compares like with like. The run first checks that both answer the same page (same users, same
X-Total-Count), then alternates timed rounds of concurrent clients against each. Goal: >= 0.7.

Run:  python bench/oneroster_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
      [--seconds 10] [--concurrency 8] [--rounds 2]
(the benchmark uses its own database, sis_oneroster_bench, on that server, generated on first use).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale_data import admin_key, ensure_scale  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import UserKind  # noqa: E402

BENCH_DB = "sis_oneroster_bench"
BENCH_EMAIL = "bench.oneroster@sis.example"
PATH = "/ims/oneroster/rostering/v1p2/users"
STAFF_ROLES = {"guide": "teacher", "campus_director": "principal", "registrar": "siteAdministrator",
               "network_admin": "districtAdministrator"}  # fmt: skip
PARENTS = ("mother", "father", "stepmother", "stepfather", "parent")


# -- database ------------------------------------------------------------------------------------


def bench_engine(server_url: str) -> Engine:
    """The benchmark's own database on the server: created, migrated and seeded at scale on first use."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": BENCH_DB}).first():
            conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    engine = make_engine(make_url(server_url).set(database=BENCH_DB).render_as_string(hide_password=False))
    upgrade(engine)
    ensure_scale(engine)
    return engine


def bench_key(engine: Engine) -> str:
    """A network admin at the scale root (sees every campus, contacts included) and a fresh API key."""
    return admin_key(engine, BENCH_EMAIL, "Bench Integrator", UserKind.CLIENT, "oneroster bench")


# -- the bare endpoint ---------------------------------------------------------------------------


UNION = """
    SELECT s.id, 'student' AS kind FROM student s
    UNION ALL
    SELECT u.id, 'staff' FROM user_account u WHERE u.kind = 'staff' AND EXISTS (
        SELECT 1 FROM role_grant g WHERE g.user_id = u.id AND g.role = ANY(%(roles)s)
        AND (g.expires_on IS NULL OR g.expires_on >= current_date))
    UNION ALL
    SELECT u.id, 'guardian' FROM user_account u WHERE u.kind = 'guardian' AND EXISTS (
        SELECT 1 FROM household_guardian hg JOIN household h ON h.id = hg.household_id WHERE hg.user_id = u.id)
"""


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _grade(grade: int) -> str:
    return {-1: "PK", 0: "KG"}.get(grade, f"{grade:02d}")


def _split(name: str) -> tuple[str, str]:
    given, space, family = name.partition(" ")
    return (given, family) if space else (name, name)


def bare_page(conn: psycopg.Connection[Any], base: str, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """The users page as plain SQL and dicts: no authentication, scope or audit."""

    def ref(kind: str, ident: object) -> dict[str, str]:
        return {"href": f"{base}/{'orgs' if kind == 'org' else 'users'}/{ident}", "sourcedId": str(ident), "type": kind}

    roles = list(STAFF_ROLES)
    total = conn.execute(f"SELECT count(*) FROM ({UNION}) u", {"roles": roles}).fetchone()[0]  # type: ignore[index]
    # The page from each branch's own first offset + limit ids (index walks that stop early),
    # as the SIS does: the baseline gets the same query plan trick, not a naive full sort.
    branches = [b.strip() for b in UNION.split("UNION ALL")]
    picked = " UNION ALL ".join(f"SELECT * FROM ({b} ORDER BY 1 LIMIT %(wanted)s) b{i}" for i, b in enumerate(branches))
    page = conn.execute(
        f"SELECT id, kind FROM ({picked}) u ORDER BY id LIMIT %(limit)s OFFSET %(offset)s",
        {"roles": roles, "limit": limit, "offset": offset, "wanted": offset + limit},
    ).fetchall()
    ids = {kind: [i for i, k in page if k == kind] for kind in ("student", "staff", "guardian")}
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for r in conn.execute(
        "SELECT id, updated_at, first_name, last_name, preferred_name, student_number, email, org_id, grade_level"
        " FROM student WHERE id = ANY(%(ids)s)",
        {"ids": ids["student"]},
    ):
        item: dict[str, Any] = {"sourcedId": str(r[0]), "status": "active", "dateLastModified": _ts(r[1]),
                                "enabledUser": "true", "givenName": r[2], "familyName": r[3]}  # fmt: skip
        if r[4]:
            item["preferredFirstName"] = r[4]
        item["roles"] = [{"roleType": "primary", "role": "student", "org": ref("org", r[7])}]
        item["primaryOrg"] = ref("org", r[7])
        item["identifier"] = str(r[5])
        item["userIds"] = [{"type": "studentNumber", "identifier": str(r[5])}]
        if r[6] is not None:
            item["email"] = r[6]
        item["_agents"], item["grades"], item["metadata"] = [], [_grade(r[8])], {"sis": {"kind": "student"}}
        rows[r[0]] = item
    for student_id, guardian_id in conn.execute(
        "SELECT hs.student_id, hg.user_id FROM household_student hs"
        " JOIN household_guardian hg ON hg.household_id = hs.household_id"
        " JOIN household h ON h.id = hs.household_id WHERE hs.student_id = ANY(%(ids)s)"
        " ORDER BY hg.is_primary DESC, hg.user_id",
        {"ids": ids["student"]},
    ):
        if guardian_id not in rows[student_id]["_agents"]:
            rows[student_id]["_agents"].append(guardian_id)
    people = ids["staff"] + ids["guardian"]
    for r in conn.execute(
        "SELECT id, updated_at, display_name, email, is_active, kind FROM user_account WHERE id = ANY(%(ids)s)",
        {"ids": people},
    ):
        given, family = _split(r[2])
        item = {"sourcedId": str(r[0]), "status": "active" if r[4] else "tobedeleted", "dateLastModified": _ts(r[1]),
                "enabledUser": "true" if r[4] else "false", "givenName": given, "familyName": family,
                "roles": [], "_agents": [], "_kind": r[5]}  # fmt: skip
        if r[3] is not None:
            item["email"] = r[3]
        rows[r[0]] = item
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for user_id, role, org_id in conn.execute(
        "SELECT user_id, role, org_id FROM role_grant WHERE user_id = ANY(%(ids)s) AND role = ANY(%(roles)s)"
        " AND (expires_on IS NULL OR expires_on >= current_date) ORDER BY granted_at, id",
        {"ids": ids["staff"], "roles": roles},
    ):
        kind = "secondary" if (user_id, org_id) in seen else "primary"
        seen.add((user_id, org_id))
        rows[user_id]["roles"].append({"roleType": kind, "role": STAFF_ROLES[role], "org": ref("org", org_id)})
        rows[user_id].setdefault("_primary", org_id)
    primary_household: dict[uuid.UUID, tuple[Any, ...]] = {}
    for guardian_id, relationship, org_id, is_primary, created_at, household_id in conn.execute(
        "SELECT hg.user_id, hg.relationship, h.org_id, hg.is_primary, h.created_at, h.id FROM household_guardian hg"
        " JOIN household h ON h.id = hg.household_id WHERE hg.user_id = ANY(%(ids)s)"
        " ORDER BY hg.is_primary DESC, h.id",
        {"ids": ids["guardian"]},
    ):
        key = (guardian_id, org_id)
        rank = (not is_primary, created_at, household_id)
        if guardian_id not in primary_household or rank < primary_household[guardian_id][0]:
            primary_household[guardian_id] = (rank, org_id)
        if key in seen:
            continue
        seen.add(key)
        role = "parent" if relationship in PARENTS else "guardian"
        rows[guardian_id]["roles"].append({"roleType": "primary", "role": role, "org": ref("org", org_id)})
    for guardian_id, student_id in conn.execute(
        "SELECT hg.user_id, hs.student_id FROM household_guardian hg"
        " JOIN household_student hs ON hs.household_id = hg.household_id"
        " JOIN household h ON h.id = hg.household_id WHERE hg.user_id = ANY(%(ids)s) ORDER BY hs.student_id",
        {"ids": ids["guardian"]},
    ):
        if student_id not in rows[guardian_id]["_agents"]:
            rows[guardian_id]["_agents"].append(student_id)
    for guardian_id, (_, org_id) in primary_household.items():
        rows[guardian_id]["_primary"] = org_id
    out = []
    for user_id, kind in page:
        item = rows[user_id]
        agents = item.pop("_agents")
        if kind != "student":
            item.pop("_kind")
            primary = item.pop("_primary", None)
            if primary is not None:
                item["primaryOrg"] = ref("org", primary)
            item["agents"] = [ref("user", a) for a in agents]
            item["metadata"] = {"sis": {"kind": kind}}
            item = {k: item[k] for k in ("sourcedId", "status", "dateLastModified", "enabledUser", "givenName",
                    "familyName", "roles", "primaryOrg", "email", "agents", "metadata") if k in item}  # fmt: skip
        else:
            item = {**{k: v for k, v in item.items() if k not in ("grades", "metadata")},
                    "agents": [ref("user", a) for a in agents], "grades": item["grades"], "metadata": item["metadata"]}  # fmt: skip
        out.append(item)
    return total, out


def bare_app(conninfo: str, pool_size: int = 10) -> Any:
    """A bare FastAPI app serving the same users page with psycopg and a small connection pool."""
    pool: queue.Queue[psycopg.Connection[Any]] = queue.Queue()
    for _ in range(pool_size):
        pool.put(psycopg.connect(conninfo, autocommit=True))

    @contextmanager
    def connection() -> Iterator[psycopg.Connection[Any]]:
        conn = pool.get()
        try:
            yield conn
        finally:
            pool.put(conn)

    app = FastAPI()

    @app.get(PATH)
    def users(request: Request, limit: int = 100, offset: int = 0) -> JSONResponse:
        base = str(request.base_url).rstrip("/") + PATH.rsplit("/", 1)[0]
        with connection() as conn:
            total, items = bare_page(conn, base, limit, offset)
        return JSONResponse({"users": items}, headers={"X-Total-Count": str(total)})

    return app


# -- running and measuring -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(kind: str, url: str, port: int) -> None:
    """Run one server in this process (the child side of `start`)."""
    import uvicorn

    if kind == "sis":
        from mcp_server.app import create_app

        app = create_app(make_engine(url), base_url=f"http://127.0.0.1:{port}")
    else:
        app = bare_app(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start(kind: str, url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--database-url", url, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/docs", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the {kind} server did not start")


def throughput(
    base: str, headers: dict[str, str], seconds: float, concurrency: int, latencies: list[float] | None = None
) -> tuple[float, int]:
    """Requests per second of GET /users?limit=100 by `concurrency` clients for `seconds`; and errors.

    Each request's latency (ms) is appended to `latencies` when given."""
    stop = time.perf_counter() + seconds
    counts = [0] * concurrency
    errors = [0] * concurrency

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = client.get(PATH, params={"limit": 100})
                if latencies is not None:
                    latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code == 200:
                    counts[n] += 1
                else:
                    errors[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - began), sum(errors)


def normalized(response: httpx.Response) -> tuple[str, Any]:
    body = re.sub(r"http://127\.0\.0\.1:\d+", "BASE", response.text)
    return response.headers["x-total-count"], json.loads(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("SIS_TEST_POSTGRES_URL", ""))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", choices=["sis", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.database_url, args.port)
        return
    if not args.database_url.startswith("postgresql"):
        parser.error("give --database-url postgresql+psycopg://... (network scale means PostgreSQL)")
    engine = bench_engine(args.database_url)
    url = engine.url.render_as_string(hide_password=False)
    headers = {"Authorization": f"Bearer {bench_key(engine)}"}
    engine.dispose()
    servers = {kind: start(kind, url) for kind in ("sis", "bare")}
    try:
        sis, bare = (
            httpx.get(servers[k][1] + PATH, params={"limit": 100}, headers=headers, timeout=60) for k in ("sis", "bare")
        )
        assert sis.status_code == 200 and bare.status_code == 200, (sis.text[:300], bare.text[:300])
        same = normalized(sis) == normalized(bare)
        print(
            f"same page from both: {same} (X-Total-Count {sis.headers['x-total-count']}, {len(sis.json()['users'])} users)"
        )
        if not same:
            raise SystemExit("the two endpoints disagree; fix the bare SQL before comparing speed")
        results: dict[str, list[float]] = defaultdict(list)
        for kind in ("sis", "bare"):  # warm-up: plans cached, pools filled
            throughput(servers[kind][1], headers, 2, args.concurrency)
        for round_no in range(args.rounds):
            for kind in ("sis", "bare") if round_no % 2 == 0 else ("bare", "sis"):
                rps, errors = throughput(servers[kind][1], headers, args.seconds, args.concurrency)
                results[kind].append(rps)
                print(f"round {round_no + 1} {kind:>4}: {rps:7.1f} req/s ({errors} errors)", flush=True)
        sis_rps = sum(results["sis"]) / len(results["sis"])
        bare_rps = sum(results["bare"]) / len(results["bare"])
        print(f"\nOneRoster GET /users?limit=100: SIS {sis_rps:.1f} req/s, bare FastAPI+psycopg {bare_rps:.1f} req/s")
        print(f"ratio SIS/bare = {sis_rps / bare_rps:.2f} (goal >= 0.7); concurrency {args.concurrency}, "
              f"{args.rounds} x {args.seconds:.0f} s per server")  # fmt: skip
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
