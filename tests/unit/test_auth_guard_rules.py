"""Issue #15: the pure rules behind the auth guard and the Host check, and their settings."""

from __future__ import annotations

from mcp_server.settings import Settings
from mcp_server.web_guard import host_allowed
from tools.auth_guard import presented_prefix

NAMES = frozenset({"127.0.0.1", "localhost", "::1", "sis.example"})


def test_only_the_public_prefix_of_a_presented_credential_is_ever_kept():
    assert presented_prefix("sis_live_ab12cd34_secretsecretsecret") == "sis_live_ab12cd34"
    assert presented_prefix("Bearer sis_oat_0a1b2c3d_x") == "sis_oat_0a1b2c3d"
    assert presented_prefix("sis_live_ab12cd34") == "sis_live_ab12cd34"
    assert presented_prefix("hunter2") is None and presented_prefix("sis_live_ab12cd34zz") is None
    assert presented_prefix(None) is None


def test_a_host_passes_when_it_is_ours_an_ip_literal_or_a_single_label_name():
    for ok in ("127.0.0.1:8000", "localhost", "[::1]:8000", "sis.example:443", "10.0.0.5", "testserver", ""):
        assert host_allowed(ok, NAMES), ok
    for bad in ("evil.example", "evil.example:8000", "sis.example.evil.example", "localhost.evil.example"):
        assert not host_allowed(bad, NAMES), bad


def test_the_budgets_come_from_the_environment():
    settings = Settings.from_environ(
        {"SIS_AUTH_FAILURES_PER_ADDRESS": "50", "SIS_AUTH_FAILURES_PER_PREFIX": "0", "SIS_AUTH_MAX_WAIT_SECONDS": "x"}
    )
    assert settings.auth_guard.failures_per_address == 50
    assert settings.auth_guard.failures_per_prefix == 0
    assert settings.auth_guard.max_wait_seconds == 900
    assert Settings().auth_guard.failures_per_address == 10
