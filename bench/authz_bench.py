"""Authorization decision time at network scale, against naive Casbin enforce() as the baseline.

Builds (in a throwaway SQLite file, or --database-url) a network of 10 brands, 200 campuses
(10 ROSTER_ONLY) with 3 program nodes each, and 5,000 staff users holding one role grant each
(network, brand and campus level), then times:

  decide()                 one org-level decision through the cached role permissions and tree index
  build_scope warm         per request: tree-version query + cached decision + fresh Scope
  build_scope cold         decision cache cleared (org index kept)
  build_scope cold+index   both caches cleared: reads and indexes the org tree as well
  casbin enforce()         the same question asked of Casbin with every grant loaded as a g line

Run:  python bench/authz_bench.py [--decisions 20000] [--casbin-samples 300] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import cast

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from db.base import utcnow
from db.engine import make_engine
from db.memo import forget_all
from db.migrate import upgrade
from db.models import Organization, OrgKind, OrgLevel, RoleGrant, User, UserKind
from policies.authorize import build_scope, decide
from policies.enforcer import PolicyEnforcer, Role
from policies.orgtree import org_index, tree_version
from policies.principal import Grant, Principal, PrincipalKind
from policies.scope import Action, DataClass

BRANDS, CAMPUSES, ROSTER_CAMPUSES, PROGRAMS_PER_CAMPUS, STAFF = 10, 200, 10, 3, 5_000
CAMPUS_ROLES = [Role.REGISTRAR, Role.NURSE, Role.FINANCE, Role.GUIDE, Role.CAMPUS_DIRECTOR, Role.ADMISSIONS]


def build_network(session: Session, rng: random.Random) -> tuple[list[dict[str, object]], list[Principal]]:
    """Insert the org tree and the staff with their grants; return the org rows and the principals."""
    now = utcnow()
    orgs: list[dict[str, object]] = []

    def org(parent: dict[str, object] | None, slug: str, level: OrgLevel, kind: OrgKind) -> dict[str, object]:
        row: dict[str, object] = {
            "id": uuid.uuid4(),
            "parent_id": parent["id"] if parent else None,
            "slug": slug,
            "name": slug.title(),
            "level": level,
            "kind": kind,
            "path": f"{parent['path'] if parent else '/'}{slug}/",
            "timezone": "America/Chicago",
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        }
        orgs.append(row)
        return row

    root = org(None, "net", OrgLevel.NETWORK, OrgKind.FULL_SIS)
    brands = [org(root, f"brand{b}", OrgLevel.BRAND, OrgKind.FULL_SIS) for b in range(BRANDS)]
    campuses = []
    for c in range(CAMPUSES):
        kind = OrgKind.ROSTER_ONLY if c < ROSTER_CAMPUSES else OrgKind.FULL_SIS
        campus = org(brands[c % BRANDS], f"campus{c}", OrgLevel.CAMPUS, kind)
        campuses.append(campus)
        for p in range(PROGRAMS_PER_CAMPUS):
            org(campus, f"program{p}", OrgLevel.PROGRAM, OrgKind.FULL_SIS)
    session.execute(insert(Organization), orgs)

    users, grants, principals = [], [], []
    for i in range(STAFF):
        user_id = uuid.uuid4()
        if i < 50:
            role, node = rng.choice([Role.NETWORK_ADMIN, Role.AUDITOR]), root
        elif i < 300:
            role, node = rng.choice([Role.CAMPUS_DIRECTOR, Role.FINANCE, Role.REGISTRAR]), rng.choice(brands)
        else:
            role, node = rng.choice(CAMPUS_ROLES), rng.choice(campuses)
        email = f"staff{i}@bench.example"
        users.append(
            {"id": user_id, "email": email, "display_name": f"Staff {i}", "kind": UserKind.STAFF, "is_active": True}
        )
        grants.append({"id": uuid.uuid4(), "user_id": user_id, "role": role.value, "org_id": node["id"]})
        principals.append(
            Principal(
                user_id=user_id,
                email=email,
                display_name=f"Staff {i}",
                kind=PrincipalKind.USER,
                grants=(Grant(role.value, cast(uuid.UUID, node["id"]), str(node["path"])),),
            )
        )
    session.execute(insert(User), [{**u, "created_at": now, "updated_at": now} for u in users])
    session.execute(insert(RoleGrant), [{**g, "granted_at": now} for g in grants])
    session.flush()
    return orgs, principals


def timed(fn: Callable[[], object], samples: int) -> list[float]:
    """Per-call wall time in microseconds for `samples` calls."""
    out = []
    for _ in range(samples):
        start = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def stats(values: list[float]) -> tuple[float, float]:
    """(median, p99) of `values`."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


