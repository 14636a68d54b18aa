"""Query-log entries for requests that never reached the runner (a body FastAPI could not parse, a query
parameter of the wrong type; later a failed sign-in), so every call leaves an entry.

The caller is the authenticated principal's actor when the request carried a valid credential,
otherwise `anonymous_actor` with at most the public prefix of the key presented (never its secret).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from db.models import QueryOutcome
from domain.audit.querylog import LoggedEntry, record_query
from policies.scope import Actor

ANONYMOUS = "anonymous"
# The public part of our keys and tokens ("sis_live_ab12cd34", "sis_oat_0a1b2c3d"): what the query log may name.
_PUBLIC_PREFIX = re.compile(r"sis_[a-z]{1,20}_[0-9a-f]{8}")


def key_prefix(presented: str | None) -> str | None:
    """The public prefix of a presented key, token or OAuth client id (bare or as an Authorization header value),
    or None when it has no such shape; never any of the secret."""
    text = (presented or "").strip()
    scheme, _, rest = text.partition(" ")
    if rest and scheme.lower() in ("bearer", "basic"):
        text = rest.strip()
    found = _PUBLIC_PREFIX.match(text)
    return found.group(0) if found and text[found.end() : found.end() + 1] in ("", "_") else None


def anonymous_actor(*, api_key_prefix: str | None = None, auth_method: str | None = None) -> Actor:
    """The actor of a request whose caller is not known: at most the key prefix it presented."""
    return Actor(user_id=None, label=ANONYMOUS, kind=ANONYMOUS, auth_method=auth_method, api_key_prefix=api_key_prefix)


def record_unrun_request(
    session: Session,
    actor: Actor,
    *,
    capability: str,
    outcome: QueryOutcome,
    error_code: str,
    error_message: str,
    arguments: Mapping[str, Any] | None = None,
    dropped: int = 0,
) -> LoggedEntry:
    """Append the entry of a request refused before the runner; `dropped` counts the entries the rate
    limit left out since the previous one (written as the `dropped_before` argument)."""
    logged = dict(arguments or {})
    if dropped:
        logged["dropped_before"] = dropped
    return record_query(
        session,
        actor,
        capability=capability,
        arguments=logged,
        outcome=outcome,
        error_code=error_code,
        error_message=error_message,
    )
