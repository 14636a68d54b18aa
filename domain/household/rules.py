"""Pure billing-share rules: shares in basis points, and splitting an amount of cents by them.

A student in several households (split custody) is billed to each in proportion to its share.
Shares are basis points (1/100 of a percent) so that 100% is exactly 10000 and sums are exact.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from domain.errors import BillingSharesInvalid

FULL_SHARE_BP = 10_000


def validate_shares(shares: Mapping[uuid.UUID, int]) -> None:
    """Accept shares that are each 0..10000 basis points and sum to exactly 10000.

    Raises:
        BillingSharesInvalid: a share is out of range, or the sum is not 10000 (the message says the sum).
    """
    for household_id, share in sorted(shares.items()):
        if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= FULL_SHARE_BP:
            raise BillingSharesInvalid(
                f"billing share {share!r} for household {household_id} must be an integer from 0 to "
                f"{FULL_SHARE_BP} basis points",
                field="shares",
            )
    total = sum(shares.values())
    if total != FULL_SHARE_BP:
        raise BillingSharesInvalid(
            f"billing shares must sum to {FULL_SHARE_BP} basis points (100%); found {total} ({total / 100:.2f}%)",
            field="shares",
        )


def split_amount(total_cents: int, shares: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, int]:
    """Split `total_cents` by shares into integer cents that always sum exactly to the total.

    Largest remainder: each household gets the floor of its exact share, and the cents left over
    go one each to the largest remainders, ties broken by household id, so every part is within one
    cent of its exact share and the result is deterministic. A negative total (a refund) splits as
    the mirror image of the positive one.

    Raises:
        BillingSharesInvalid: the shares are not valid (see validate_shares).
    """
    validate_shares(shares)
    sign = -1 if total_cents < 0 else 1
    amount = abs(total_cents)
    parts: dict[uuid.UUID, int] = {}
    remainders: list[tuple[int, uuid.UUID]] = []
    for household_id, share in shares.items():
        whole, remainder = divmod(amount * share, FULL_SHARE_BP)
        parts[household_id] = whole
        remainders.append((remainder, household_id))
    leftover = amount - sum(parts.values())
    # Since the shares sum to 10000, leftover < the number of non-zero remainders: zero shares never get a cent.
    for _, household_id in sorted(remainders, key=lambda r: (-r[0], r[1]))[:leftover]:
        parts[household_id] += 1
    return {household_id: sign * cents for household_id, cents in parts.items()}


# -- contact details ------------------------------------------------------------------------------

# One @, no spaces, a dot in the domain: strict enough to catch typos, loose enough for real addresses.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$")


def normalized_email(value: str) -> str:
    """The address trimmed and lower-cased (accounts are unique by it).

    Raises:
        ValueError: not an email address.
    """
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValueError(f"{value!r} is not an email address (expected name@example.org)")
    return email


def normalized_phone(value: str) -> str:
    """The number trimmed; digits, spaces, + ( ) . - and an optional extension, 7 to 15 digits.

    Raises:
        ValueError: not a phone number.
    """
    phone = " ".join(value.split())
    main = re.split(r"\s*(?:x|ext\.?)\s*", phone, maxsplit=1)[0]
    digits = sum(ch.isdigit() for ch in main)
    if len(phone) > 40 or not _PHONE_CHARS.match(phone) or not 7 <= digits <= 15:
        raise ValueError(f"{value!r} is not a phone number (expected e.g. 512-555-0100 or +1 512 555 0100)")
    return phone


def duplicate_priorities(priorities: list[int]) -> list[int]:
    """The priorities given more than once, sorted."""
    return sorted({p for p in priorities if priorities.count(p) > 1})
