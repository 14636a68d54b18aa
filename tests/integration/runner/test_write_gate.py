"""Every write in the catalog is registered as one, and a read-only key can reach none of them.

The runner decides on (data class, action) before a handler runs, so a tool registered with the
wrong action would be a hole no per-tool test notices; this test walks the whole catalog.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from policies.authorize import build_scope
from policies.scope import Action
from tools.catalog import load_catalog
from tools.runner import ToolCallError, permitted, run_tool, visible_tools

# Verbs that change data: a tool named so must be registered as a write.
WRITE_VERBS = re.compile(
    r"^(create|update|set|record|define|grant|revoke|assign|end|add|remove|merge|deactivate|close|"
    r"enroll|withdraw|transfer|reenroll|submit|advance|run|cancel|refund|charge|subscribe|delete)_"
)
# Names that read despite such a verb (a preview computes, never writes).
READS = {"preview_rollover", "run_sql"}


def test_every_tool_named_as_a_change_is_registered_as_a_write():
    catalog = load_catalog()
    misregistered = sorted(
        name for name, spec in catalog.items() if WRITE_VERBS.match(name) and name not in READS and spec.read_only
    )
    assert not misregistered, f"tools named as changes but registered as reads: {misregistered}"
    assert {name for name in READS if name in catalog} <= {n for n, s in catalog.items() if s.read_only}


def test_a_read_only_key_of_the_network_admin_sees_no_write_tool_and_is_refused_each(demo_deps, persona):
    admin = persona("network_admin")
    read_only = replace(admin, token_scopes=("sis.read", "audit.read"))
    catalog = load_catalog()
    writes = sorted(name for name, spec in catalog.items() if spec.action is Action.WRITE)
    assert writes, "the catalog has write tools"
    assert not {spec.name for spec in visible_tools(demo_deps, read_only)} & set(writes)
    assert {spec.name for spec in visible_tools(demo_deps, admin)} >= set(writes)


def test_the_gate_every_call_passes_refuses_each_write_to_a_read_only_key(demo_deps, persona):
    """`permitted` is what run_tool asks before any handler runs: checked for every write, not a sample."""
    admin = persona("network_admin")
    read_only = replace(admin, token_scopes=("sis.read",))
    with demo_deps.session_factory() as session:
        scope = build_scope(session, demo_deps.enforcer, admin)
    writes = [spec for spec in load_catalog().values() if spec.action is Action.WRITE]
    assert all(permitted(scope, admin, spec) for spec in writes), "the network admin holds every write"
    allowed = sorted(spec.name for spec in writes if permitted(scope, read_only, spec))
    assert not allowed, f"writes a read-only key may call: {allowed}"


def test_a_write_open_to_every_caller_still_refuses_a_read_only_key(demo_deps, persona):
    """create_api_key has no data class (anyone may make keys for themselves), but not with a read-only key."""
    read_only = replace(persona("registrar_austin"), token_scopes=("sis.read",))
    with pytest.raises(ToolCallError) as refused:
        run_tool(demo_deps, read_only, "create_api_key", {"name": "from a read-only key", "scopes": ["sis.read"]})
    assert refused.value.code == "permission_denied" and "read-only" in refused.value.message
