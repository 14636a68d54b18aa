"""People who log in (staff, guardians, integration clients) and their role grants at org nodes."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps, UUIDPrimaryKey, utcnow
from db.models._types import str_enum


class UserKind(enum.StrEnum):
    STAFF = "staff"
    GUARDIAN = "guardian"
    CLIENT = "client"
    STUDENT = "student"


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[UserKind] = mapped_column(str_enum(UserKind))
    phone: Mapped[str | None] = mapped_column(String(40))
    is_active: Mapped[bool] = mapped_column(default=True)
    # The org whose staff the user joined (create_user); its administrators see the user before any grant.
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization.id"), index=True)


class RoleGrant(UUIDPrimaryKey, Base):
    """A role held at an org node; it covers the node's whole subtree. Revoked grants stay, as history."""

    __tablename__ = "role_grant"
    # One grant in force per (user, role, org); revoked ones may repeat.
    __table_args__ = (
        Index(
            "uq_role_grant_in_force",
            "user_id",
            "role",
            "org_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_on: Mapped[dt.date | None]
    granted_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
