"""Every role × data class × action, at the granted node, a descendant, a sibling and an ancestor.

The expected decisions come from tests/integration/policies/expected.py (written out by hand);
the Scope, the single-decision path and Casbin itself must all agree with it, on both engines.
"""

from __future__ import annotations

import pytest

from db.models import OrgLevel
from policies.authorize import decide
from policies.enforcer import PolicyEnforcer, default_enforcer
from policies.orgtree import org_index
from policies.scope import Action, DataClass
from tests.factories import create_org
from tests.integration.policies.conftest import persona, scope_of
from tests.integration.policies.expected import ROLES, role_allows

POSITIONS = ("own", "descendant", "sibling", "ancestor")
# One Casbin enforcer with grants as g lines: the slow reference path the fast one must match.
_casbin = PolicyEnforcer()


@pytest.mark.parametrize("data_class", list(DataClass), ids=str)
@pytest.mark.parametrize("role", ROLES)
def test_role_decisions_match_the_matrix_at_every_position(session, role, data_class):
    root = create_org(session, level=OrgLevel.NETWORK)
    own = create_org(session, parent=root, level=OrgLevel.BRAND)
    places = {
        "own": own,
        "descendant": create_org(session, parent=own),
        "sibling": create_org(session, parent=root, level=OrgLevel.BRAND),
        "ancestor": root,
    }
    user, principal = persona(session, (role, own))
    scope = scope_of(session, principal)
    index = org_index(session)
    _casbin.add_grant_line(str(user.id), role, own.path)

    wrong = []
    for action in Action:
        for position in POSITIONS:
            org = places[position]
            expected = role_allows(role, data_class, action) and position in ("own", "descendant")
            answers = {
                "scope": scope.allows_org(org.id, data_class, action),
                "decide": decide(default_enforcer(), index, principal, data_class, action, org.id),
                "casbin": _casbin.enforce(str(user.id), org.path, data_class, action),
            }
            wrong += [
                f"{path}: {action.value} at {position} -> {got}" for path, got in answers.items() if got != expected
            ]
    assert not wrong, f"{role} / {data_class.value} (expected per matrix):\n" + "\n".join(wrong)


def test_the_matrix_covers_every_role_the_policy_knows():
    from policies.enforcer import Role

    assert set(ROLES) == {r.value for r in Role}


def test_nobody_is_granted_audit_write():
    enforcer = default_enforcer()
    assert not any(enforcer.allows(role, DataClass.AUDIT, Action.WRITE) for role in ROLES)
