"""The databases `sis bench` measures: a PostgreSQL server (given, or a throwaway one on loopback), one
database per data size (demo data, then `sis seed scale` beside it), SQLite files beside, and keys."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bench.harness import ROOT, SIS, rss_mib, sis_env
from db.engine import make_engine
from db.migrate import upgrade
from db.models import Organization, OrgLevel, RoleGrant, User, UserKind
from mcp_server.auth import create_api_key

SCALE_ROOT = "/scale/"


@dataclass(frozen=True)
class Size:
    """One data size: campuses and students (about 500 students a campus, as `sis seed scale` defaults)."""

    campuses: int
    students: int
    attendance_days: int

    @property
    def label(self) -> str:
        return f"{self.campuses} campuses, {self.students:,} students"

    @property
    def db_name(self) -> str:
        return f"sis_bench_{self.campuses}c_{self.students}s_{self.attendance_days}d"


@dataclass
class SeedRun:
    """One `sis seed scale` subprocess: wall time, peak resident memory, rows written."""

    engine: str
    size: Size
    seconds: float
    peak_mib: float
    summary: str


@contextlib.contextmanager
def postgres_server(url: str | None) -> Iterator[tuple[str, str]]:
    """(server URL, how it was found): `url` as given, or a throwaway cluster on loopback for the block."""
    if url:
        yield url, "given with --database-url"
        return
    sys.path.insert(0, str(ROOT))
    from tests import pg_cluster

    if not pg_cluster.available():
        raise RuntimeError("no --database-url given and no initdb/pg_ctl on this machine to start one")
    cluster = pg_cluster.start()
    try:
        yield cluster.url, "a throwaway cluster started for this run (tests/pg_cluster.py: fsync=off, loopback)"
    finally:
        cluster.stop()


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def create_database(server_url: str, name: str, *, fresh: bool = False) -> tuple[str, bool]:
    """The URL of database `name` on the server, created when absent (dropped first when `fresh`); and
    whether it was created now."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None
        if exists and fresh:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url(server_url, name), not exists


def has_scale(url: str) -> bool:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return session.execute(select(Organization.id).where(Organization.path == SCALE_ROOT)).first() is not None
    except SQLAlchemyError:  # a database never migrated has no organization table: it holds no scale data
        return False
    finally:
        engine.dispose()


def seed(url: str, size: Size, *, demo: bool = False) -> SeedRun:
    """`sis seed demo` (when asked) then `sis seed scale` as subprocesses; the scale seed timed, its memory sampled."""
    env = sis_env(url)
    if demo:
        subprocess.run([*SIS, "seed", "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    args = [*SIS, "seed", "scale", "--campuses", str(size.campuses), "--students", str(size.students)]
    args += ["--attendance-days", str(size.attendance_days)]
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, rss_mib(proc.pid))
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"sis seed scale failed: {output[-2000:]}")
    written = output.rsplit("scale data written:", 1)[-1]
    rows = sum(int(n) for n in re.findall(r"=(\d+)", written))
    summary = f"{rows:,} rows" if rows else written.strip()[:200]
    return SeedRun(make_url(url).get_backend_name(), size, seconds, peak, summary)


def ensure_sized(server_url: str, size: Size) -> tuple[str, SeedRun | None]:
    """The database holding `size` (scale data only), seeded when new; reused between runs."""
    url, _ = create_database(server_url, size.db_name)
    if has_scale(url):
        # Kept from an earlier run, perhaps of older code: bring its schema to this checkout's head first.
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        return url, None
    url, _ = create_database(server_url, size.db_name, fresh=True)
    return url, seed(url, size)


# -- who asks ----------------------------------------------------------------------------------------


def root_of(engine: Engine, *, scale: bool = True) -> uuid.UUID:
    """The scale network's root, or the demo network's."""
    with Session(engine) as session:
        query = select(Organization.id).where(Organization.level == OrgLevel.NETWORK)
        query = query.where(Organization.path == SCALE_ROOT if scale else Organization.path != SCALE_ROOT)
        return session.execute(query.order_by(Organization.path)).scalars().first()  # type: ignore[return-value]


def campuses(engine: Engine, *, full_sis: bool = True) -> list[uuid.UUID]:
    """The scale network's campuses in path order."""
    with Session(engine) as session:
        query = select(Organization.id).where(
            Organization.path.startswith(SCALE_ROOT), Organization.level == OrgLevel.CAMPUS
        )
        if full_sis:
            query = query.where(Organization.kind == "FULL_SIS")
        return list(session.execute(query.order_by(Organization.path)).scalars())


def bench_keys(
    engine: Engine,
    email: str,
    role: str,
    org_id: uuid.UUID,
    scopes: list[str],
    count: int = 1,
    kind: UserKind = UserKind.STAFF,
) -> list[str]:
    """A user (staff, or an integration CLIENT) holding `role` at `org_id` (only that grant) and `count`
    fresh API keys of theirs."""
    with Session(engine) as session, session.begin():
        user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if user is None:
            user = User(id=uuid.uuid4(), email=email, display_name=email.split("@")[0], kind=kind)
            session.add(user)
            session.flush()
        session.execute(delete(RoleGrant).where(RoleGrant.user_id == user.id))
        session.execute(insert(RoleGrant).values(id=uuid.uuid4(), user_id=user.id, role=role, org_id=org_id))
        return [create_api_key(session, user, f"sis bench {i}", scopes)[1] for i in range(count)]


def sqlite_beside(workdir: Path, size: Size) -> tuple[str, SeedRun]:
    """A fresh SQLite file with the same scale data, for the sections where SQLite is meaningful."""
    path = workdir / f"{size.db_name}.db"
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    return url, seed(url, size)
