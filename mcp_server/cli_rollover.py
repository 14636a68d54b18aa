"""`sis rollover`: the year rollover from the shell, as a named administrator (mounted by mcp_server/cli.py).

It is the `run_rollover` tool (or `preview_rollover` with --dry-run) through the one runner, so
the caller's grants decide where it may act, its change events name that person, and the query
log records the call (channel "cli"). There is no anonymous system actor: a rollover creates
hundreds of stints and someone answers for them.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from db.engine import make_engine
from db.models import Organization
from domain.enrollment.offering_schemas import RolloverPlan
from domain.errors import DomainError
from mcp_server.cli_progress import progress_bars
from mcp_server.settings import Settings
from mcp_server.wiring import build_deps
from policies.principal import load_principal
from tools.runner import ToolCallError, run_tool

console = Console(highlight=False, width=160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
EXIT_ERROR = 1


def _fail(message: str) -> NoReturn:
    err_console.print(f"error: {message}", markup=False)
    raise SystemExit(EXIT_ERROR)


def _org_path(path: str) -> str:
    return "/" + "/".join(p for p in path.split("/") if p) + "/"


def rollover(
    ctx: typer.Context,
    from_year: Annotated[str, typer.Option("--from", help="School year to roll over, e.g. 2026-27.")],
    to_year: Annotated[str, typer.Option("--to", help="The new school year, e.g. 2027-28.")],
    as_email: Annotated[
        str | None, typer.Option("--as", help="Email of the administrator the rollover runs as (required).")
    ] = None,
    org: Annotated[
        str | None, typer.Option("--org", help="Org path, e.g. /alpha/academy/miami/ (default: the network).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be created; write nothing.")] = False,
    tuition_change_bp: Annotated[
        int, typer.Option("--tuition-change-bp", help="Tuition change in basis points (350 = +3.5%).")
    ] = 0,
) -> None:
    """Clone a school year's offerings into the next and enroll continuing students one grade up."""
    if not as_email:
        _fail("give --as EMAIL: a rollover runs as a named administrator, whose grants decide where it acts")
    engine = make_engine(ctx.ensure_object(Settings).database_url)
    deps = build_deps(ctx.ensure_object(Settings), engine)
    try:
        with deps.session_factory() as session:
            principal = load_principal(session, email=as_email)
            path = _org_path(org) if org else None
            where = Organization.path == path if path else Organization.parent_id.is_(None)
            org_id = session.execute(select(Organization.id).where(where)).scalar_one_or_none()
        if org_id is None:
            _fail(f"no organization at {path}" if path else "the database has no organizations")
        arguments = {
            "from_year": from_year,
            "to_year": to_year,
            "org_id": str(org_id),
            "tuition_change_bp": tuition_change_bp,
        }
        with progress_bars() as report:
            tool = "preview_rollover" if dry_run else "run_rollover"
            result = run_tool(deps, principal, tool, arguments, channel="cli", progress=report)
    except ToolCallError as err:
        _fail(err.message + (f" (field {err.field})" if err.field else ""))
    except DomainError as err:
        _fail(err.message)
    except SQLAlchemyError as err:
        _fail(f"database error: {str(getattr(err, 'orig', None) or err).strip().splitlines()[0]}")
    finally:
        engine.dispose()
    _print_summary(RolloverPlan.model_validate(result.data))


def _print_summary(plan: RolloverPlan) -> None:
    verb = "would create" if plan.dry_run else "created"
    table = Table(
        "offering", "dates", "from", "continuing", "new", title=f"Rollover {plan.from_year} -> {plan.to_year}"
    )
    for offering in plan.offerings:
        stints = [s for s in plan.stints if s.from_offering_id == offering.from_offering_id]
        table.add_row(
            offering.name + ("" if offering.exists else " (new)"),
            f"{offering.start_on} .. {offering.end_on}",
            offering.dates_from,
            str(len(stints)),
            str(sum(not s.exists for s in stints)),
        )
    console.print(table)
    reasons: dict[str, int] = {}
    for leaving in plan.not_continuing:
        reasons[leaving.reason] = reasons.get(leaving.reason, 0) + 1
    new_offerings = sum(not o.exists for o in plan.offerings)
    new_stints = sum(not s.exists for s in plan.stints)
    console.print(
        f"{verb}: {new_offerings} offerings, {new_stints} stints; not continuing: "
        + (", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "none")
    )
    for skipped in plan.skipped_offerings:
        console.print(f"not rolled over: {skipped}")
