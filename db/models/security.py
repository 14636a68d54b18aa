"""API keys: random secrets shown once, stored only as a SHA-256 hash next to a public prefix."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey, utcnow


class ApiKey(UUIDPrimaryKey, Base):
    """A credential acting for its owner, optionally narrowed to an org subtree and OAuth-style scopes."""

    __tablename__ = "api_key"

    # "sis_live_ab12cd34": shown in lists and logs, and used to find the row.
    prefix: Mapped[str] = mapped_column(String(40), unique=True)
    # Hex SHA-256 of the whole presented key; the key itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    # Narrows the owner's grants to this org's subtree; null keeps them whole.
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization.id"))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    # {"per_minute", "per_day", "per_month"}: this key's own limits; null (or a missing one) takes the plan default.
    limits: Mapped[dict[str, Any] | None]


class UsageCounter(Base):
    """Calls of one credential in one window (minute, UTC day, UTC month), counted by upsert (domain/access/usage.py)."""

    __tablename__ = "usage_counter"

    # "key:<api key id>" or "oauth:<client>": what is limited.
    subject: Mapped[str] = mapped_column(String(120), primary_key=True)
    window: Mapped[str] = mapped_column(String(10), primary_key=True)
    starts_at: Mapped[dt.datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class OrgTreeVersion(Base):
    """One row whose token changes (by trigger) whenever any organization row changes.

    Authorization caches its org tree index under this token, so checking for a changed tree
    costs one primary-key read per request; a random token (not a counter) keeps a rolled-back
    change from ever sharing a version with a committed one.
    """

    __tablename__ = "org_tree_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(64))


class ReferenceVersion(Base):
    """A token per reference table (jurisdictions' immunization rules), replaced by trigger on any change.

    What is derived from such a table alone is remembered under its token; a random token (not a
    counter) keeps a rolled-back change from ever sharing a version with a committed one.
    """

    __tablename__ = "reference_version"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))


class CacheVersion(Base):
    """A token per kind of remembered state ("credentials": verified keys and their owners' grants).

    Triggers (migration 0017) replace it in the same transaction as a revocation, a grant change or
    a deactivation, so every server process can tell that what it remembers went stale
    (mcp_server/cache_watch.py); random for the same reason as OrgTreeVersion's.
    """

    __tablename__ = "cache_version"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
