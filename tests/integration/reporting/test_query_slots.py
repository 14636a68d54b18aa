"""Cost limits on run_sql (#15, "Cost limits"): concurrent statements are capped per key and overall.

Before, sixteen concurrent slow run_sql statements from one key all ran, each holding two pool
connections for its whole time limit, and another user's simple call waited behind them (9.9 s).
Now a key beyond its share waits briefly and is refused with `too_many_queries` (logged), and
typed tools never wait on run_sql's slots.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.pool import NullPool, QueuePool

from db.demo.calendar import DEMO_TODAY
from db.engine import make_session_factory
from db.models import QueryLog
from policies.principal import load_principal
from tests.conftest import fresh_database
from tests.personas import email_of
from tools.query_slots import QuerySlots, TooManyQueries, fit_to_pool
from tools.runner import Deps, ToolCallError, run_tool

# The time_limit attack of tests/integration/reporting/test_attacks.py: passes the guard, then runs
# until the statement timeout stops it, holding its slot all that while.
SLOW_SQL = (
    "SELECT count(*) FROM attendance a JOIN attendance b ON a.student_id <> b.student_id "
    "JOIN attendance c ON c.day_on <> b.day_on"
)


@pytest.fixture()
def pg_deps(request, tmp_path_factory):
    """Deps over a demo PostgreSQL database of this test's own (its calls commit), per key 2, total 3."""
    engine = fresh_database("postgresql", request, tmp_path_factory, f"slots_{uuid.uuid4().hex[:8]}", demo=True)
    slots = QuerySlots(per_key=2, total=3, wait_s=0.3)
    yield Deps(session_factory=make_session_factory(engine), clock=lambda: DEMO_TODAY, query_slots=slots)
    engine.dispose()


def _principal(deps: Deps, name: str):
    with deps.session_factory() as session:
        return load_principal(session, email=email_of(name))


def _wait_until(condition, *, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def test_run_sql_beyond_a_keys_share_is_refused_while_a_typed_tool_still_answers(pg_deps):
    admin, registrar = _principal(pg_deps, "network_admin"), _principal(pg_deps, "registrar_austin")
    slots = pg_deps.query_slots
    finished: list[str] = []
    lock = threading.Lock()

    def slow() -> str:
        try:
            run_tool(pg_deps, admin, "run_sql", {"sql": SLOW_SQL, "purpose": "cost limit test"})
            outcome = "ok"
        except ToolCallError as err:
            outcome = err.code
        with lock:
            finished.append(f"slow:{outcome}")
        return outcome

    with ThreadPoolExecutor(max_workers=6) as pool:
        holding = [pool.submit(slow) for _ in range(2)]
        _wait_until(lambda: slots.in_use() == 2)  # both slow statements hold their slots
        excess = [pool.submit(slow) for _ in range(3)]
        refused = [f.result(timeout=30) for f in excess]
        roster = run_tool(pg_deps, registrar, "query_roster", {"purpose": "cost limit test"})
        with lock:
            finished.append("roster")
            still_held = slots.in_use()
        slow_outcomes = [f.result(timeout=60) for f in holding]

    assert refused == ["too_many_queries"] * 3
    assert roster.output.model_dump()["items"], "the typed tool answered with rows"
    assert still_held == 2, "the typed call finished while both slow statements still held their slots"
    assert finished.index("roster") < min(i for i, f in enumerate(finished) if f.startswith("slow:sql_failed"))
    assert slow_outcomes == ["sql_failed", "sql_failed"]  # stopped by the statement timeout
    assert slots.in_use() == 0

    with pg_deps.session_factory() as session:
        codes = session.execute(
            select(QueryLog.error_code).where(QueryLog.capability == "run_sql").order_by(QueryLog.seq)
        ).scalars()
        logged = list(codes)
    assert logged.count("too_many_queries") == 3, "every refusal is on the record"


def test_the_server_wide_cap_refuses_another_key_once_every_slot_is_taken():
    slots = QuerySlots(per_key=2, total=2, wait_s=0.0)

    class Caller:
        def __init__(self) -> None:
            self.api_key_id, self.user_id = uuid.uuid4(), uuid.uuid4()

    first, second = Caller(), Caller()
    with slots.hold("run_sql", first), slots.hold("run_sql", first):  # type: ignore[arg-type]
        with pytest.raises(TooManyQueries, match="server is running its limit"), slots.hold("run_sql", second):  # type: ignore[arg-type]
            pytest.fail("a third statement got a slot beyond the server-wide cap")
        with slots.hold("query_roster", second):  # type: ignore[arg-type]
            assert slots.in_use() == 2  # a typed tool takes no slot and never waits
    with slots.hold("run_sql", second):  # type: ignore[arg-type]
        assert slots.in_use() == 1


def test_the_total_cap_leaves_connections_of_the_pool_for_typed_tools():
    pool = QueuePool(lambda: None, pool_size=5, max_overflow=0)
    assert fit_to_pool(4, pool) == 1  # two connections per statement, three kept for everything else
    assert fit_to_pool(4, QueuePool(lambda: None, pool_size=5, max_overflow=10)) == 4
    assert fit_to_pool(4, NullPool(lambda: None)) == 4


def test_a_rest_refusal_for_too_many_queries_says_when_to_retry():
    from mcp_server.rest.errors import ApiError, api_error_response
    from tools.query_slots import RETRY_SECONDS

    response = api_error_response(ApiError(429, "too_many_queries", "wait"))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(RETRY_SECONDS)
