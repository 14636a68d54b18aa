"""Writing signed audit checkpoints to a sink outside the database, by hand or every interval.

`take_checkpoint` reads the chain heads (domain/audit/checkpoint.py), signs them with
SIS_AUDIT_CHECKPOINT_KEY and writes the envelope to SIS_AUDIT_CHECKPOINT_SINK:

- a directory (`/path` or `file:///path`): one JSON file per checkpoint, written to a temporary
  name and hard-linked into place, so a reader never sees half a file and none is overwritten;
- an `http(s)://` URL: the envelope POSTed as JSON (a webhook);
- a `put+http(s)://` URL: an object store base; the envelope is PUT to base + file name (the base's
  query string, a presigned or SAS token, is kept) with `If-None-Match: *` so it is never overwritten.

`run_periodic` is the server's job (`create_app(run_jobs=True)`): a checkpoint at start and then
every SIS_AUDIT_CHECKPOINT_INTERVAL seconds; without a key and a sink it does nothing and says so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from db.engine import read_transaction
from domain.audit.checkpoint import encode_envelope, load_private_key, read_heads, sign_checkpoint
from domain.errors import DomainError
from mcp_server.settings import Settings

log = logging.getLogger(__name__)
HTTP_TIMEOUT_SECONDS = 10.0


class CheckpointError(DomainError):
    """A checkpoint that could not be made or written (no key, no sink, a sink that refused)."""

    code = "checkpoint_failed"
    status = 503


@dataclass(frozen=True)
class Written:
    """Where a checkpoint went, named without any secret the sink URL carries."""

    where: str
    envelope: dict[str, Any]


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def describe_sink(sink: str) -> str:
    """The sink as it may be logged: a path, or a URL without credentials or query."""
    return sink if "://" not in sink or sink.startswith("file://") else _redacted(sink)


def _file_name(envelope: dict[str, Any]) -> str:
    stamp = envelope["checkpoint"]["taken_at"].replace("-", "").replace(":", "")
    return f"checkpoint-{stamp}-{secrets.token_hex(4)}.json"


def _write_directory(directory: Path, name: str, body: bytes) -> str:
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint sink {directory} is not a directory")
    final = directory / name
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".checkpoint-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.link(tmp, final)  # fails rather than replace an existing checkpoint
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except FileExistsError:
        raise CheckpointError(f"checkpoint {final} already exists; not overwritten") from None
    except OSError as err:
        raise CheckpointError(f"cannot write to checkpoint sink {directory}: {err.strerror or err}") from None
    return str(final)


def _send(method: str, url: str, body: bytes, headers: dict[str, str]) -> None:
    shown = _redacted(url)
    try:
        response = httpx.request(
            method,
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as err:
        raise CheckpointError(f"checkpoint sink {shown} unreachable ({type(err).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise CheckpointError(f"checkpoint sink {shown} answered HTTP {response.status_code}")


def write_to_sink(sink: str, envelope: dict[str, Any]) -> str:
    """Write `envelope` to `sink`; returns where it went (no secrets).

    Raises:
        CheckpointError: the sink is unknown, unwritable or refused the checkpoint.
    """
    body, name = encode_envelope(envelope), _file_name(envelope)
    scheme = sink.split("://", 1)[0].lower() if "://" in sink else ""
    if scheme in {"", "file"}:
        path = Path(unquote(urlsplit(sink).path) if scheme == "file" else sink)
        return _write_directory(path, name, body)
    if scheme in {"http", "https"}:
        _send("POST", sink, body, {})
        return _redacted(sink)
    if scheme in {"put+http", "put+https"}:
        parts = urlsplit(sink[len("put+") :])
        url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + name))
        _send("PUT", url, body, {"If-None-Match": "*"})
        return _redacted(url)
    raise CheckpointError(
        f"SIS_AUDIT_CHECKPOINT_SINK scheme {scheme!r} is not a directory, http(s):// or put+http(s):// URL"
    )


def server_identity(settings: Settings) -> str:
    """Who took the checkpoint: the public URL when configured, else the host name."""
    return settings.public_url or socket.gethostname()


def take_checkpoint(session_factory: sessionmaker[Session], settings: Settings) -> Written:
    """Read the chain heads, sign them and write them to the configured sink.

    Raises:
        CheckpointError: no key or no sink configured, or the sink refused.
        CheckpointKeyError: the key cannot be read.
        ChainHeadInconsistent: a head names an entry the table does not hold.
    """
    if not settings.audit_checkpoint_key:
        raise CheckpointError("SIS_AUDIT_CHECKPOINT_KEY is not set (generate one with `sis audit checkpoint-key`)")
    if not settings.audit_checkpoint_sink:
        raise CheckpointError("SIS_AUDIT_CHECKPOINT_SINK is not set (a directory, an http(s) URL or put+https URL)")
    key = load_private_key(settings.audit_checkpoint_key)
    with read_transaction(session_factory) as session:
        heads = read_heads(session)
        url = session.get_bind().engine.url
    database = f"{url.get_backend_name()}:{url.database or ''}"
    envelope = sign_checkpoint(heads, key, server=server_identity(settings), database=database)
    return Written(write_to_sink(settings.audit_checkpoint_sink, envelope), envelope)


def checkpoints_configured(settings: Settings) -> bool:
    """Whether the server should write checkpoints; logs once why not."""
    missing = [
        name
        for name, value in (
            ("SIS_AUDIT_CHECKPOINT_KEY", settings.audit_checkpoint_key),
            ("SIS_AUDIT_CHECKPOINT_SINK", settings.audit_checkpoint_sink),
        )
        if not value
    ]
    if len(missing) == 2:
        log.info("audit checkpoints off: SIS_AUDIT_CHECKPOINT_KEY and SIS_AUDIT_CHECKPOINT_SINK are not set")
        return False
    if missing:
        log.warning("audit checkpoints off: %s is not set", missing[0])
        return False
    try:
        load_private_key(settings.audit_checkpoint_key or "")
    except DomainError as err:
        log.error("audit checkpoints off: %s", err.message)
        return False
    log.info(
        "audit checkpoints every %g s to %s",
        settings.audit_checkpoint_interval,
        describe_sink(settings.audit_checkpoint_sink or ""),
    )
    return True


async def checkpoint_now(session_factory: sessionmaker[Session], settings: Settings) -> Written | None:
    """One checkpoint off the event loop; a failure is logged (the next run retries), never raised."""
    try:
        written = await asyncio.to_thread(take_checkpoint, session_factory, settings)
    except DomainError as err:
        log.error("audit checkpoint failed: %s", err.message)
        return None
    except Exception:
        log.exception("audit checkpoint failed; the next run retries")
        return None
    heads = written.envelope["checkpoint"]["chains"]
    log.info(
        "audit checkpoint written to %s: %s",
        written.where,
        ", ".join(f"{chain} seq {head['seq']}" for chain, head in sorted(heads.items())),
    )
    return written


async def run_periodic(session_factory: sessionmaker[Session], settings: Settings) -> None:
    """A checkpoint now and then every interval, until cancelled; nothing when not configured."""
    if not checkpoints_configured(settings):
        return
    while True:
        await checkpoint_now(session_factory, settings)
        await asyncio.sleep(settings.audit_checkpoint_interval)
