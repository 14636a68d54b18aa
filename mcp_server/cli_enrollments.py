"""`sis enrollments advance`: move stints to the status their dates call for (mounted by mcp_server/cli.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console

from db.engine import make_engine, make_session_factory
from mcp_server.cli_progress import progress_bars
from mcp_server.enrollment_job import advance_all
from mcp_server.settings import Settings

enrollments_app = typer.Typer(help="Enrollment lifecycle.", no_args_is_help=True)
err_console = Console(stderr=True)


@enrollments_app.command("advance")
def advance(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The day to advance to, YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Start pending stints whose first day has come and complete active ones whose end has passed."""
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        err_console.print(f"error: --as-of is not a date (YYYY-MM-DD): {as_of!r}")
        raise typer.Exit(1) from None
    engine = make_engine(ctx.ensure_object(Settings).database_url)
    try:
        with progress_bars() as report:
            result = advance_all(
                make_session_factory(engine),
                as_of=day,
                progress=lambda done, total: report("advancing enrollments", done, total),
            )
    finally:
        engine.dispose()
    typer.echo(
        f"enrollments as of {result.as_of}: {result.activated} activated, {result.completed} completed "
        f"({result.stints} stints changed)"
    )
