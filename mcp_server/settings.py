"""Every setting the product reads from its environment, read in this one place.

The CLI entry (mcp_server/cli.py) calls `Settings.from_environ(os.environ)` once; everything else
is handed the Settings, or the part it needs, by the composition root (mcp_server/wiring.py), so
two apps built in one process with different settings share nothing. Secrets stay out of the repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chat_ui.exports import DEFAULT_MEMORY_MB, DEFAULT_TABLES
from db.engine import DEFAULT_DATABASE_URL
from tools.auth_guard import AuthGuardSettings
from tools.chat_settings import DEFAULT_MODEL, ChatSettings
from tools.query_slots import DEFAULT_PER_KEY, DEFAULT_TOTAL, DEFAULT_WAIT_S

DEFAULT_AUTH_CACHE_SECONDS = 2.0
DEFAULT_CHECKPOINT_INTERVAL_SECONDS = 3600.0
DEFAULT_INVALID_REQUEST_LOG_PER_MINUTE = 30
DEFAULT_CACHE_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Settings:
    """The process's configuration; the defaults are what an empty environment gives."""

    # SIS_DATABASE_URL
    database_url: str = DEFAULT_DATABASE_URL
    # SIS_API_KEY: who `sis mcp` (stdio) acts as.
    api_key: str | None = field(default=None, repr=False)
    # SIS_ALLOWED_HOSTS: Host headers the MCP endpoint accepts beyond loopback.
    allowed_hosts: tuple[str, ...] = ()
    # SIS_PUBLIC_URL: the address clients reach the server at (links in OneRoster answers are built
    # from it, never from a request's Host header); default: the address it serves on.
    public_url: str | None = None
    # SIS_AUTH_CACHE_SECONDS: how long the HTTP faces remember a verified credential (0: never).
    auth_cache_seconds: float = DEFAULT_AUTH_CACHE_SECONDS
    # ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL / SIS_CHAT_BASE_URL, SIS_CHAT_*
    chat: ChatSettings = field(default_factory=ChatSettings)
    # STRIPE_API_KEY enables online charging; STRIPE_API_BASE points the SDK elsewhere (tests).
    stripe_api_key: str | None = field(default=None, repr=False)
    stripe_api_base: str | None = None
    # STRIPE_WEBHOOK_SECRET: without it the Stripe webhook answers 503.
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    # Audit checkpoints (issue #15, docs/security/audit-checkpoints.md): signed chain heads kept outside
    # the database. SIS_AUDIT_CHECKPOINT_KEY: Ed25519 private key (PEM or base64 of 32 raw bytes).
    # SIS_AUDIT_CHECKPOINT_SINK: a directory, an http(s):// webhook or a put+http(s):// object store base.
    # SIS_AUDIT_CHECKPOINT_INTERVAL: seconds between the server's checkpoints (suffix m or h allowed).
    audit_checkpoint_key: str | None = field(default=None, repr=False)
    audit_checkpoint_sink: str | None = field(default=None, repr=False)
    audit_checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL_SECONDS
    # -- audit visibility (issue 15): SIS_INVALID_REQUEST_LOG_PER_MINUTE, query-log entries of requests
    # refused before the runner (FastAPI validation) per source address and minute; beyond it they are counted.
    invalid_request_log_per_minute: int = DEFAULT_INVALID_REQUEST_LOG_PER_MINUTE
    # --- cost limits (docs/security/cost-limits.md) ---
    # SIS_SQL_MAX_PER_KEY / SIS_SQL_MAX_TOTAL: run_sql statements at once per key / in the process.
    sql_max_per_key: int = DEFAULT_PER_KEY
    sql_max_total: int = DEFAULT_TOTAL
    # SIS_SQL_QUEUE_SECONDS: how long a run_sql call beyond a cap waits for a slot before a 429.
    sql_queue_seconds: float = DEFAULT_WAIT_S
    # --- end cost limits ---
    # --- Authentication throttling (issue #15, docs/security/authentication.md) ---
    # SIS_AUTH_FAILURES_PER_ADDRESS, SIS_AUTH_FAILURES_PER_PREFIX, SIS_AUTH_FAILURE_WINDOW_SECONDS,
    # SIS_AUTH_MAX_WAIT_SECONDS, SIS_AUTH_FAILURES_LOGGED_PER_ADDRESS: 0 disables a budget.
    auth_guard: AuthGuardSettings = field(default_factory=AuthGuardSettings)
    # --- webhooks (#15): where deliveries may go, how many per org, the key sealing signing secrets ---
    # SIS_WEBHOOK_ALLOW_HOSTS: host names, addresses or CIDRs allowed even though private or loopback.
    webhook_allow_hosts: tuple[str, ...] = ()
    # SIS_WEBHOOK_ALLOW_HTTP=1: accept http:// subscription URLs (https only otherwise).
    webhook_allow_http: bool = False
    # SIS_WEBHOOK_MAX_PER_ORG: active subscriptions one org may have.
    webhook_max_per_org: int = 25
    # SIS_WEBHOOK_SECRET_KEY: seals signing secrets at rest (comma-separated to rotate: the first seals);
    # unset: a key kept in sis-data/webhook-secret.key, made on first use.
    webhook_secret_key: str | None = field(default=None, repr=False)
    # --- chat exports (issue #16, docs/chat-exports.md): the tables a chat session can still download ---
    # SIS_CHAT_EXPORT_TABLES: tables kept per chat session (oldest dropped first; 0: no downloads).
    # SIS_CHAT_EXPORT_MEMORY_MB: memory all sessions' kept tables may use together.
    chat_export_tables: int = DEFAULT_TABLES
    chat_export_memory_mb: int = DEFAULT_MEMORY_MB
    # --- end chat exports ---
    # --- OAuth for MCP clients (#20, docs/security/oauth-mcp.md) ---
    # SIS_OAUTH_ISSUER: the authorization server whose JWT access tokens /mcp accepts (unset: API keys and
    # this server's own /oauth/token tokens only). SIS_OAUTH_AUDIENCE: the `aud` they must carry (default:
    # <public URL>/mcp). SIS_OAUTH_JWKS_URL: its keys, when not found by OpenID discovery.
    oauth_issuer: str | None = None
    oauth_audience: str | None = None
    oauth_jwks_url: str | None = None
    # --- end OAuth for MCP clients ---
    # --- rate limits and quotas (#20, docs/running/rate-limits.md): plan defaults per API key / OAuth client ---
    # SIS_RATE_PER_MINUTE, SIS_RATE_PER_DAY, SIS_QUOTA_PER_MONTH: calls allowed (0: unlimited); a key's own
    # limits (set_api_key_limits) take precedence.
    rate_per_minute: int = 0
    rate_per_day: int = 0
    quota_per_month: int = 0
    # --- end rate limits ---
    # --- several processes (#21, docs/running/processes.md) ---
    # SIS_CACHE_POLL_SECONDS: how often each process reads the credentials token (a revocation, grant change
    # or deactivation anywhere empties its auth cache within this; PostgreSQL NOTIFY is usually sooner; 0: off).
    cache_poll_seconds: float = DEFAULT_CACHE_POLL_SECONDS
    # --- end several processes ---

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The settings in `environ`; an unset, blank or unreadable value takes its default."""

        def text(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        return cls(
            database_url=text("SIS_DATABASE_URL") or DEFAULT_DATABASE_URL,
            api_key=text("SIS_API_KEY"),
            allowed_hosts=tuple(h.strip() for h in environ.get("SIS_ALLOWED_HOSTS", "").split(",") if h.strip()),
            public_url=_http_url(text("SIS_PUBLIC_URL")),
            auth_cache_seconds=_seconds(environ.get("SIS_AUTH_CACHE_SECONDS", ""), DEFAULT_AUTH_CACHE_SECONDS),
            chat=ChatSettings(
                api_key=text("ANTHROPIC_API_KEY"),
                model=text("SIS_CHAT_MODEL") or DEFAULT_MODEL,
                base_url=text("SIS_CHAT_BASE_URL") or text("ANTHROPIC_BASE_URL"),
                max_steps=_count(environ.get("SIS_CHAT_MAX_STEPS", ""), ChatSettings.max_steps),
                max_tokens=_count(environ.get("SIS_CHAT_MAX_TOKENS", ""), ChatSettings.max_tokens),
                max_total_tokens=_count(environ.get("SIS_CHAT_MAX_TOTAL_TOKENS", ""), ChatSettings.max_total_tokens),
                allow_writes=environ.get("SIS_CHAT_WRITE_TOOLS", "").strip().lower() in {"1", "true", "yes"},
            ),
            stripe_api_key=text("STRIPE_API_KEY"),
            stripe_api_base=environ.get("STRIPE_API_BASE") or None,
            stripe_webhook_secret=text("STRIPE_WEBHOOK_SECRET"),
            audit_checkpoint_key=text("SIS_AUDIT_CHECKPOINT_KEY"),
            audit_checkpoint_sink=text("SIS_AUDIT_CHECKPOINT_SINK"),
            audit_checkpoint_interval=_interval(environ.get("SIS_AUDIT_CHECKPOINT_INTERVAL", "")),
            invalid_request_log_per_minute=_count(
                environ.get("SIS_INVALID_REQUEST_LOG_PER_MINUTE", ""), DEFAULT_INVALID_REQUEST_LOG_PER_MINUTE
            ),
            # --- cost limits ---
            sql_max_per_key=max(1, _count(environ.get("SIS_SQL_MAX_PER_KEY", ""), DEFAULT_PER_KEY)),
            sql_max_total=max(1, _count(environ.get("SIS_SQL_MAX_TOTAL", ""), DEFAULT_TOTAL)),
            sql_queue_seconds=_seconds(environ.get("SIS_SQL_QUEUE_SECONDS", ""), DEFAULT_WAIT_S),
            # --- end cost limits ---
            auth_guard=_auth_guard(environ),
            webhook_allow_hosts=tuple(
                h.strip() for h in environ.get("SIS_WEBHOOK_ALLOW_HOSTS", "").split(",") if h.strip()
            ),
            webhook_allow_http=environ.get("SIS_WEBHOOK_ALLOW_HTTP", "").strip().lower() in {"1", "true", "yes"},
            webhook_max_per_org=_count(environ.get("SIS_WEBHOOK_MAX_PER_ORG", ""), 25),
            webhook_secret_key=text("SIS_WEBHOOK_SECRET_KEY"),
            # --- chat exports ---
            chat_export_tables=_count(environ.get("SIS_CHAT_EXPORT_TABLES", ""), DEFAULT_TABLES),
            chat_export_memory_mb=_count(environ.get("SIS_CHAT_EXPORT_MEMORY_MB", ""), DEFAULT_MEMORY_MB),
            # --- end chat exports ---
            oauth_issuer=_http_url(text("SIS_OAUTH_ISSUER")),
            oauth_audience=text("SIS_OAUTH_AUDIENCE"),
            oauth_jwks_url=_http_url(text("SIS_OAUTH_JWKS_URL")),
            rate_per_minute=_count(environ.get("SIS_RATE_PER_MINUTE", ""), 0),
            rate_per_day=_count(environ.get("SIS_RATE_PER_DAY", ""), 0),
            quota_per_month=_count(environ.get("SIS_QUOTA_PER_MONTH", ""), 0),
            cache_poll_seconds=_seconds(environ.get("SIS_CACHE_POLL_SECONDS", ""), DEFAULT_CACHE_POLL_SECONDS),
        )


def _http_url(value: str | None) -> str | None:
    """An http(s) URL without a trailing slash, or None (unset or not such a URL)."""
    if value and value.startswith(("http://", "https://")) and "://" in value and value.split("://", 1)[1]:
        return value.rstrip("/")
    return None


def _count(value: str, default: int) -> int:
    """A whole number setting, or the default."""
    value = value.strip()
    return int(value) if value.isdigit() else default


def _seconds(value: str, default: float) -> float:
    """A non-negative number of seconds, or the default."""
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def _interval(value: str) -> float:
    """A checkpoint interval: seconds, or a number with an s, m or h suffix; 1 s to ~115 days, else the default."""
    value = value.strip().lower()
    unit = {"s": 1, "m": 60, "h": 3600}.get(value[-1:], 0)
    try:
        seconds = float(value[:-1]) * unit if unit else float(value)
    except ValueError:
        return DEFAULT_CHECKPOINT_INTERVAL_SECONDS
    return seconds if 1 <= seconds < 10**7 else DEFAULT_CHECKPOINT_INTERVAL_SECONDS


def _auth_guard(environ: Mapping[str, str]) -> AuthGuardSettings:
    """The failed-authentication budgets (tools/auth_guard.py) in `environ`."""
    d = AuthGuardSettings()
    return AuthGuardSettings(
        failures_per_address=_count(environ.get("SIS_AUTH_FAILURES_PER_ADDRESS", ""), d.failures_per_address),
        failures_per_prefix=_count(environ.get("SIS_AUTH_FAILURES_PER_PREFIX", ""), d.failures_per_prefix),
        window_seconds=_seconds(environ.get("SIS_AUTH_FAILURE_WINDOW_SECONDS", ""), d.window_seconds)
        or d.window_seconds,
        max_wait_seconds=_seconds(environ.get("SIS_AUTH_MAX_WAIT_SECONDS", ""), d.max_wait_seconds),
        logged_per_address=_count(environ.get("SIS_AUTH_FAILURES_LOGGED_PER_ADDRESS", ""), d.logged_per_address),
    )
