"""The `sis` command line: database, seed data, users, and the server."""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from bench.command import bench_command
from db.engine import make_engine
from db.migrate import upgrade
from db.models import Organization, RoleGrant, User
from domain.errors import DomainError
from mcp_server.cli_api import api_app
from mcp_server.cli_enrollments import enrollments_app
from mcp_server.cli_init import init
from mcp_server.cli_progress import progress_bars
from mcp_server.cli_rollover import rollover
from mcp_server.cli_security import apikey_app, audit_app
from mcp_server.cli_webhooks import webhooks_app
from mcp_server.settings import Settings
from policies.principal import grant_in_force

app = typer.Typer(help="MCP-first Student Information System server.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
seed_app = typer.Typer(help="Demo and scale data.", no_args_is_help=True)
users_app = typer.Typer(help="Users and their role grants.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(users_app, name="users")
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(api_app, name="api")
app.command("init")(init)
app.add_typer(enrollments_app, name="enrollments")
app.command("rollover")(rollover)
app.command("bench")(bench_command)

# Wide enough for the users table when the output is not a terminal (CI logs, pipes).
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)


class CliError(Exception):
    """An error the user can fix; printed as one line."""


def _settings(ctx: typer.Context) -> Settings:
    """The settings `main()` read from the environment (an empty environment's when invoked otherwise)."""
    return ctx.ensure_object(Settings)


def _engine(ctx: typer.Context) -> Engine:
    return make_engine(_settings(ctx).database_url)


def _is_empty(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Organization)).scalar_one() == 0


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply all migrations to the configured database."""
    engine = _engine(ctx)
    upgrade(engine)
    console.print(f"database at {engine.url.render_as_string()} is up to date")


@seed_app.command("demo")
def seed_demo_command(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed and date give the same data.")] = 7,
    today: Annotated[str | None, typer.Option(help="Anchor date YYYY-MM-DD (default: today).")] = None,
) -> None:
    """Write the deterministic demo data set (network, campuses, ~600 students, personas)."""
    from mcp_server.demo import seed_full_demo

    engine = _engine(ctx)
    upgrade(engine)
    anchor = _parse_date(today) if today else dt.date.today()
    with progress_bars() as report:
        summary = seed_full_demo(engine, seed=seed, today=anchor, progress=report)
    console.print(f"demo data written: {summary}")


@seed_app.command("scale")
def seed_scale_command(
    ctx: typer.Context,
    campuses: Annotated[int, typer.Option(min=1, help="FULL_SIS campuses to generate.")] = 200,
    students: Annotated[int, typer.Option(min=1, help="Students to generate.")] = 100_000,
    attendance_days: Annotated[int, typer.Option(min=0, help="School days of attendance to generate.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 11,
) -> None:
    """Generate network-scale data (bulk inserts; COPY on PostgreSQL)."""
    from db.demo.scale import seed_scale

    engine = _engine(ctx)
    upgrade(engine)
    with progress_bars() as report:
        summary = seed_scale(
            engine, campuses=campuses, students=students, attendance_days=attendance_days, seed=seed, progress=report
        )
    console.print(f"scale data written: {summary}")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """Staff users with the role grants in force today and the org subtree each covers; deactivated users marked."""
    engine = _engine(ctx)
    with Session(engine) as session:
        rows = session.execute(
            select(User.email, User.display_name, User.is_active, RoleGrant.role, Organization.path, Organization.name)
            .join(RoleGrant, RoleGrant.user_id == User.id)
            .join(Organization, Organization.id == RoleGrant.org_id)
            .where(grant_in_force(dt.date.today()))
            .order_by(User.email, RoleGrant.role)
        ).all()
    if not rows:
        raise CliError("no users with role grants; run `sis seed demo` first")
    table = Table("email", "name", "role", "scope (subtree)", "org", "status")
    for email, name, active, role, path, org_name in rows:
        table.add_row(email, name, role, path, org_name, "active" if active else "deactivated")
    console.print(table)


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise CliError(f"not a date (YYYY-MM-DD): {text!r}") from err


def _serve(settings: Settings, engine: Engine, host: str, port: int, *, demo_mode: bool, workers: int = 1) -> None:
    import uvicorn

    from mcp_server.app import create_app
    from mcp_server.serving import base_url_of, serve_workers

    base_url = base_url_of(host, port)
    console.print(f"serving on {base_url}  (MCP at /mcp, docs at /docs, health at /healthz)")
    if workers > 1:
        engine.dispose()  # each worker opens its own pool
        console.print(f"{workers} worker processes over {engine.url.render_as_string()}")
        serve_workers(settings, host, port, workers=workers, demo_mode=demo_mode)
        return
    app = create_app(engine, settings=settings, demo_mode=demo_mode, base_url=base_url, run_jobs=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes sharing the port (docs/running/processes.md).")
    ] = 1,
) -> None:
    """Serve the configured database over HTTP (run `sis db upgrade` first)."""
    _serve(_settings(ctx), _engine(ctx), host, port, demo_mode=False, workers=workers)


@app.command()
def demo(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    seed: Annotated[int, typer.Option(help="Random seed for the demo data.")] = 7,
) -> None:
    """Migrate, seed the demo data when the database is empty, then serve."""
    engine = _engine(ctx)
    upgrade(engine)
    if _is_empty(engine):
        from mcp_server.demo import seed_full_demo

        with progress_bars() as report:
            seed_full_demo(engine, seed=seed, today=dt.date.today(), progress=report)
    users_list(ctx)
    console.print(
        "To connect an MCP client as one of these users: "
        "[bold]sis apikey create --user nurse.austin@sis.example --name demo[/bold], then send "
        "'Authorization: Bearer <key>' to /mcp/ (or set SIS_API_KEY for `sis mcp`)."
    )
    _serve(_settings(ctx), engine, host, port, demo_mode=True)


@app.command("mcp")
def mcp_stdio(ctx: typer.Context) -> None:
    """Serve MCP over stdio for desktop clients, acting as the owner of SIS_API_KEY."""
    import logging

    from mcp_server.auth import authenticate_stdio
    from mcp_server.cache_watch import credential_watch
    from mcp_server.mcp_face import stdio_server
    from mcp_server.wiring import build_deps

    # stdout is the protocol channel: every log line goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    settings = _settings(ctx)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    deps = build_deps(settings, engine)
    with deps.session_factory.begin() as session:
        authenticate_stdio(session, settings.api_key)  # refuse to start without a valid key
    # A revocation made anywhere reaches this process within the poll interval (docs/running/processes.md).
    with credential_watch(engine, deps.recently_verified.invalidate, poll_seconds=settings.cache_poll_seconds):
        stdio_server(deps, settings.api_key or "").run()


def main() -> None:
    """Entry point: read the settings from the environment, run the CLI, and turn any failure into one
    clear line and a non-zero exit."""
    try:
        code = app(standalone_mode=False, obj=Settings.from_environ(os.environ))
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except CliError as err:
        err_console.print(f"error: {err}")
        sys.exit(1)
    except DomainError as err:
        err_console.print(f"error: {err.message}")
        sys.exit(1)
    except OperationalError as err:
        err_console.print(f"error: cannot use the database: {str(err.orig).strip().splitlines()[0]}")
        sys.exit(1)
    except SQLAlchemyError as err:
        err_console.print(f"error: database error: {str(err).strip().splitlines()[0]}")
        sys.exit(1)
    except Exception as err:
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        err_console.print(f"error: {type(err).__name__}: {err}")
        sys.exit(1)
