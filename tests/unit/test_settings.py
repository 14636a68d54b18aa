"""mcp_server.settings: every setting comes from the mapping it is given, and secrets stay out of its repr."""

from __future__ import annotations

from mcp_server.settings import Settings

ENVIRON = {
    "SIS_DATABASE_URL": " postgresql+psycopg://sis@db/sis ",
    "SIS_API_KEY": "sis_live_abcd1234_stdio-secret",
    "SIS_ALLOWED_HOSTS": "sis.example:443, ,10.0.0.5:8000",
    "SIS_AUTH_CACHE_SECONDS": "0.5",
    "SIS_PUBLIC_URL": "https://sis.example/ ",
    "ANTHROPIC_API_KEY": "sk-ant-model-secret",
    "SIS_CHAT_MODEL": "claude-haiku-5-5",
    "SIS_CHAT_BASE_URL": "http://127.0.0.1:9",
    "SIS_CHAT_MAX_STEPS": "4",
    "SIS_CHAT_WRITE_TOOLS": "yes",
    "STRIPE_API_KEY": "sk_test_stripe-secret",
    "STRIPE_API_BASE": "http://127.0.0.1:8420",
    "STRIPE_WEBHOOK_SECRET": "whsec_webhook-secret",
}


def test_every_setting_is_read_from_the_mapping_given():
    settings = Settings.from_environ(ENVIRON)
    assert settings.database_url == "postgresql+psycopg://sis@db/sis"
    assert settings.api_key == "sis_live_abcd1234_stdio-secret"
    assert settings.allowed_hosts == ("sis.example:443", "10.0.0.5:8000")
    assert settings.auth_cache_seconds == 0.5
    assert settings.public_url == "https://sis.example"
    chat = settings.chat
    assert chat.online and chat.model == "claude-haiku-5-5" and chat.base_url == "http://127.0.0.1:9"
    assert chat.max_steps == 4 and chat.max_tokens == 1024 and chat.allow_writes
    assert (settings.stripe_api_key, settings.stripe_api_base) == ("sk_test_stripe-secret", "http://127.0.0.1:8420")
    assert settings.stripe_webhook_secret == "whsec_webhook-secret"


def test_an_empty_environment_gives_the_defaults():
    assert Settings.from_environ({}) == Settings()
    assert Settings().database_url == "sqlite:///sis-data/sis.db" and Settings().auth_cache_seconds == 2.0


def test_an_unreadable_number_takes_its_default_and_a_negative_lifetime_is_zero():
    assert Settings.from_environ({"SIS_AUTH_CACHE_SECONDS": "soon"}).auth_cache_seconds == 2.0
    assert Settings.from_environ({"SIS_AUTH_CACHE_SECONDS": "-3"}).auth_cache_seconds == 0.0
    assert Settings.from_environ({"SIS_CHAT_MAX_STEPS": "many"}).chat.max_steps == 8


def test_no_secret_appears_in_the_repr():
    shown = repr(Settings.from_environ(ENVIRON))
    assert "claude-haiku-5-5" in shown
    for secret in ("stdio-secret", "model-secret", "stripe-secret", "webhook-secret"):
        assert secret not in shown


def test_a_public_url_that_is_not_http_is_ignored():
    assert Settings.from_environ({"SIS_PUBLIC_URL": "javascript:alert(1)"}).public_url is None
    assert Settings.from_environ({"SIS_PUBLIC_URL": "https://"}).public_url is None


def test_the_credentials_watch_polls_every_second_unless_told_otherwise():
    assert Settings().cache_poll_seconds == 1.0
    assert Settings.from_environ({"SIS_CACHE_POLL_SECONDS": "0.25"}).cache_poll_seconds == 0.25
    assert Settings.from_environ({"SIS_CACHE_POLL_SECONDS": "0"}).cache_poll_seconds == 0.0  # the watch off
    assert Settings.from_environ({"SIS_CACHE_POLL_SECONDS": "often"}).cache_poll_seconds == 1.0
