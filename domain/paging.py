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


def total_from_page(rows: int, limit: int, offset: int) -> int | None:
    """The total, when one page already tells it: a short page that is not past the end.

    A page with fewer rows than `limit` is the last one, so the total is offset + rows, unless it
    is empty past the first page (then the total is unknown and must be counted).
    """
    if rows < limit and (rows > 0 or offset == 0):
        return offset + rows
    return None
