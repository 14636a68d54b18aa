"""`sis init`: start a school network from an empty database (migrate, root org, first admin, one API key)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import upgrade
from domain.audit.changes import record_fields
from domain.errors import DomainError
from domain.org.bootstrap import bootstrap_network
from mcp_server.auth import create_api_key
from mcp_server.settings import Settings
from policies.scope import system_scope

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
INIT_SCOPES = ("sis.read", "sis.write", "audit.read")
ACTOR_LABEL = "sis init"


def init(
    ctx: typer.Context,
    network: Annotated[str, typer.Option("--network", help="The network's name, e.g. 'Sunrise Schools'.")],
    admin: Annotated[str, typer.Option("--admin", help="Email of the first network administrator.")],
    slug: Annotated[
        str | None, typer.Option("--slug", help="The root's path segment (default: made from the name).")
    ] = None,
    admin_name: Annotated[str | None, typer.Option("--admin-name", help="The administrator's display name.")] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="The network's IANA zone.")] = "America/Chicago",
) -> None:
    """Migrate an empty database, create the network root and its first administrator, and print their API key.

    Refuses (writing nothing) on a database that already has a root organization. Everything else is
    then created through MCP or REST with the printed key.
    """
    engine = make_engine(ctx.ensure_object(Settings).database_url)
    try:
        upgrade(engine)
        scope = system_scope(ACTOR_LABEL)
        with Session(engine, expire_on_commit=False) as session, session.begin():
            org, user = bootstrap_network(
                session, scope, network_name=network, admin_email=admin, slug=slug, admin_name=admin_name,
                timezone=timezone,
            )  # fmt: skip
            key, plaintext = create_api_key(session, user, ACTOR_LABEL, INIT_SCOPES)
            # The key's audit trail without its hash (a never-readable column).
            fields = {"prefix": key.prefix, "name": key.name, "user_id": key.user_id, "scopes": key.scopes}
            record_fields(
                session,
                scope,
                table="api_key",
                entity_id=str(key.id),
                org_id=org.id,
                changes={name: (None, value) for name, value in fields.items()},
                reason="sis init: the first administrator's key",
            )
    except DomainError as err:
        err_console.print(f"error: {err.message}", markup=False)
        # SystemExit, not typer.Exit: the code must reach the shell under standalone_mode=False too.
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    console.print(f"created network '{org.name}' at {org.path} and its administrator {user.email} (network_admin)")
    console.print(f"API key {key.prefix}, scopes {', '.join(key.scopes)}; store it now, it cannot be shown again:")
    console.print(plaintext, markup=False)
