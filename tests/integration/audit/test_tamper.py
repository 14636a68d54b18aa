"""An edited, deleted, inserted or reordered audit row is always detected, and the entry is named.

The append-only triggers are switched off first (see conftest.triggers_off): the hash chain is
what must catch an attacker with enough privilege to bypass them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select, update

from db.models import ChangeEvent, QueryLog
from domain.audit.chain import Chain, entry_hash, record_of, verify_chain
from tests.integration.audit.conftest import fill_change_events, fill_query_log, triggers_off

TABLES = {Chain.QUERY_LOG: QueryLog, Chain.CHANGE_EVENT: ChangeEvent}
chains = pytest.mark.parametrize("chain", list(Chain), ids=str)


def _filled(session, chain):
    """Fill both chains; return the model and the seqs of `chain` (at least 5 entries)."""
    fill_query_log(session, 6)
    fill_change_events(session, 2)
    model = TABLES[chain]
    seqs = session.execute(select(model.seq).order_by(model.seq)).scalars().all()
    assert len(seqs) >= 5 and verify_chain(session, chain).ok
    triggers_off(session)
    return model, seqs


def _text_column(chain):
    return "capability" if chain is Chain.QUERY_LOG else "new_value"


@chains
def test_an_edited_entry_is_named(session, chain):
    model, seqs = _filled(session, chain)
    target = seqs[2]
    session.execute(update(model).where(model.seq == target).values({_text_column(chain): "nothing to see"}))

    result = verify_chain(session, chain)
    assert not result.ok and result.first_broken_seq == target and "altered" in result.reason


@chains
def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(session, chain):
    model, seqs = _filled(session, chain)
    target = seqs[2]
    session.execute(update(model).where(model.seq == target).values({_text_column(chain): "forged"}))
    row = session.execute(select(*model.__table__.c).where(model.seq == target)).one()
    forged = entry_hash(row.prev_hash, record_of(chain, row))
    session.execute(update(model).where(model.seq == target).values(entry_hash=forged))

    result = verify_chain(session, chain)
    assert not result.ok and result.first_broken_seq == target + 1 and "does not link" in result.reason


@chains
def test_a_deleted_entry_is_named(session, chain):
    model, seqs = _filled(session, chain)
    session.execute(delete(model).where(model.seq == seqs[1]))

    result = verify_chain(session, chain)
    assert not result.ok and result.first_broken_seq == seqs[1] and "missing" in result.reason


@chains
def test_a_deleted_last_entry_is_caught_by_the_head(session, chain):
    model, seqs = _filled(session, chain)
    session.execute(delete(model).where(model.seq == seqs[-1]))

    result = verify_chain(session, chain)
    assert not result.ok and result.first_broken_seq == seqs[-1] and "missing" in result.reason


@chains
def test_an_inserted_entry_is_named(session, chain):
    model, seqs = _filled(session, chain)
    # Make room in the middle, then slip a copy of entry 2 in as entry 3 with its hashes intact.
    table = model.__table__
    rows = [r._asdict() for r in session.execute(select(*table.c).order_by(table.c.seq.desc()))]
    for row in rows:
        if row["seq"] >= seqs[2]:
            session.execute(update(model).where(model.seq == row["seq"]).values(seq=row["seq"] + 1000))
    for row in rows:
        if row["seq"] >= seqs[2]:
            session.execute(update(model).where(model.seq == row["seq"] + 1000).values(seq=row["seq"] + 1))
    copy = {k: v for k, v in next(r for r in rows if r["seq"] == seqs[1]).items() if k != "id"}
    session.execute(insert(model).values({**copy, "seq": seqs[2]}))

    result = verify_chain(session, chain)
    assert not result.ok and result.first_broken_seq == seqs[2]


@chains
def test_an_entry_appended_behind_the_heads_back_is_named(session, chain):
    model, seqs = _filled(session, chain)
    table = model.__table__
    last = session.execute(select(*table.c).where(table.c.seq == seqs[-1])).one()._asdict()
    forged = {k: v for k, v in last.items() if k != "id"} | {"seq": seqs[-1] + 1, "prev_hash": last["entry_hash"]}
    forged["entry_hash"] = entry_hash(last["entry_hash"], record_of(chain, forged))
    session.execute(insert(model).values(forged))

    result = verify_chain(session, chain)
    assert not result.ok and result.first_broken_seq == seqs[-1] + 1 and "beyond the chain head" in result.reason


@chains
def test_reordered_entries_are_named(session, chain):
    model, seqs = _filled(session, chain)
    a, b = seqs[1], seqs[3]
    session.execute(update(model).where(model.seq == a).values(seq=-1))
    session.execute(update(model).where(model.seq == b).values(seq=a))
    session.execute(update(model).where(model.seq == -1).values(seq=b))

    result = verify_chain(session, chain)
    assert not result.ok and result.first_broken_seq == a
    assert session.execute(select(func.count()).select_from(model)).scalar_one() == len(seqs)
