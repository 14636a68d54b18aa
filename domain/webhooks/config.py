"""What webhook management needs from the operator's settings, handed in by the composition root."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from domain.webhooks.sealing import SecretBox
from domain.webhooks.urls import UrlPolicy

DEFAULT_MAX_PER_ORG = 25


_PROCESS_BOX: SecretBox = SecretBox((secrets.token_urlsafe(32),))


@dataclass(frozen=True)
class WebhookConfig:
    urls: UrlPolicy = field(default_factory=UrlPolicy)
    # Active subscriptions one org may have (SIS_WEBHOOK_MAX_PER_ORG).
    max_per_org: int = DEFAULT_MAX_PER_ORG
    # The default (for tests and in-process use) is a key of this process only; wiring passes the configured one.
    box: SecretBox = field(default_factory=lambda: _PROCESS_BOX)
