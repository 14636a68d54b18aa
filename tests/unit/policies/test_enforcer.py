"""The policy files load, name only known roles and classes, and never grant audit writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.enforcer import MODEL_PATH, PolicyEnforcer, PolicyError, Role, default_enforcer, org_path_match
from policies.scope import Action, DataClass


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("/a/b/", "/a/b/**", True),
        ("/a/b/c/", "/a/b/**", True),
        ("/a/bc/", "/a/b/**", False),
        ("/a/", "/a/b/**", False),
        ("/a/b/", "/a/b/", True),
        ("/a/b/c/", "/a/b/", False),
        ("/x/a/b/", "/a/b/**", False),
        ("/", "/**", True),
    ],
)
def test_org_paths_match_whole_segments(path, pattern, matches):
    assert org_path_match(path, pattern) is matches


def test_every_role_has_permissions_from_the_policy():
    enforcer = default_enforcer()
    assert all(enforcer.permissions(role) for role in Role)
    assert enforcer.permissions("no_such_role") == frozenset()


def _policy(tmp_path: Path, lines: str) -> PolicyEnforcer:
    policy = tmp_path / "policy.csv"
    policy.write_text(lines)
    return PolicyEnforcer(MODEL_PATH, policy)


def _every_role_reads_directory() -> str:
    return "".join(f"p, {role.value}, directory, read, allow\n" for role in Role)


def test_a_policy_granting_audit_write_is_refused(tmp_path):
    with pytest.raises(PolicyError, match="append-only"):
        _policy(tmp_path, _every_role_reads_directory() + "p, auditor, audit, write, allow\n")


def test_a_policy_naming_an_unknown_role_or_class_is_refused(tmp_path):
    with pytest.raises(PolicyError, match="unknown role"):
        _policy(tmp_path, _every_role_reads_directory() + "p, janitor, directory, read, allow\n")
    with pytest.raises(PolicyError, match="unknown class"):
        _policy(tmp_path, _every_role_reads_directory() + "p, nurse, grades, read, allow\n")


def test_a_role_left_out_of_the_policy_is_refused(tmp_path):
    with pytest.raises(PolicyError, match="without any policy line"):
        _policy(tmp_path, "p, nurse, health, read, allow\n")


def test_a_deny_line_overrides_an_allow(tmp_path):
    enforcer = _policy(tmp_path, _every_role_reads_directory() + "p, nurse, directory, read, deny\n")
    assert not enforcer.allows("nurse", DataClass.DIRECTORY, Action.READ)
    assert enforcer.allows("registrar", DataClass.DIRECTORY, Action.READ)


def test_the_policy_version_changes_with_the_policy_text(tmp_path):
    first = _policy(tmp_path, _every_role_reads_directory())
    second = _policy(tmp_path, _every_role_reads_directory() + "p, nurse, health, read, allow\n")
    assert first.version != second.version