Row = tuple[str, float, float, str]


def measure(engine: Engine, *, decisions: int, scopes: int, casbin_samples: int, seed: int = 42) -> list[Row]:
    """Build the network in `engine` (an EMPTY, migrated database), time each path; rows of (path, median µs,
    p99 µs, notes), the naive Casbin rows last."""
    rng = random.Random(seed)
    enforcer = PolicyEnforcer()
    classes, actions = list(DataClass), list(Action)
    rows: list[Row] = []

    with Session(engine) as session:
        orgs, principals = build_network(session, rng)
        session.commit()
        org_ids = [cast(uuid.UUID, o["id"]) for o in orgs]
        index = org_index(session)

        def one_decision() -> bool:
            return decide(
                enforcer, index, rng.choice(principals), rng.choice(classes), rng.choice(actions), rng.choice(org_ids)
            )

        timed(one_decision, 1000)
        d_med, d_p99 = stats(timed(one_decision, decisions))
        rows.append(("decide()", d_med, d_p99, f"{decisions} random decisions"))

        warm_set = principals[:scopes]
        for p in warm_set:
            build_scope(session, enforcer, p)
        it = iter(warm_set * 2)
        w_med, w_p99 = stats(timed(lambda: build_scope(session, enforcer, next(it)), scopes))
        rows.append(("build_scope warm", w_med, w_p99, "incl. the tree-version query"))

        cold = iter(principals)

        index = org_index(session)

        def cold_scope() -> object:
            forget_all()
            tree_version(session)  # the token query a request makes; the index stays warm
            return build_scope(session, enforcer, next(cold), index=index)

        c_med, c_p99 = stats(timed(cold_scope, min(scopes, len(principals))))
        rows.append(("build_scope cold", c_med, c_p99, "decision cache cleared each call"))

        def cold_index() -> object:
            forget_all()
            return build_scope(session, enforcer, rng.choice(principals))

        i_med, i_p99 = stats(timed(cold_index, 50))
        rows.append(("build_scope cold+index", i_med, i_p99, "org tree re-read and indexed each call"))

    naive = PolicyEnforcer()
    started = time.perf_counter()
    for p in principals:
        for g in p.grants:
            naive.add_grant_line(str(p.user_id), g.role, g.org_path)
    load_s = time.perf_counter() - started
    paths = [str(o["path"]) for o in orgs]

    def one_enforce() -> bool:
        return naive.enforce(
            str(rng.choice(principals).user_id), rng.choice(paths), rng.choice(classes), rng.choice(actions)
        )

    n_med, n_p99 = stats(timed(one_enforce, casbin_samples))
    rows.append(("casbin enforce() naive", n_med, n_p99, f"{len(principals)} g lines (loaded in {load_s:.1f}s)"))

    small = PolicyEnforcer()
    for p in principals[:200]:
        for g in p.grants:
            small.add_grant_line(str(p.user_id), g.role, g.org_path)

    def small_enforce() -> bool:
        return small.enforce(
            str(rng.choice(principals[:200]).user_id),
            rng.choice(paths),
            rng.choice(classes),
            rng.choice(actions),
        )

    s_med, s_p99 = stats(timed(small_enforce, casbin_samples))
    rows.append(("casbin enforce() naive", s_med, s_p99, "200 g lines"))
    return rows


def main() -> None:
    """Build the network, time each path, print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--scopes", type=int, default=2_000)
    parser.add_argument("--casbin-samples", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="an EMPTY database (default: a temp SQLite file)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    engine = make_engine(args.database_url or f"sqlite:///{Path(tmp.name) / 'authz.db'}")
    upgrade(engine)
    started = time.perf_counter()
    rows = measure(engine, decisions=args.decisions, scopes=args.scopes, casbin_samples=args.casbin_samples)
    print(f"network of {CAMPUSES} campuses and {STAFF} staff grants on {engine.dialect.name}, "
          f"built and timed in {time.perf_counter() - started:.1f}s")  # fmt: skip
    print(f"\n{'path':<26}{'median µs':>12}{'p99 µs':>12}  notes")
    for name, med, p99, note in rows:
        print(f"{name:<26}{med:>12.1f}{p99:>12.1f}  {note}")
    d_med, n_med = rows[0][1], rows[-2][1]
    print(f"\ndecide() vs naive casbin at {STAFF} grants: {n_med / d_med:,.0f}x faster (median)")
    print(f"target: decide() median <= 50 µs -> {'met' if d_med <= 50 else 'NOT met'} ({dt.date.today()})")
    engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
