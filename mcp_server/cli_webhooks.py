"""`sis webhooks dispatch`: deliver domain events to webhook subscriptions (mounted by mcp_server/cli.py)."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from typing import Annotated

import typer

from db.engine import make_engine, make_session_factory
from mcp_server.settings import Settings
from mcp_server.webhook_config import webhook_config
from mcp_server.webhook_http import http_sender
from mcp_server.webhook_worker import Dispatcher, RetryPolicy

webhooks_app = typer.Typer(help="Webhook delivery.", no_args_is_help=True)


@webhooks_app.command("dispatch")
def dispatch(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit (for cron or tests).")] = False,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Deliveries claimed per pass.")] = 50,
    lease_s: Annotated[
        int, typer.Option(min=5, help="Seconds a claim lasts before another dispatcher may take it.")
    ] = 60,
    timeout_s: Annotated[float, typer.Option(min=0.5, help="Seconds to wait for a receiver.")] = 10.0,
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts before a delivery is marked failed.")] = 12,
    idle_s: Annotated[float, typer.Option(min=0.05, help="Pause after a pass with nothing to do.")] = 1.0,
) -> None:
    """Publish events, fan them out to subscriptions, and deliver them signed, until stopped (Ctrl-C, SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = ctx.ensure_object(Settings)
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(
        make_session_factory(engine),
        http_sender(),
        lease=dt.timedelta(seconds=lease_s),
        batch=batch,
        timeout_s=timeout_s,
        policy=RetryPolicy(max_attempts=max_attempts),
        webhooks=webhook_config(settings),
    )
    if once:
        stats = dispatcher.run_once()
        typer.echo(
            f"published {stats.published}, new deliveries {stats.fanned_out}, claimed {stats.claimed}, "
            f"delivered {stats.delivered}, failed attempts {stats.failed_attempts}, gave up {stats.gave_up}"
        )
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"dispatcher {dispatcher.name} running; Ctrl-C to stop")
    dispatcher.run_forever(stop, idle_s=idle_s)
    engine.dispose()
