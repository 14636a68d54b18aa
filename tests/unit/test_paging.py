"""A short page tells the total; an empty page past the start or a full page does not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.paging import total_from_page


@given(total=st.integers(0, 2000), limit=st.integers(1, 500), offset=st.integers(0, 2500))
def test_a_known_total_is_always_the_true_total(total, limit, offset):
    rows = max(0, min(limit, total - offset))

    known = total_from_page(rows, limit, offset)

    assert known is None or known == total
    if 0 < rows < limit or (offset == 0 and rows < limit):
        assert known == total
