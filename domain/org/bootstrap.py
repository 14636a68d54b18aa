"""The first rows of an empty database: the network root and its first administrator (`sis init`)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Organization, OrgKind, OrgLevel, RoleGrant, User, UserKind
from domain.audit.changes import record_changes
from domain.errors import InvalidInput
from domain.events import emit_event
from domain.org.errors import NetworkExists
from domain.org.schemas import check_slug, check_timezone, slug_of
from policies.scope import Scope

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NETWORK_ADMIN = "network_admin"


def bootstrap_network(
    session: Session,
    scope: Scope,
    *,
    network_name: str,
    admin_email: str,
    slug: str | None = None,
    admin_name: str | None = None,
    timezone: str = "America/Chicago",
) -> tuple[Organization, User]:
    """Create the root organization and its first network administrator (staff, network_admin at the root).

    Raises:
        NetworkExists: the database already has a root organization.
        InvalidInput: a blank name, a malformed slug, email or timezone, or a user with that email exists.
    """
    root = session.execute(select(Organization.path).where(Organization.parent_id.is_(None)).limit(1)).scalar()
    if root is not None:
        raise NetworkExists(
            f"this database already has a root organization ({root}); `sis init` only runs on an empty database"
        )
    name = " ".join(network_name.split())
    if not name:
        raise InvalidInput("the network needs a name (--network)", field="network")
    email = admin_email.strip().lower()
    if not EMAIL.match(email):
        raise InvalidInput(f"{admin_email!r} is not an email address (--admin)", field="admin")
    taken = session.execute(select(User.id).where(func.lower(User.email) == email)).first()
    if taken is not None:
        raise InvalidInput(f"a user with email {email} already exists", field="admin")
    try:
        slug = check_slug(slug) if slug else slug_of(name)
        timezone = check_timezone(timezone)
    except ValueError as err:
        raise InvalidInput(str(err), field="slug" if "slug" in str(err) else "timezone") from None
    org = Organization(
        id=uuid.uuid4(),
        parent_id=None,
        slug=slug,
        name=name,
        level=OrgLevel.NETWORK,
        kind=OrgKind.FULL_SIS,
        path=f"/{slug}/",
        timezone=timezone,
        is_active=True,
    )
    session.add(org)
    record_changes(session, scope, org, reason="sis init: the network root")
    admin = User(
        id=uuid.uuid4(),
        email=email,
        display_name=(admin_name or "").strip() or email.split("@", 1)[0],
        kind=UserKind.STAFF,
        is_active=True,
    )
    session.add(admin)
    record_changes(session, scope, admin, reason="sis init: the first network administrator")
    grant = RoleGrant(id=uuid.uuid4(), user_id=admin.id, role=NETWORK_ADMIN, org_id=org.id)
    session.add(grant)
    record_changes(session, scope, grant, reason="sis init: the first network administrator")
    emit_event(
        session,
        event_type="organization.created",
        org_id=org.id,
        payload={"org_id": org.id, "parent_id": None, "name": name, "path": org.path, "level": "network"},
    )
    session.flush()
    return org, admin
