"""The canonical bytes split around the seq re-join to exactly the canonical encoding.

PostgreSQL appends an entry in one statement by hashing prefix + seq + suffix itself; verification
hashes `canonical(record)` in Python. The two must be the same bytes for every record.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.audit.chain import HASHED_FIELDS, Chain, canonical, canonical_around_seq, record_of

json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@given(chain=st.sampled_from(list(Chain)), data=st.data(), seq=st.integers(1, 2**53))
def test_prefix_seq_suffix_is_the_canonical_encoding(chain, data, seq):
    fields = [name for name in HASHED_FIELDS[chain] if name != "seq"]
    record = {name: data.draw(json_value, label=name) for name in fields}

    prefix, suffix = canonical_around_seq(chain, record)

    assert prefix + str(seq).encode() + suffix == canonical(record_of(chain, {**record, "seq": seq}))


def test_a_nested_seq_key_and_non_ascii_text_do_not_confuse_the_split():
    record = {name: None for name in HASHED_FIELDS[Chain.QUERY_LOG] if name != "seq"}
    record["arguments"] = {"seq": 7, "note": 'Zoë "seq":1 \u0000'}
    record["sql_original"] = "SELECT 'ñ'"

    prefix, suffix = canonical_around_seq(Chain.QUERY_LOG, record)

    assert prefix + b"42" + suffix == canonical({**record, "seq": 42})
    assert prefix.endswith(b'"seq":') and suffix.startswith(b',"sql_executed":')
