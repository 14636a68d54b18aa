"""Auditors search and verify the audit trails; nobody else can, and a sub-network auditor sees only its subtree."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from db.demo.personas import AUSTIN_PATH
from db.models import Organization, QueryLog
from policies.principal import Grant
from tools.runner import ToolCallError, run_tool


def call(deps, principal, name, args=None):
    try:
        return run_tool(deps, principal, name, args or {}).output.model_dump(mode="json")
    except ToolCallError as err:
        return {"error": err.code, "message": err.message}


def test_only_the_auditor_may_search_the_audit_log(demo_deps, persona):
    assert call(demo_deps, persona("registrar_austin"), "search_audit_log")["error"] == "permission_denied"
    assert "query_log" in call(demo_deps, persona("auditor_network"), "search_audit_log")


def test_the_auditor_finds_calls_by_principal_student_capability_outcome_and_time(demo_deps, persona):
    registrar = persona("registrar_austin")
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    roster = run_tool(demo_deps, registrar, "query_roster", {"grade": 5, "purpose": "class lists"})
    student = roster.student_ids[0]
    call(demo_deps, registrar, "list_outstanding_balances")  # denied: no financial access
    auditor = persona("auditor_network")

    by_email = call(demo_deps, auditor, "search_audit_log", {"principal_email": "registrar.austin@sis.example"})
    assert {e["capability"] for e in by_email["query_log"]} >= {"query_roster", "list_outstanding_balances"}
    by_student = call(demo_deps, auditor, "search_audit_log", {"student_id": student})
    assert [e["capability"] for e in by_student["query_log"]] == ["query_roster"]
    assert by_student["query_log"][0]["purpose"] == "class lists"
    denied = call(demo_deps, auditor, "search_audit_log", {"outcome": "denied", "since": started.isoformat()})
    assert [e["capability"] for e in denied["query_log"]] == ["list_outstanding_balances"]
    later = call(demo_deps, auditor, "search_audit_log", {"since": (started + dt.timedelta(hours=1)).isoformat()})
    assert later["query_log"] == []
    by_capability = call(demo_deps, auditor, "search_audit_log", {"capability": "query_roster"})
    assert all(e["capability"] == "query_roster" for e in by_capability["query_log"])


def test_search_pages_newest_first(demo_deps, persona):
    registrar = persona("registrar_austin")
    for _ in range(3):
        run_tool(demo_deps, registrar, "whoami", {})
    auditor = persona("auditor_network")
    first = call(demo_deps, auditor, "search_audit_log", {"capability": "whoami", "limit": 2})
    assert len(first["query_log"]) == 2 and first["next_offset"] == 2
    seqs = [e["seq"] for e in first["query_log"]]
    assert seqs == sorted(seqs, reverse=True)
    second = call(demo_deps, auditor, "search_audit_log", {"capability": "whoami", "limit": 2, "offset": 2})
    assert second["query_log"] and max(e["seq"] for e in second["query_log"]) < min(seqs)


def test_an_auditor_below_the_network_sees_only_its_subtrees_change_events(demo_deps, persona):
    auditor = persona("auditor_network")
    with demo_deps.session_factory() as s:
        austin = s.execute(select(Organization).where(Organization.path == AUSTIN_PATH)).scalar_one()
        austin_id, austin_path = austin.id, austin.path
    campus_auditor = type(auditor)(
        user_id=auditor.user_id,
        email=auditor.email,
        display_name=auditor.display_name,
        kind=auditor.kind,
        grants=(Grant("auditor", austin_id, austin_path),),
    )
    refused = call(demo_deps, campus_auditor, "search_audit_log")
    assert refused["error"] == "permission_denied" and "change_events" in refused["message"]
    registrar = persona("registrar_austin")
    roster = run_tool(demo_deps, registrar, "query_roster", {}).output.model_dump(mode="json")
    enrollment = roster["items"][0]["enrollment_id"]
    run_tool(
        demo_deps,
        registrar,
        "withdraw_enrollment",
        {"enrollment_id": enrollment, "end_on": "2026-11-20", "reason": "moved away"},
    )
    events = call(demo_deps, campus_auditor, "search_audit_log", {"trail": "change_events"})
    assert events["change_events"]
    assert {e["org_id"] for e in events["change_events"]} == {str(austin_id)}
    network = call(demo_deps, auditor, "search_audit_log", {"trail": "change_events", "capability": "enrollment"})
    assert any(e["entity_id"] == enrollment for e in network["change_events"])


def test_verify_reports_both_chains_intact_then_names_an_altered_entry(demo_deps, persona):
    auditor = persona("auditor_network")
    run_tool(demo_deps, persona("registrar_austin"), "whoami", {})
    verdict = call(demo_deps, auditor, "verify_audit_log")
    assert verdict["ok"] and {c["chain"] for c in verdict["chains"]} == {"query_log", "change_event"}
    with demo_deps.session_factory.begin() as s:
        target = s.execute(select(QueryLog.seq).order_by(QueryLog.seq).limit(1)).scalar_one()
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            s.execute(text("DROP TRIGGER IF EXISTS query_log_no_update"))
        s.execute(text("UPDATE query_log SET purpose = 'rewritten' WHERE seq = :seq"), {"seq": target})
    verdict = call(demo_deps, auditor, "verify_audit_log")
    chain = next(c for c in verdict["chains"] if c["chain"] == "query_log")
    assert not verdict["ok"] and chain["first_broken_seq"] == target
