"""A query-log entry records who asked what, under which scope, why, and which students were disclosed."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select

from db.models import OrgLevel, QueryLog, QueryOutcome
from domain.audit.chain import Chain, canonical, verify_chain
from domain.audit.querylog import REDACTED, is_secret_name, record_query, redact
from domain.audit.search import AuditSearchQuery, search_query_log
from domain.errors import PermissionDenied
from policies.principal import AuthMethod
from tests.factories import create_org
from tests.integration.policies.conftest import persona, scope_of


def test_an_entry_names_the_principal_scope_purpose_and_disclosed_students(session):
    campus = create_org(session)
    _, principal = persona(session, ("nurse", campus))
    principal = replace(principal, auth_method=AuthMethod.API_KEY)
    scope = scope_of(session, principal)
    students = [uuid.uuid4(), uuid.uuid4()]

    logged = record_query(
        session,
        scope.actor,
        capability="find_missing_immunizations",
        scope=scope,
        arguments={"grade": 5, "as_of": "2026-01-15"},
        purpose="state immunization report",
        student_ids=students,
        row_count=2,
        duration_us=4321,
    )
    entry = session.get(QueryLog, logged.seq)

    assert entry.principal_user_id == principal.user_id and entry.principal_email == principal.email
    assert entry.auth_method == "api_key" and entry.roles == ["nurse"]
    assert entry.scope_summary["health:read"] == [campus.path]
    assert entry.policy_version == scope.policy_version and entry.operation_id == scope.actor.operation_id
    assert entry.purpose == "state immunization report"
    assert entry.student_ids_disclosed == sorted(str(s) for s in students)
    assert entry.outcome is QueryOutcome.OK and entry.duration_us == 4321
    assert entry.entry_hash == logged.entry_hash
    assert verify_chain(session, Chain.QUERY_LOG).ok


def test_denials_are_recorded_even_without_a_scope(session):
    campus = create_org(session)
    _, principal = persona(session, ("guide", campus))

    logged = record_query(
        session,
        principal.actor(),
        capability="list_medications",
        outcome=QueryOutcome.DENIED,
        error_code="permission_denied",
        error_message="your roles do not allow read access to health data",
    )
    entry = session.get(QueryLog, logged.seq)
    assert entry.outcome is QueryOutcome.DENIED and entry.error_code == "permission_denied"
    assert entry.roles == [] and entry.student_ids_disclosed == []
    assert verify_chain(session, Chain.QUERY_LOG).ok


def test_sql_statements_are_kept_as_asked_and_as_run(session):
    logged = record_query(
        session,
        principal_actor(),
        capability="run_sql",
        sql_original="select * from students",
        sql_executed="select * from (select ...) as students where org_id in (...)",
    )
    entry = session.get(QueryLog, logged.seq)
    assert entry.sql_original == "select * from students" and entry.sql_executed.startswith("select * from (")


def principal_actor():
    from policies.scope import Actor

    return Actor(user_id=None, label="sql@example.org")


def test_secrets_in_arguments_never_reach_the_log(session):
    key = "sis_live_ab12cd34_" + "x" * 43
    arguments = {
        "password": "hunter2",
        "nested": {"api_key": "k", "note": f"my key is {key}", "cardNumber": "4111111111111111"},
        "Authorization": "Bearer abc",
        "items": [{"token": "t"}, "Bearer xyz"],
        "classname": "5A",
        "student_ssn": "123-45-6789",
        "ratio": 0.5,
    }
    logged = record_query(session, principal_actor(), capability="x", arguments=arguments)
    stored = session.execute(select(QueryLog.arguments).where(QueryLog.seq == logged.seq)).scalar_one()

    assert stored == {
        "password": REDACTED,
        "nested": {"api_key": REDACTED, "note": REDACTED, "cardNumber": REDACTED},
        "Authorization": REDACTED,
        "items": [{"token": REDACTED}, REDACTED],
        "classname": "5A",
        "student_ssn": REDACTED,
        "ratio": "0.5",
    }


def test_secret_names_are_matched_by_word_not_by_accident():
    assert is_secret_name("clientSecret") and is_secret_name("x-api-key") and is_secret_name("pin")
    assert not is_secret_name("classname") and not is_secret_name("opinion") and not is_secret_name("grade")
    assert redact({"limit": 5, "flag": True, "nothing": None}) == {"limit": 5, "flag": True, "nothing": None}


def test_the_canonical_encoding_has_sorted_keys_and_no_floats():
    assert canonical({"b": 1, "a": [2.5, "é"]}) == '{"a":["2.5","é"],"b":1}'.encode()


def test_an_auditor_can_list_who_saw_a_students_records(session):
    root = create_org(session, level=OrgLevel.NETWORK)
    campus = create_org(session, parent=root)
    _, nurse = persona(session, ("nurse", campus))
    _, auditor = persona(session, ("auditor", root))
    _, campus_auditor = persona(session, ("auditor", campus))
    child, other = uuid.uuid4(), uuid.uuid4()
    nurse_scope = scope_of(session, nurse)
    record_query(
        session,
        nurse_scope.actor,
        capability="get_health_record",
        scope=nurse_scope,
        purpose="medication check",
        student_ids=[child],
    )
    record_query(session, nurse_scope.actor, capability="list_allergies", scope=nurse_scope, student_ids=[other])

    by_child = AuditSearchQuery(student_id=child)
    seen = search_query_log(session, scope_of(session, auditor), by_child).query_log
    assert [(d.principal_email, d.capability, d.purpose) for d in seen][:1] == [
        (nurse.email, "get_health_record", "medication check")
    ]
    assert all(d.capability != "list_allergies" for d in seen)
    with pytest.raises(PermissionDenied):
        search_query_log(session, scope_of(session, campus_auditor), by_child)
    with pytest.raises(PermissionDenied):
        search_query_log(session, nurse_scope, by_child)


def test_entries_with_any_text_chain_and_verify_and_the_head_keeps_both_links(session):
    from db.models import AuditChainHead

    scope = scope_of(session, persona(session, ("registrar", create_org(session)))[1])
    entries = [
        record_query(
            session,
            scope.actor,
            capability="search_students",
            scope=scope,
            arguments={"text": text, "seq": 1, "nested": {"é": [1, None, True]}},
            purpose="enrollment verification — ñandú",
        )
        for text in ("Zoë", '"seq":0', "\u0000\t\n", "")
    ]

    head = session.get(AuditChainHead, Chain.QUERY_LOG.value)
    assert [e.seq for e in entries] == list(range(entries[0].seq, entries[0].seq + 4))
    assert head.entry_hash == entries[-1].entry_hash
    assert head.prev_hash == entries[-2].entry_hash
    assert verify_chain(session, Chain.QUERY_LOG).ok
