"""Version tokens of reference tables (migration 0006): what is derived from such a table alone
may be remembered under its token, since triggers replace the token on any change to the table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.engine import fresh_version
from db.models import ReferenceVersion


def reference_version(session: Session, name: str) -> str:
    """The current token of reference table `name`; "" when it has none (then remember nothing)."""
    connection = session.connection()
    fresh = fresh_version(connection, name)
    if fresh is not None:
        return fresh
    token = connection.execute(select(ReferenceVersion.token).where(ReferenceVersion.name == name)).scalar_one_or_none()
    return "" if token is None else str(token)
