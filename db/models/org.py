"""The organization tree: network -> brand -> campus -> program, with materialized paths."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps, UUIDPrimaryKey
from db.models._types import str_enum


class OrgLevel(enum.StrEnum):
    NETWORK = "network"
    BRAND = "brand"
    CAMPUS = "campus"
    PROGRAM = "program"


class OrgKind(enum.StrEnum):
    FULL_SIS = "FULL_SIS"
    ROSTER_ONLY = "ROSTER_ONLY"


class Organization(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "organization"

    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[OrgLevel] = mapped_column(str_enum(OrgLevel))
    kind: Mapped[OrgKind] = mapped_column(str_enum(OrgKind))
    # "/alpha/austin/": slugs of the node and its ancestors; a subtree is a path prefix.
    path: Mapped[str] = mapped_column(String(512), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/Chicago")
    # Immunization jurisdiction whose requirement rows apply: a US state's two letters ("TX"; "US-TX" is
    # accepted on input and stored so), another country's ISO 3166-2 code as given; inherited when null.
    jurisdiction: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Set by close_organization (is_active false): a closed org keeps its rows and history.
    closed_on: Mapped[dt.date | None]
