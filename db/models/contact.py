"""Emergency contacts: the people a school calls about a student when no guardian answers."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps, UUIDPrimaryKey


class EmergencyContact(UUIDPrimaryKey, Timestamps, Base):
    """One person to call for a student, in priority order (1 = first); replaced as a list."""

    __tablename__ = "emergency_contact"
    __table_args__ = (
        UniqueConstraint("student_id", "priority"),
        CheckConstraint("priority >= 1", name="priority_positive"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    # The student's home campus when the list was written: lets campus auditors see the change events.
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    name: Mapped[str] = mapped_column(String(200))
    relationship: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int]
    may_pick_up: Mapped[bool] = mapped_column(default=False)
