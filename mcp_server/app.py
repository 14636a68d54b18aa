"""The FastAPI application: the composition root for every HTTP face (MCP at /mcp today)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from chat_ui.exports import ExportStore
from chat_ui.routes import build_chat_router
from chat_ui.sessions import SessionStore
from db.migrate import current_revision
from db.models import Organization, Student
from mcp_server import api_docs, oauth_resource
from mcp_server.audit_checkpoint import run_periodic as run_checkpoints
from mcp_server.auth import authenticate_api_key
from mcp_server.cache_watch import watching_credentials
from mcp_server.enrollment_job import advance_now, run_daily
from mcp_server.mcp_face import http_server
from mcp_server.oauth_resource import JwtVerifier
from mcp_server.oneroster.routes import build_oneroster_router
from mcp_server.request_log import RequestLogLimit
from mcp_server.rest import billing_webhooks, build_rest_router, install_error_handlers, versioning
from mcp_server.settings import Settings
from mcp_server.web_guard import ThrottledMCP, WebGuard
from mcp_server.wiring import build_deps


def _allowed_hosts(base_url: str, extra: tuple[str, ...]) -> list[str]:
    """Host headers the MCP endpoint accepts (DNS-rebinding protection), plus SIS_ALLOWED_HOSTS."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    hosts = {f"{parts.hostname}:{port}", f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    return sorted(hosts | set(extra))


def create_app(
    engine: Engine,
    *,
    settings: Settings | None = None,
    demo_mode: bool = False,
    base_url: str = "http://127.0.0.1:8000",
    run_jobs: bool = False,
) -> FastAPI:
    """Build the app over one engine: MCP (streamable HTTP, bearer API keys) and a health probe.

    `settings` default to an empty environment's; the CLI passes the process's. `run_jobs` runs the
    daily enrollment job (at start, then after every local midnight) and the audit checkpoint job
    (mcp_server/audit_checkpoint.py); `sis serve` and `sis demo` set it.
    """
    settings = settings or Settings()
    deps = build_deps(settings, engine)
    public_url = settings.public_url or base_url.rstrip("/")
    jwt_verifier = (
        JwtVerifier(settings.oauth_issuer, settings.oauth_audience or f"{public_url}/mcp", settings.oauth_jwks_url)
        if settings.oauth_issuer
        else None
    )
    mcp = http_server(deps, base_url=public_url, jwt_verifier=jwt_verifier)
    hosts = _allowed_hosts(base_url, settings.allowed_hosts)
    mcp_app = mcp.streamable_http_app(
        streamable_http_path="/",
        json_response=True,
        # No server-side session: any worker or host answers any request (docs/running/processes.md).
        stateless_http=True,
        transport_security=TransportSecuritySettings(
            allowed_hosts=hosts, allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
        ),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # A mounted sub-app's lifespan never runs: the host app must run the MCP session manager.
        # The watch: a credential change made through any process empties this one's auth cache.
        async with mcp.session_manager.run(), watching_credentials(engine, deps.recently_verified, settings):
            jobs = []
            if run_jobs:
                # Before the first request, so every face already agrees on today's statuses.
                await advance_now(deps.session_factory, deps.clock)
                jobs.append(asyncio.create_task(run_daily(deps.session_factory, deps.clock)))
                jobs.append(asyncio.create_task(run_checkpoints(deps.session_factory, settings)))
            try:
                yield
            finally:
                for job in jobs:
                    job.cancel()
                    with suppress(asyncio.CancelledError):
                        await job

    app = FastAPI(
        title="SIS server",
        version="0.1.0",
        description="MCP-first Student Information System: one permission-aware tool catalog, many faces.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    api_docs.install(app)
    app.state.engine = engine
    app.state.deps = deps
    app.state.stripe_webhook_secret = settings.stripe_webhook_secret
    app.state.mcp = mcp
    app.state.demo_mode = demo_mode
    app.state.public_url = public_url
    oauth_resource.install(app, public_url=public_url, issuer=settings.oauth_issuer)
    app.state.request_log_limit = RequestLogLimit(settings.invalid_request_log_per_minute)

    @app.get("/healthz", tags=["system"])
    def healthz() -> dict[str, Any]:
        """Liveness and schema revision; no student data."""
        with Session(engine) as session:
            orgs = session.execute(select(func.count()).select_from(Organization)).scalar_one()
            students = session.execute(select(func.count()).select_from(Student)).scalar_one()
        return {
            "status": "ok",
            "database": engine.dialect.name,
            "schema_revision": current_revision(engine),
            "organizations": orgs,
            "students": students,
            "demo_mode": demo_mode,
        }

    # Routes are matched in order (about 20 µs per route tried): the busiest faces come first.
    app.mount("/mcp", ThrottledMCP(mcp_app))
    # REST for integrators: OneRoster 1.2 + POST /oauth/token, SIS REST at /api/v1, their error bodies.
    app.include_router(build_oneroster_router(deps))
    app.include_router(build_rest_router(deps))
    install_error_handlers(app)
    # Stripe is only a gateway: its webhook settles charges the SIS computed; no key, no online charging.
    app.include_router(billing_webhooks.router)

    # The chat page at /chat: sign in with an API key (checked by mcp_server.auth) or a demo persona.
    exports = ExportStore(max_tables=settings.chat_export_tables, max_bytes=settings.chat_export_memory_mb * 2**20)
    chat = build_chat_router(
        deps, demo_mode=demo_mode, authenticate_key=authenticate_api_key, store=SessionStore(exports=exports)
    )
    app.include_router(chat)
    # The MCP endpoint's Host rule (and an Origin check on unsafe methods) for every route: DNS rebinding.
    versioning.install(app)
    app.add_middleware(WebGuard, hosts=hosts)
    return app
