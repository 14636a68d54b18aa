"""`sis api snapshot` / `sis api check`: the committed /api/v1 contract and the breaking-change check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from db.engine import make_engine
from mcp_server.rest.contract import SNAPSHOT, breaking_changes, contract_of, load_snapshot, write_snapshot

api_app = typer.Typer(help="The /api/v1 contract (docs/api/versioning.md).", no_args_is_help=True)


def _live() -> dict[str, Any]:
    from mcp_server.app import create_app

    # The document does not depend on the data: an in-memory database that is never migrated will do.
    return create_app(make_engine("sqlite:///:memory:")).openapi()


@api_app.command("snapshot")
def snapshot(
    path: Path = typer.Option(SNAPSHOT, help="Where to write the contract."),
    security_fix: str = typer.Option(
        "",
        help="Accept a breaking change because it withholds data a caller must not see; say which, for the changelog.",
    ),
) -> None:
    """Write the live /api/v1 contract as the committed snapshot (after an additive change)."""
    live = _live()
    if path.exists():
        problems = breaking_changes(load_snapshot(path), contract_of(live))
        if problems and security_fix:
            typer.echo(f"accepted as a security fix ({security_fix}); add it to docs/api/changelog.md:")
            for problem in problems:
                typer.echo(f"  {problem}")
        elif problems:
            typer.echo("refusing to snapshot a breaking change (that needs /api/v2):", err=True)
            for problem in problems:
                typer.echo(f"  {problem}", err=True)
            raise typer.Exit(1)
    write_snapshot(live, path)
    typer.echo(f"wrote {path}")


@api_app.command("check")
def check(path: Path = typer.Option(SNAPSHOT, help="The committed contract.")) -> None:
    """Compare the live document with the snapshot; exit 1 on a breaking change."""
    problems = breaking_changes(load_snapshot(path), contract_of(_live()))
    for problem in problems:
        typer.echo(problem)
    if problems:
        raise typer.Exit(1)
    typer.echo("no breaking change against the snapshot")
