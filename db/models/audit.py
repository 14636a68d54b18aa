"""Field-level change events: every write records who changed what, from what, to what, and why."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import BigIntPK, Base, utcnow


class ChangeEvent(Base):
    __tablename__ = "change_event"
    __table_args__ = (Index("ix_change_event_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(254))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization.id"))
    field: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(300))
    # Groups the events of one write (one capability call).
    operation_id: Mapped[str] = mapped_column(String(64), index=True)
