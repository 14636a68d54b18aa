"""Each OneRoster tool reads its own collections: asking one for the other's is invalid input naming `collection`."""

from __future__ import annotations

import pytest

from tools.runner import ToolCallError, run_tool


@pytest.mark.parametrize(
    ("tool", "collection"), [("oneroster_read", "demographics"), ("oneroster_demographics", "users")]
)
def test_a_collection_of_the_other_tool_is_invalid_input(demo_deps, persona, tool, collection):
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, persona("admin@sis.example"), tool, {"collection": collection}, channel="test")
    assert (refused.value.code, refused.value.field, refused.value.status) == ("invalid_input", "collection", 422)


def test_each_tool_reads_its_own_collection(demo_deps, persona):
    admin = persona("admin@sis.example")
    users = run_tool(demo_deps, admin, "oneroster_read", {"collection": "users", "limit": 1}, channel="test")
    demographics = run_tool(demo_deps, admin, "oneroster_demographics", {"limit": 1}, channel="test")
    assert users.data["total"] > 0 and demographics.data["total"] > 0
