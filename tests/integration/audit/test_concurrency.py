"""Concurrent writers queue on the chain head instead of forking the chain."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import QueryLog
from domain.audit.chain import Chain, verify_chain
from domain.audit.querylog import record_query
from tests.integration.audit.conftest import audit_actor

WRITERS, ENTRIES = 4, 15


def test_concurrent_writers_never_fork_the_chain(fresh_engine):
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(ENTRIES):
                with Session(fresh_engine) as session, session.begin():
                    record_query(session, audit_actor(), capability=f"writer_{n}", arguments={"i": i})
        except BaseException as err:  # surfaced below, with the thread's failure
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    with Session(fresh_engine) as session:
        result = verify_chain(session, Chain.QUERY_LOG)
        assert result.ok, result
        assert result.checked == WRITERS * ENTRIES
        assert session.execute(select(func.count(func.distinct(QueryLog.prev_hash)))).scalar_one() == WRITERS * ENTRIES
