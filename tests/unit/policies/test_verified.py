"""Verified credentials are remembered briefly, by digest, and forgotten on revocation or expiry."""

from __future__ import annotations

from policies.verified import RecentlyVerified


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_verified_credential_is_remembered_per_namespace_until_its_ttl():
    clock = Clock()
    cache = RecentlyVerified(ttl=60, clock=clock)
    cache.put("mcp", "sis_live_abcd1234_secret", "principal", api_key_prefix="sis_live_abcd1234")

    assert cache.get("mcp", "sis_live_abcd1234_secret") == "principal"
    assert cache.get("rest", "sis_live_abcd1234_secret") is None
    assert cache.get("mcp", "sis_live_abcd1234_other") is None
    clock.now += 59
    assert cache.get("mcp", "sis_live_abcd1234_secret") == "principal"
    clock.now += 1
    assert cache.get("mcp", "sis_live_abcd1234_secret") is None


def test_revoking_a_key_forgets_everything_verified_through_it():
    cache = RecentlyVerified(ttl=60)
    cache.put("mcp", "key-a", "a", api_key_prefix="prefix_a")
    cache.put("oneroster", "Bearer key-a", "a2", api_key_prefix="prefix_a")
    cache.put("mcp", "key-b", "b", api_key_prefix="prefix_b")

    cache.forget_key("prefix_a")

    assert cache.get("mcp", "key-a") is None and cache.get("oneroster", "Bearer key-a") is None
    assert cache.get("mcp", "key-b") == "b"


def test_the_presented_text_is_never_kept_and_a_zero_ttl_remembers_nothing():
    cache = RecentlyVerified(ttl=60, size=2)
    cache.put("mcp", "sis_live_abcd1234_topsecret", "p", api_key_prefix="x")
    assert "topsecret" not in repr(cache._entries)

    off = RecentlyVerified(ttl=0)
    off.put("mcp", "k", "p", api_key_prefix="x")
    assert off.get("mcp", "k") is None


def test_the_cache_is_bounded():
    cache = RecentlyVerified(ttl=60, size=2)
    for i in range(5):
        cache.put("mcp", f"k{i}", i, api_key_prefix=None)
    assert len(cache._entries) == 2 and cache.get("mcp", "k4") == 4


def test_invalidate_forgets_everything_and_what_a_check_under_way_would_have_remembered():
    cache = RecentlyVerified(ttl=60)
    cache.put("mcp", "sis_live_aaaaaaaa_x", "old", api_key_prefix="sis_live_aaaaaaaa")

    def check_that_races_a_revocation() -> str:
        cache.invalidate()  # the database said credentials changed while this check was reading
        return "read before the change"

    assert cache.verify("mcp", "sis_live_bbbbbbbb_y", check_that_races_a_revocation, lambda _: None)
    assert cache.get("mcp", "sis_live_aaaaaaaa_x") is None
    assert cache.get("mcp", "sis_live_bbbbbbbb_y") is None
    assert cache.verify("mcp", "sis_live_bbbbbbbb_y", lambda: "fresh", lambda _: None) == "fresh"
    assert cache.get("mcp", "sis_live_bbbbbbbb_y") == "fresh"
