"""Name normalization for duplicate detection (pure)."""

from __future__ import annotations

import unicodedata


def normalized(text: str) -> str:
    """Casefolded, accents stripped, whitespace collapsed: "  José  MARÍA " -> "jose maria"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def person_key(first_name: str, last_name: str) -> tuple[str, str]:
    """What two records of one child share: normalized legal first and last name."""
    return normalized(first_name), normalized(last_name)
