"""The operator's webhook settings as the domain's WebhookConfig (URL policy, cap, sealing key)."""

from __future__ import annotations

import functools
import logging
import os
import secrets
from pathlib import Path

from domain.webhooks.config import WebhookConfig
from domain.webhooks.sealing import SecretBox
from domain.webhooks.urls import UrlPolicy
from mcp_server.settings import Settings

KEY_FILE = Path("sis-data") / "webhook-secret.key"
log = logging.getLogger("sis.webhooks")


def webhook_config(settings: Settings) -> WebhookConfig:
    """What webhook creation and delivery enforce for these settings."""
    return WebhookConfig(
        urls=url_policy(settings),
        max_per_org=max(settings.webhook_max_per_org, 1),
        box=secret_box(settings),
    )


def url_policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy.build(
        allow_hosts=settings.webhook_allow_hosts,
        allow_http=settings.webhook_allow_http,
        public_url=settings.public_url,
    )


def secret_box(settings: Settings) -> SecretBox:
    """SIS_WEBHOOK_SECRET_KEY's keys, or the key file's (made, readable by this user only, on first use)."""
    if settings.webhook_secret_key:
        return SecretBox(tuple(k.strip() for k in settings.webhook_secret_key.split(",") if k.strip()))
    path = KEY_FILE.resolve()
    return SecretBox(lambda: (_key_file(path),))


@functools.cache
def _key_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    log.warning("SIS_WEBHOOK_SECRET_KEY is unset: webhook secrets are sealed with the key in %s", path)
    return path.read_text().strip()
