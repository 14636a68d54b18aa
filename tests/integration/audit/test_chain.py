"""Both audit trails are hash-chained, gapless and append-only; verification finds the first broken link."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from db.models import AuditChainHead, ChangeEvent, QueryLog
from domain.audit.chain import GENESIS_HASH, HASHED_FIELDS, TABLES, UNHASHED_FIELDS, Chain, entry_hash, verify_chain
from tests.integration.audit.conftest import fill_change_events, fill_query_log, triggers_off


def _head(session, chain):
    return session.execute(select(AuditChainHead.seq, AuditChainHead.entry_hash).where(AuditChainHead.chain == chain))


def test_query_log_entries_are_gapless_and_linked(session):
    before = verify_chain(session, Chain.QUERY_LOG)
    seqs = fill_query_log(session, 4)

    assert seqs == list(range(before.checked + 1, before.checked + 5))
    rows = session.execute(select(QueryLog).order_by(QueryLog.seq)).scalars().all()
    assert rows[0].prev_hash == (before.head_hash if before.checked else GENESIS_HASH)
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(rows))
    result = verify_chain(session, Chain.QUERY_LOG)
    assert result.ok and result.checked == before.checked + 4 and result.head_hash == rows[-1].entry_hash


def test_change_events_are_chained_by_record_changes(session):
    before = verify_chain(session, Chain.CHANGE_EVENT).checked
    fill_change_events(session, students=2)
    result = verify_chain(session, Chain.CHANGE_EVENT)
    count = session.execute(select(func.count()).select_from(ChangeEvent)).scalar_one()

    assert result.ok and result.checked == count == before + 6
    seqs = session.execute(select(ChangeEvent.seq).order_by(ChangeEvent.seq)).scalars().all()
    assert seqs == list(range(1, count + 1))


def test_a_rolled_back_write_gives_its_sequence_numbers_back(session):
    fill_query_log(session, 1)
    savepoint = session.begin_nested()
    fill_query_log(session, 3)
    savepoint.rollback()
    after = fill_query_log(session, 1)

    assert verify_chain(session, Chain.QUERY_LOG).ok
    assert after == [session.execute(select(func.max(QueryLog.seq))).scalar_one()]
    assert session.execute(select(func.count()).select_from(QueryLog)).scalar_one() == after[0]


def test_every_column_is_either_hashed_or_deliberately_left_out():
    for chain, table in TABLES.items():
        columns = {c.name for c in table.columns}
        assert columns == set(HASHED_FIELDS[chain]) | UNHASHED_FIELDS[chain], chain


def test_the_hash_is_the_documented_construction():
    import hashlib
    import json

    record = {"seq": 1, "capability": "x", "row_count": 2}
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    expected = hashlib.sha256(b"\x00" + b"sis-audit-v1" + bytes(32) + canonical).hexdigest()
    assert entry_hash(GENESIS_HASH, record) == expected


@pytest.mark.parametrize("table", [QueryLog, ChangeEvent], ids=["query_log", "change_event"])
def test_the_database_refuses_to_update_or_delete_audit_rows(session, table):
    fill_query_log(session, 1)
    fill_change_events(session, 1)
    for statement in (f"UPDATE {table.__tablename__} SET prev_hash = prev_hash", f"DELETE FROM {table.__tablename__}"):
        savepoint = session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        savepoint.rollback()


def test_the_append_only_triggers_survive_a_tampering_test(session):
    fill_query_log(session, 1)
    savepoint = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(update(QueryLog).values(capability="edited"))
    savepoint.rollback()


@pytest.mark.parametrize("chain", list(Chain), ids=str)
def test_the_chain_head_must_agree_with_the_last_entry(session, chain):
    fill_query_log(session, 2)
    fill_change_events(session, 1)
    session.execute(update(AuditChainHead).where(AuditChainHead.chain == chain.value).values(entry_hash="ab" * 32))

    result = verify_chain(session, chain)
    assert not result.ok and "chain head" in (result.reason or "")


def test_tampering_helpers_do_not_leak_out_of_the_test(session):
    fill_query_log(session, 1)
    triggers_off(session)
    session.execute(update(QueryLog).values(capability="edited"))
    assert not verify_chain(session, Chain.QUERY_LOG).ok
