"""The Casbin enforcer over policies/model.conf and policies/policy.csv, and the role permission cache.

Casbin stays the reviewed source of truth for what each role may do. Because a naive
enforce() walks every policy line (and, with pattern domains, every grant), it is consulted
once per role when the policy is loaded; requests then use the cached permission sets and the
org tree index (policies/orgtree.py) instead of asking Casbin again.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from pathlib import Path

import casbin

from policies.scope import Action, DataClass

POLICY_DIR = Path(__file__).parent
MODEL_PATH = POLICY_DIR / "model.conf"
POLICY_PATH = POLICY_DIR / "policy.csv"

Permission = tuple[DataClass, Action]


class Role(enum.StrEnum):
    NETWORK_ADMIN = "network_admin"
    CAMPUS_DIRECTOR = "campus_director"
    REGISTRAR = "registrar"
    NURSE = "nurse"
    FINANCE = "finance"
    GUIDE = "guide"
    ADMISSIONS = "admissions"
    AUDITOR = "auditor"
    INTEGRATION = "integration"


# Roles whose student-level access is limited to related students (see policies/authorize.py).
RELATIONSHIP_ROLES = frozenset({Role.GUIDE})
# Data classes that exist only at FULL_SIS orgs (billing and admissions run elsewhere for ROSTER_ONLY).
FULL_SIS_ONLY = frozenset({DataClass.FINANCIAL, DataClass.ADMISSIONS})
# The audit trails are written by the system only; a policy granting this is refused.
FORBIDDEN = frozenset({(DataClass.AUDIT, Action.WRITE)})


class PolicyError(Exception):
    """The policy files are inconsistent with the roles, data classes or rules the code relies on."""


def org_path_match(path: str, pattern: str) -> bool:
    """Path-segment match: "/a/b/**" matches "/a/b/" and "/a/b/c/" but not "/a/bc/"; else equality."""
    segments = [s for s in path.strip("/").split("/") if s]
    wanted = [s for s in pattern.strip("/").split("/") if s]
    if wanted and wanted[-1] == "**":
        head = wanted[:-1]
        return segments[: len(head)] == head
    return segments == wanted


def grant_domain(org_path: str) -> str:
    """The Casbin domain pattern of a grant at `org_path`: the node and its whole subtree."""
    return f"{org_path.rstrip('/')}/**"


class PolicyEnforcer:
    """A loaded policy: the Casbin enforcer plus each role's permissions, computed once through it."""

    def __init__(self, model_path: Path = MODEL_PATH, policy_path: Path = POLICY_PATH) -> None:
        model_text = model_path.read_bytes()
        policy_text = policy_path.read_bytes()
        self.version = hashlib.sha256(model_text + b"\x00" + policy_text).hexdigest()[:16]
        self.casbin = casbin.Enforcer(str(model_path), str(policy_path))
        self.casbin.add_named_domain_matching_func("g", org_path_match)
        self._validate()
        self._permissions: dict[str, frozenset[Permission]] = {
            role.value: self._ask_casbin(role.value) for role in Role
        }

    def _validate(self) -> None:
        classes = {d.value for d in DataClass}
        actions = {a.value for a in Action}
        named: set[str] = set()
        for sub, obj, act, eft in self.casbin.get_policy():
            if sub not in {r.value for r in Role}:
                raise PolicyError(f"policy line for unknown role {sub!r}")
            if obj not in classes or act not in actions or eft not in ("allow", "deny"):
                raise PolicyError(f"policy line ({sub}, {obj}, {act}, {eft}) names an unknown class, action or effect")
            named.add(sub)
        missing = {r.value for r in Role} - named
        if missing:
            raise PolicyError(f"roles without any policy line: {', '.join(sorted(missing))}")

    def _ask_casbin(self, role: str) -> frozenset[Permission]:
        allowed = frozenset(
            (dc, act) for dc in DataClass for act in Action if self.casbin.enforce(role, "/", dc.value, act.value)
        )
        forbidden = allowed & FORBIDDEN
        if forbidden:
            raise PolicyError(f"role {role!r} may not be granted {sorted(forbidden)}: the audit trail is append-only")
        return allowed

    def permissions(self, role: str) -> frozenset[Permission]:
        """What `role` may do anywhere it is granted; empty for a role the policy does not know."""
        return self._permissions.get(role, frozenset())

    def allows(self, role: str, data_class: DataClass, action: Action) -> bool:
        """True when `role` may perform `action` on `data_class`."""
        return (data_class, action) in self.permissions(role)

    def enforce(self, subject: str, org_path: str, data_class: DataClass, action: Action) -> bool:
        """Ask Casbin directly (grants must have been added as g lines): the slow reference path."""
        return bool(self.casbin.enforce(subject, org_path, data_class.value, action.value))

    def add_grant_line(self, subject: str, role: str, org_path: str) -> None:
        """Add a grant as a Casbin g line (for the reference path in tests and benchmarks)."""
        self.casbin.add_role_for_user_in_domain(subject, role, grant_domain(org_path))


@functools.cache
def default_enforcer() -> PolicyEnforcer:
    """The enforcer over the packaged policy files, loaded once per process."""
    return PolicyEnforcer()
