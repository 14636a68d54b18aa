"""Webhook signing secrets at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256) under the operator's key.

Signing needs the secret itself, so it cannot be hashed like an API key; it is encrypted with a
key that lives outside the database (SIS_WEBHOOK_SECRET_KEY, several comma-separated to rotate:
the first seals, any opens). A stored value without the `fernet:` prefix is a secret written
before sealing existed; the dispatcher reads it and seals it in place (webhook_worker claim).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from domain.errors import DataDefect

PREFIX = "fernet:"


def _fernet(passphrase: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode("utf-8")).digest()))


class SecretBox:
    """Seals and opens webhook secrets with the configured keys (never logged, never in repr).

    `keys` may be a function giving them, called on first use (a key file is read only when needed).
    """

    def __init__(self, keys: tuple[str, ...] | Callable[[], tuple[str, ...]]) -> None:
        self._keys = keys
        self._fernets: MultiFernet | None = None

    def __repr__(self) -> str:
        return "SecretBox(...)"

    @property
    def _multi(self) -> MultiFernet:
        if self._fernets is None:
            keys = self._keys() if callable(self._keys) else self._keys
            if not keys or not all(keys):
                raise ValueError("a SecretBox needs at least one non-empty key")
            self._fernets = MultiFernet([_fernet(k) for k in keys])
        return self._fernets

    def seal(self, secret: str) -> str:
        """The stored form of `secret`."""
        return PREFIX + self._multi.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The secret a stored value holds (a legacy plaintext value is returned as is).

        Raises:
            DataDefect: sealed under a key that is no longer configured.
        """
        if not is_sealed(stored):
            return stored
        try:
            return self._multi.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise DataDefect("a webhook secret is sealed with a key that is not configured") from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)
