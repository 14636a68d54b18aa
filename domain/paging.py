"""Pagination shared by every list answer: a hard cap so no answer floods a model's context."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_PAGE = 500


class Page(BaseModel):
    total: int = Field(description="Rows matching the query, across all pages.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page, or null on the last page.")


def page_meta(total: int, limit: int, offset: int) -> dict[str, int | None]:
    """Paging fields shared by every list answer."""
    nxt = offset + limit
    return {"total": total, "limit": limit, "offset": offset, "next_offset": nxt if nxt < total else None}
