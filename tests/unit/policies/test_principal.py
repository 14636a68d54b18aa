"""Token scopes narrow what a credential may do; they are a closed list."""

from __future__ import annotations

import uuid

import pytest

from policies.principal import Grant, Principal, PrincipalKind, UnknownTokenScope, token_permissions
from policies.scope import Action, DataClass


def _principal(**kw: object) -> Principal:
    grant = Grant("registrar", uuid.uuid4(), "/a/")
    return Principal(uuid.uuid4(), "r@example.org", "R", PrincipalKind.USER, (grant,), **kw)  # type: ignore[arg-type]


def test_roster_readonly_allows_only_directory_reads():
    assert token_permissions(("roster.readonly",)) == {(DataClass.DIRECTORY, Action.READ)}


def test_sis_scopes_never_include_audit_and_audit_read_is_separate():
    assert not any(dc is DataClass.AUDIT for dc, _ in token_permissions(("sis.read", "sis.write")))
    assert token_permissions(("audit.read",)) == {(DataClass.AUDIT, Action.READ)}


def test_unknown_scope_is_rejected():
    with pytest.raises(UnknownTokenScope):
        token_permissions(("sis.everything",))


def test_principal_without_a_token_is_not_narrowed_and_is_hashable():
    principal = _principal()
    assert principal.token_allows(DataClass.HEALTH, Action.WRITE)
    assert not _principal(token_scopes=("sis.read",)).token_allows(DataClass.HEALTH, Action.WRITE)
    assert hash(principal) == hash(principal)
    assert principal.actor().label == "r@example.org"
