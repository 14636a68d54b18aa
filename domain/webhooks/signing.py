"""The webhook signature scheme (HMAC-SHA256 over the timestamp and the exact body bytes).

Every delivery carries:

- `SIS-Event-Id`: the event id; deliveries are at-least-once, so deduplicate by it;
- `SIS-Event-Type`: e.g. enrollment.created;
- `SIS-Delivery-Id` and `SIS-Delivery-Attempt`: which delivery and which try of it;
- `SIS-Signature: t=<unix seconds>,v1=<hex>` where hex = HMAC-SHA256(secret, "<t>." + body).

A receiver recomputes the HMAC over the raw body it received, compares in constant time, and
rejects a timestamp older than its tolerance (default five minutes) to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "SIS-Signature"
EVENT_ID_HEADER = "SIS-Event-Id"
EVENT_TYPE_HEADER = "SIS-Event-Type"
DELIVERY_ID_HEADER = "SIS-Delivery-Id"
ATTEMPT_HEADER = "SIS-Delivery-Attempt"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>." followed by the body, keyed by the subscription secret."""
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The SIS-Signature header value for a body sent at `timestamp`."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within the tolerance of `now`."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, timestamp, body))
