"""What the network-scale benchmarks share: the scale data set (made once) and an admin key over it."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from db.models import Organization, RoleGrant, User, UserKind
from mcp_server.auth import create_api_key

SCALE_ROOT = "/scale/"


def ensure_scale(engine: Engine) -> None:
    """Generate network-scale data (200 campuses, 100,000 students) unless the scale root exists."""
    with Session(engine) as session:
        if session.execute(select(Organization.id).where(Organization.path == SCALE_ROOT)).first():
            return
    from db.demo.scale import seed_scale

    print("generating scale data (200 campuses, 100,000 students); this runs once", flush=True)
    started = time.perf_counter()
    seed_scale(engine, campuses=200, students=100_000)
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)


def admin_key(engine: Engine, email: str, display_name: str, kind: UserKind, key_name: str) -> str:
    """A network admin at the scale root (every campus, contacts included) and a fresh read key for it."""
    with Session(engine) as session, session.begin():
        root = session.execute(select(Organization).where(Organization.path == SCALE_ROOT)).scalar_one()
        user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if user is None:
            user = User(id=uuid.uuid4(), email=email, display_name=display_name, kind=kind)
            session.add(user)
            session.flush()
            session.execute(
                insert(RoleGrant).values(id=uuid.uuid4(), user_id=user.id, role="network_admin", org_id=root.id)
            )
        _, key = create_api_key(session, user, key_name, ["sis.read"])
    return key
