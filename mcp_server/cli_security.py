"""`sis apikey ...` and `sis audit ...`: credentials and the audit trail's integrity, from the shell."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.base import utcnow
from db.engine import make_engine, make_session_factory
from db.models import Organization, RoleGrant, User
from domain.audit.chain import Chain, verify_chain
from domain.audit.checkpoint import load_private_key, load_public_key, new_key_pair, verify_checkpoints
from domain.errors import DomainError
from mcp_server.audit_checkpoint import take_checkpoint
from mcp_server.auth import create_api_key, list_api_keys, revoke_api_key
from mcp_server.settings import Settings
from policies.enforcer import default_enforcer
from policies.principal import grant_in_force
from policies.scope import Action, DataClass

apikey_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: verify its hash chains, checkpoint their heads.", no_args_is_help=True)

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
EXIT_ERROR = 2
EXIT_BROKEN = 1


def _fail(message: str) -> NoReturn:
    err_console.print(f"error: {message}", markup=False)
    # SystemExit, not typer.Exit: click returns (rather than raises) Exit codes when the main
    # CLI runs with standalone_mode=False, and the code must reach the shell either way.
    raise SystemExit(EXIT_ERROR)


@contextmanager
def _session(ctx: typer.Context, *, write: bool) -> Iterator[Session]:
    """A session on the configured database; errors become one line and a non-zero exit."""
    engine = make_engine(ctx.ensure_object(Settings).database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
            if write:
                session.commit()
    except DomainError as err:
        _fail(err.message)
    except SQLAlchemyError as err:
        detail = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        _fail(f"database error: {detail}")
    finally:
        engine.dispose()


@apikey_app.callback()
def _apikey() -> None:
    """API keys: create (shown once), list, revoke."""


@audit_app.callback()
def _audit() -> None:
    """The audit trail: verify its hash chains, checkpoint their heads."""


def default_read_scopes(session: Session, owner: User) -> list[str]:
    """The read scopes the owner's roles can use: sis.read, and audit.read for a role that reads the audit log.

    Write scopes stay opt-in (`--scope sis.write`). A user with no grant in force gets sis.read, which
    then reads nothing until a grant is made.
    """
    roles = session.execute(
        select(RoleGrant.role).where(RoleGrant.user_id == owner.id, grant_in_force(dt.date.today()))
    ).scalars()
    enforcer = default_enforcer()
    readable = {dc for role in set(roles) for dc, act in enforcer.permissions(role) if act is Action.READ}
    scopes = ["sis.read"] if readable - {DataClass.AUDIT} or not readable else []
    return scopes + (["audit.read"] if DataClass.AUDIT in readable else [])


@apikey_app.command("create")
def apikey_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="Email of the user the key acts for.")],
    name: Annotated[str, typer.Option("--name", help="What the key is for, shown in lists.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="OAuth-style scope (repeat): roster.readonly, sis.read, sis.write, audit.read; default: the read "
            "scopes the user's roles can use (sis.read, plus audit.read for an auditor).",
        ),
    ] = None,
    org: Annotated[
        str | None, typer.Option("--org", help="Org path narrowing the user's grants, e.g. /alpha/austin/.")
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, help="Days until the key expires.")
    ] = None,
) -> None:
    """Create a key; the key is printed once, on the last line, and cannot be shown again."""
    with _session(ctx, write=True) as session:
        owner = session.execute(select(User).where(func.lower(User.email) == user.strip().lower())).scalar_one_or_none()
        if owner is None or not owner.is_active:
            _fail(f"no active user with email {user!r}")
        org_id = None
        if org is not None:
            path = "/" + org.strip().strip("/") + "/"
            org_id = session.execute(select(Organization.id).where(Organization.path == path)).scalar_one_or_none()
            if org_id is None:
                _fail(f"no organization with path {path!r}")
        expires_at = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
        key, plaintext = create_api_key(
            session, owner, name, scope or default_read_scopes(session, owner), org_id=org_id, expires_at=expires_at
        )
        console.print(f"created API key {key.prefix} ({key.name}) for {owner.email}, scopes: {', '.join(key.scopes)}")
        if expires_at:
            console.print(f"expires {expires_at:%Y-%m-%d %H:%M} UTC")
        console.print("store it now: it cannot be shown again")
        console.print(plaintext, markup=False)


@apikey_app.command("list")
def apikey_list(ctx: typer.Context) -> None:
    """List keys: prefix, name, owner, scopes, org, expiry, last use and revocation (never the secret)."""
    with _session(ctx, write=False) as session:
        keys = list_api_keys(session)
        paths = {org_id: path for org_id, path in session.execute(select(Organization.id, Organization.path))}
    if not keys:
        console.print("no API keys")
        return
    header = ("prefix", "name", "owner", "scopes", "org", "expires", "last used", "revoked")

    def when(value: dt.datetime | None) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value else "-"

    rows = [
        (
            key.prefix,
            key.name,
            email,
            " ".join(key.scopes),
            paths.get(key.org_id, "-") if key.org_id else "(all grants)",
            when(key.expires_at),
            when(key.last_used_at),
            when(key.revoked_at),
        )
        for key, email in keys
    ]
    if not console.is_terminal:
        # Piped or captured: one tab-separated line per key, never wrapped.
        for row in (header, *rows):
            console.print("\t".join(row), markup=False)
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="The key's public prefix, e.g. sis_live_ab12cd34.")],
) -> None:
    """Revoke a key at once; requests presenting it are refused from now on."""
    with _session(ctx, write=True) as session:
        key = revoke_api_key(session, prefix)
        console.print(f"revoked {key.prefix} ({key.name}) at {key.revoked_at:%Y-%m-%d %H:%M} UTC")


def _checkpoint_files(where: Path) -> list[tuple[str, bytes]]:
    """The checkpoint files at `where` (a directory of *.json, or one file), oldest name first."""
    if where.is_file():
        paths = [where]
    elif where.is_dir():
        paths = sorted(p for p in where.glob("*.json") if p.is_file())
    else:
        _fail(f"no checkpoint directory or file at {where}")
    if not paths:
        _fail(f"no checkpoint files (*.json) in {where}")
    try:
        return [(p.name, p.read_bytes()) for p in paths]
    except OSError as err:
        _fail(f"cannot read checkpoints in {where}: {err.strerror or err}")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="Directory (or one file) of signed checkpoints: also check each chain still holds every "
            "checkpointed head (a cut tail or a rewrite before a checkpoint fails).",
        ),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="The checkpoint verifying key: a file (PEM or base64) or base64 of its 32 raw bytes; "
            "default: the public half of SIS_AUDIT_CHECKPOINT_KEY.",
        ),
    ] = None,
) -> None:
    """Walk both hash chains (and, with --checkpoints, compare them to signed checkpoints); exit 0 when
    intact, else name what is wrong and exit 1."""
    files = _checkpoint_files(checkpoints) if checkpoints is not None else []
    key = None
    if checkpoints is not None:
        settings = ctx.ensure_object(Settings)
        try:
            if public_key:
                key = load_public_key(public_key)
            elif settings.audit_checkpoint_key:
                key = load_private_key(settings.audit_checkpoint_key).public_key()
            else:
                _fail("--checkpoints needs --public-key (or SIS_AUDIT_CHECKPOINT_KEY set)")
        except DomainError as err:
            _fail(err.message)
    with _session(ctx, write=False) as session:
        results = [verify_chain(session, chain) for chain in Chain]
        report = verify_checkpoints(session, files, key) if key is not None else None
    broken = False
    for result in results:
        if result.ok:
            console.print(
                f"{result.chain.value}: intact, {result.checked} entries, head seq {result.head_seq} "
                f"hash {result.head_hash}"
            )
        else:
            broken = True
            err_console.print(
                f"{result.chain.value}: BROKEN at seq {result.first_broken_seq}: {result.reason} "
                f"({result.checked} entries verified before it)",
                markup=False,
            )
    if report is not None:
        for finding in report.findings:
            broken = True
            err_console.print(
                f"{finding.chain or 'checkpoint'}: BROKEN against checkpoint {finding.source}: {finding.problem}",
                markup=False,
            )
        if not report.findings:
            newest = ", ".join(
                f"{chain} seq {seq} ({source})" for chain, (seq, source) in sorted(report.newest.items())
            )
            console.print(f"checkpoints: {report.checked} verified; newest: {newest}", markup=False)
    if broken:
        raise SystemExit(EXIT_BROKEN)


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context) -> None:
    """Sign each chain's head (seq, hash) with SIS_AUDIT_CHECKPOINT_KEY and write it to SIS_AUDIT_CHECKPOINT_SINK."""
    settings = ctx.ensure_object(Settings)
    engine = make_engine(settings.database_url)
    try:
        written = take_checkpoint(make_session_factory(engine), settings)
    except DomainError as err:
        _fail(err.message)
    except SQLAlchemyError as err:
        _fail(f"database error: {str(getattr(err, 'orig', None) or err).strip().splitlines()[0]}")
    finally:
        engine.dispose()
    heads = written.envelope["checkpoint"]["chains"]
    summary = ", ".join(f"{chain} seq {head['seq']}" for chain, head in sorted(heads.items()))
    console.print(f"checkpoint written to {written.where}: {summary}", markup=False)


@audit_app.command("checkpoint-key")
def audit_checkpoint_key() -> None:
    """Generate an Ed25519 key pair: set the private key as SIS_AUDIT_CHECKPOINT_KEY, give verifiers the public key."""
    private, public = new_key_pair()
    console.print("SIS_AUDIT_CHECKPOINT_KEY (keep secret; the server signs with it):", markup=False)
    console.print(private, markup=False)
    console.print("public key (for `sis audit verify --checkpoints DIR --public-key ...`):", markup=False)
    console.print(public, markup=False)
