"""The webhook signature scheme (HMAC-SHA256 over the timestamp and the exact body bytes).

Every delivery carries:

- `SIS-Event-Id`: the event id; deliveries are at-least-once, so deduplicate by it;
- `SIS-Event-Type`: e.g. enrollment.created;
- `SIS-Delivery-Id` and `SIS-Delivery-Attempt`: which delivery and which try of it;
- `SIS-Signature: t=<unix seconds>,v1=<hex>` where hex = HMAC-SHA256(secret, "<t>." + body); after a
  secret rotation, until its overlap ends, a second `v1=` signs with the previous secret.

A receiver recomputes the HMAC over the raw body it received, accepts it when any v1 matches (compared
in constant time), and
rejects a timestamp older than its tolerance (default five minutes) to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "SIS-Signature"
EVENT_ID_HEADER = "SIS-Event-Id"
EVENT_TYPE_HEADER = "SIS-Event-Type"
DELIVERY_ID_HEADER = "SIS-Delivery-Id"
ATTEMPT_HEADER = "SIS-Delivery-Attempt"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>." followed by the body, keyed by the subscription secret."""
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets: str | Sequence[str], timestamp: int, body: bytes) -> str:
    """The SIS-Signature header value for a body sent at `timestamp`: one v1 per secret (several during a
    rotation's overlap, the newest first), so a receiver holding either secret verifies it."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    return ",".join([f"t={timestamp}", *(f"v1={signature(secret, timestamp, body)}" for secret in keys)])


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S) -> bool:
    """True when one of the header's v1 signatures signs `body` with `secret` and its timestamp is within
    the tolerance of `now`."""
    pairs = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [value for key, value in pairs if key.strip() == "t"]
    try:
        timestamp = int(stamps[0]) if len(stamps) == 1 else None
    except ValueError:
        return False
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(value.strip(), expected) for key, value in pairs if key.strip() == "v1")
