"""Issue #15 brute force: the failure throttle's budget, backoff and bounds, on a fake clock."""

from __future__ import annotations

from policies.throttle import FailureThrottle, RecordBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_waits_once_it_reaches_its_budget_and_the_wait_doubles_on_a_repeat():
    clock = Clock()
    throttle = FailureThrottle(3, window=60, max_wait=900, clock=clock)
    assert [throttle.fail("a") for _ in range(2)] == [0, 0]
    assert throttle.fail("a") == 60 and throttle.wait("a") == 60 and throttle.wait("b") == 0
    clock.now += 61
    assert throttle.wait("a") == 0
    assert [throttle.fail("a") for _ in range(3)][-1] == 120


def test_failures_outside_the_window_are_forgotten_and_zero_disables():
    clock = Clock()
    throttle = FailureThrottle(2, window=60, clock=clock)
    throttle.fail("a")
    clock.now += 61
    assert throttle.fail("a") == 0
    assert FailureThrottle(0).fail("a") == 0 and FailureThrottle(5).fail(None) == 0


def test_the_table_stays_bounded_under_a_flood_of_addresses():
    throttle = FailureThrottle(5, size=100, clock=Clock())
    for n in range(1000):
        throttle.fail(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._records) <= 100


def test_the_record_budget_admits_k_per_window_then_reports_what_it_dropped():
    clock = Clock()
    budget = RecordBudget(2, overall=100, window=60, clock=clock)
    assert [budget.admit("a") for _ in range(5)] == [(True, 0), (True, 0), (False, 0), (False, 0), (False, 0)]
    clock.now += 61
    assert budget.admit("a") == (True, 3)
