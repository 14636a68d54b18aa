"""Signed checkpoints of the chain heads, kept outside the database, and the check against them.

A hash chain shows that no entry before the head was altered, but not that the head is where it
was: deleting the last N entries and moving the head leaves a chain that verifies. A checkpoint
records each chain's head (seq, entry_hash) at a moment, signed with an Ed25519 key the database
never holds. Later, the entry at each checkpointed seq must still exist with that hash, so a cut
tail or a rewrite before the checkpoint shows. The envelope is JSON:

    {"checkpoint": {"format": ..., "taken_at": ..., "server": ..., "database": ...,
                    "chains": {"query_log": {"seq": N, "entry_hash": "..."}, ...}},
     "signature": {"alg": "ed25519", "key_id": "...", "value": "<base64>"}}

and the signature covers `canonical(checkpoint)` (domain/audit/chain.py).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import AuditChainHead
from domain.audit.chain import TABLES, Chain, canonical, json_safe
from domain.errors import DomainError

FORMAT = "sis-audit-checkpoint-v1"


class CheckpointKeyError(DomainError):
    """A signing or verifying key that cannot be read."""

    code = "checkpoint_key_invalid"
    status = 400


class ChainHeadInconsistent(DomainError):
    """The head row names an entry the table does not hold: refuse to sign a broken chain."""

    code = "audit_chain_broken"
    status = 409


def _decode_b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def load_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or base64 of its 32 raw bytes.

    Raises:
        CheckpointKeyError: neither, or another kind of key.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as err:
            raise CheckpointKeyError(f"SIS_AUDIT_CHECKPOINT_KEY is not a readable PEM private key ({err})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointKeyError("SIS_AUDIT_CHECKPOINT_KEY is not an Ed25519 key (run `sis audit checkpoint-key`)")
        return key
    raw = _decode_b64(text)
    if raw is None or len(raw) != 32:
        raise CheckpointKeyError(
            "SIS_AUDIT_CHECKPOINT_KEY must be an Ed25519 private key: PEM, or base64 of 32 raw bytes "
            "(run `sis audit checkpoint-key`)"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, base64 of its 32 raw bytes, or a file holding either.

    Raises:
        CheckpointKeyError: none of those.
    """
    text = text.strip()
    if not text.startswith("-----BEGIN") and len(text) < 4096 and Path(text).is_file():
        text = Path(text).read_text().strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError) as err:
            raise CheckpointKeyError(f"not a readable PEM public key ({err})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise CheckpointKeyError("the public key is not an Ed25519 key")
        return key
    raw = _decode_b64(text)
    if raw is None or len(raw) != 32:
        raise CheckpointKeyError("the public key must be PEM, base64 of 32 raw Ed25519 bytes, or a file holding either")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_b64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key (the first 16 hex digits of the SHA-256 of its raw bytes)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def new_key_pair() -> tuple[str, str]:
    """A fresh key pair as (private key base64, public key base64)."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return base64.b64encode(raw).decode(), public_key_b64(key.public_key())


def read_heads(session: Session) -> dict[str, dict[str, Any]]:
    """Each chain's head (seq, entry_hash), checked against the entry it names.

    Raises:
        ChainHeadInconsistent: the head row and the table disagree (the chain is already broken).
    """
    heads: dict[str, dict[str, Any]] = {}
    for chain in Chain:
        head = session.execute(
            select(AuditChainHead.seq, AuditChainHead.entry_hash).where(AuditChainHead.chain == chain.value)
        ).one_or_none()
        if head is None:
            raise ChainHeadInconsistent(f"audit chain {chain.value!r} has no head row; run the migrations")
        seq, digest = int(head[0]), str(head[1])
        if seq > 0 and _entry_hash_at(session, chain, seq) != digest:
            raise ChainHeadInconsistent(
                f"{chain.value}: the head names entry {seq}, which the table does not hold with that hash; "
                "run `sis audit verify` (no checkpoint written)"
            )
        heads[chain.value] = {"seq": seq, "entry_hash": digest}
    return heads


def _entry_hash_at(session: Session, chain: Chain, seq: int) -> str | None:
    table = TABLES[chain]
    return session.execute(select(table.c.entry_hash).where(table.c.seq == seq)).scalar_one_or_none()


def sign_checkpoint(
    heads: dict[str, dict[str, Any]],
    key: Ed25519PrivateKey,
    *,
    server: str,
    database: str,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The signed envelope of a checkpoint of `heads` taken at `at` (now) by `server` over `database`."""
    body = {
        "format": FORMAT,
        "taken_at": json_safe(at or utcnow()),
        "server": server,
        "database": database,
        "chains": heads,
    }
    signature = key.sign(canonical(body))
    return {
        "checkpoint": body,
        "signature": {
            "alg": "ed25519",
            "key_id": key_id(key.public_key()),
            "value": base64.b64encode(signature).decode(),
        },
    }


def encode_envelope(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, indent=2, sort_keys=True).encode() + b"\n"


@dataclass(frozen=True)
class CheckpointFinding:
    """One thing wrong: which checkpoint file, which chain (None: the file itself), and what."""

    source: str
    chain: str | None
    problem: str


@dataclass(frozen=True)
class CheckpointReport:
    checked: int
    findings: list[CheckpointFinding]
    newest: dict[str, tuple[int, str]]  # chain -> (seq, source) of the highest checkpointed seq


def _open(source: str, raw: bytes, key: Ed25519PublicKey) -> tuple[dict[str, Any] | None, str | None]:
    """The checkpoint body of a file, or why it cannot be trusted."""
    try:
        envelope = json.loads(raw)
        body, signature = envelope["checkpoint"], envelope["signature"]
        value = base64.b64decode(signature["value"], validate=True)
        if body.get("format") != FORMAT or not isinstance(body.get("chains"), dict):
            return None, f"not a {FORMAT} checkpoint"
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None, "not a readable checkpoint (JSON with checkpoint and signature)"
    try:
        key.verify(value, canonical(body))
    except InvalidSignature:
        return None, "signature does not verify with the given public key (forged, altered, or another key's)"
    return body, None


def verify_checkpoints(session: Session, files: list[tuple[str, bytes]], key: Ed25519PublicKey) -> CheckpointReport:
    """Check every checkpoint's signature, then that each chain still holds the checkpointed entry.

    The entry at the checkpoint's seq must exist with the checkpointed hash (a cut tail or a rewrite
    before the checkpoint changes or removes it), and the head must not be below that seq. Entries
    after the newest checkpoint are the chain walk's to verify (verify_chain).
    """
    findings: list[CheckpointFinding] = []
    newest: dict[str, tuple[int, str]] = {}
    heads = {chain: int(seq) for chain, seq in session.execute(select(AuditChainHead.chain, AuditChainHead.seq)).all()}
    known = {c.value: c for c in Chain}
    for source, raw in files:
        body, problem = _open(source, raw, key)
        if body is None:
            findings.append(CheckpointFinding(source, None, problem or "unreadable"))
            continue
        for name, point in sorted(body["chains"].items()):
            chain = known.get(name)
            if chain is None:
                findings.append(CheckpointFinding(source, name, "names a chain this database does not have"))
                continue
            seq, digest = int(point["seq"]), str(point["entry_hash"])
            if seq > newest.get(name, (-1, ""))[0]:
                newest[name] = (seq, source)
            if seq == 0:
                continue
            head = heads.get(name, 0)
            found = _entry_hash_at(session, chain, seq)
            if found is None:
                findings.append(
                    CheckpointFinding(
                        source,
                        name,
                        f"entry {seq} (checkpointed at {body['taken_at']}) is gone: the chain head is at {head}; "
                        "its tail was cut off",
                    )
                )
            elif found != digest:
                findings.append(
                    CheckpointFinding(
                        source,
                        name,
                        f"entry {seq} differs from the checkpoint taken at {body['taken_at']}: "
                        "an entry at or before it was rewritten, or the tail was cut off and refilled",
                    )
                )
            elif head < seq:
                findings.append(
                    CheckpointFinding(source, name, f"the chain head ({head}) is below the checkpointed seq {seq}")
                )
    return CheckpointReport(checked=len(files), findings=findings, newest=newest)
