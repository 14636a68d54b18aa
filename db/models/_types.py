"""Portable enum column: a VARCHAR with a CHECK constraint on both engines."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum


def str_enum(enum_cls: type[enum.StrEnum], **kw: Any) -> Enum:
    """Store a StrEnum by value, as text checked by a constraint (no native PG enum types)."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        **kw,
    )
