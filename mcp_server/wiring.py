"""The composition root: `build_deps(settings)` wires everything the runner and the faces are handed.

The HTTP app (mcp_server/app.py) and the stdio server (`sis mcp`) both build their `Deps` here, so
the wiring is visible in one place and each app gets its own state: its own sessions, its own
memory of verified credentials, its own chat settings, its own payment gateway.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from db.engine import make_engine, make_session_factory
from domain.access.usage import RateLimits
from mcp_server.settings import Settings
from mcp_server.stripe_gateway import gateway_from_settings
from mcp_server.webhook_config import webhook_config
from policies.enforcer import default_enforcer
from policies.verified import RecentlyVerified
from tools.auth_guard import AuthGuard
from tools.query_slots import QuerySlots, fit_to_pool
from tools.runner import Deps


def build_deps(settings: Settings, engine: Engine | None = None) -> Deps:
    """The runner's dependencies for these settings, over `engine` (else one made from settings.database_url)."""
    engine = engine or make_engine(settings.database_url)
    return Deps(
        session_factory=make_session_factory(engine),
        enforcer=default_enforcer(),
        clock=dt.date.today,
        recently_verified=RecentlyVerified(ttl=settings.auth_cache_seconds),
        rate_defaults=RateLimits(settings.rate_per_minute, settings.rate_per_day, settings.quota_per_month),
        chat=settings.chat,
        gateway=gateway_from_settings(settings),
        query_slots=QuerySlots(
            per_key=settings.sql_max_per_key,
            total=fit_to_pool(settings.sql_max_total, engine.pool),
            wait_s=settings.sql_queue_seconds,
        ),
        auth_guard=AuthGuard(settings.auth_guard),
        webhooks=webhook_config(settings),
    )
