"""Authorization: the one place that turns a Principal into the Scope a request runs with.

A decision is made once per request, in four steps:

1. What each held role may do comes from Casbin (policies/policy.csv through the enforcer),
   computed once per role and policy version.
2. Where: each grant's org node is expanded to its whole subtree through the org tree index
   (policies/orgtree.py), cached per tree version. An API key's org limit cuts the subtree down.
3. Place rules: financial and admissions data never include a ROSTER_ONLY org; an API key's
   token scopes drop the (data class, action) pairs they do not cover; nobody writes audit.
4. Relationship roles (guide) reach student rows only through a relationship: their orgs are
   recorded in Scope.guide_orgs and Scope.row_filter adds "student is assigned to this guide"
   there, while the same orgs reached through a campus role stay whole.

The result is cached per (principal, tree version, policy version); each request gets it with a
fresh operation id.

A future household-scoped guardian role fits the same shape: add `guardian` to Role with policy
lines (directory, attendance, health read ...), grant it at the campus, and treat it like guide
in step 4 with a different relationship: the Scope carries the guardian's user id and
row_filter admits `student_id IN (students of households where the user is a guardian)`
(household_guardian -> household_student). Org expansion, caching and the SQL predicates are shared.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache

from sqlalchemy.orm import Session

import db.models  # noqa: F401  (every table registered, for the column map)
from db.base import Base
from db.memo import LruMemo
from policies.columns import hidden_columns
from policies.enforcer import FULL_SIS_ONLY, RELATIONSHIP_ROLES, PolicyEnforcer
from policies.orgtree import OrgTreeIndex, org_index
from policies.principal import Principal, token_permissions
from policies.scope import Action, DataClass, Scope

Key = tuple[DataClass, Action]


@dataclass(frozen=True)
class _Decision:
    grants: dict[Key, frozenset[uuid.UUID]]
    guide_orgs: dict[Key, frozenset[uuid.UUID]] | None
    hidden: frozenset[str]
    summary: dict[str, tuple[str, ...]]


@cache
def _all_columns() -> tuple[tuple[str, str], ...]:
    return tuple((t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns)


def _effective_root(index: OrgTreeIndex, grant_org: uuid.UUID, limit_org: uuid.UUID | None) -> uuid.UUID | None:
    """The node whose subtree is the grant's subtree cut by the limit's (in a tree, one or the other)."""
    if limit_org is None:
        return grant_org
    if index.contains(grant_org, limit_org):
        return limit_org
    if index.contains(limit_org, grant_org):
        return grant_org
    return None


def _decide_scope(enforcer: PolicyEnforcer, index: OrgTreeIndex, principal: Principal) -> _Decision:
    token = token_permissions(principal.token_scopes) if principal.token_scopes is not None else None
    full: dict[Key, set[uuid.UUID]] = {}
    related: dict[Key, set[uuid.UUID]] = {}
    paths: dict[Key, set[str]] = {}
    for grant in principal.grants:
        root = _effective_root(index, grant.org_id, principal.org_limit_id)
        if root is None:
            continue
        subtree = index.subtree(root)
        relationship = grant.role in RELATIONSHIP_ROLES
        for key in enforcer.permissions(grant.role):
            if token is not None and key not in token:
                continue
            ids = subtree - index.roster_only_ids if key[0] in FULL_SIS_ONLY else subtree
            if not ids:
                continue
            (related if relationship else full).setdefault(key, set()).update(ids)
            label = index.path(root) or grant.org_path
            paths.setdefault(key, set()).add(f"{label} [assigned students]" if relationship else label)
    keys = set(full) | set(related)
    grants = {k: frozenset(full.get(k, set()) | related.get(k, set())) for k in keys}
    limited = {k: frozenset(ids - full.get(k, set())) for k, ids in related.items()}
    guide_orgs = {k: ids for k, ids in limited.items() if ids} or None
    readable = {dc for (dc, act), ids in grants.items() if act is Action.READ and ids}
    summary = {f"{dc.value}:{act.value}": tuple(sorted(p)) for (dc, act), p in sorted(paths.items())}
    return _Decision(grants, guide_orgs, hidden_columns(readable, _all_columns()), summary)


# Decisions keyed by (principal, tree version, policy version).
_decisions: LruMemo[tuple[Principal, str, str], _Decision] = LruMemo(4096)


def build_scope(
    session: Session,
    enforcer: PolicyEnforcer,
    principal: Principal,
    *,
    operation_id: str | None = None,
    index: OrgTreeIndex | None = None,
    today: dt.date | None = None,
) -> Scope:
    """The Scope `principal` runs with in this request: orgs per data class and action, guide limits, hidden columns."""
    index = index or org_index(session)
    decision = _decisions.get_or_make(
        (principal, index.version, enforcer.version), lambda: _decide_scope(enforcer, index, principal)
    )
    guide = decision.guide_orgs is not None
    return Scope(
        actor=principal.actor(operation_id),
        grants=decision.grants,
        guide_user_id=principal.user_id if guide else None,
        hidden_columns=decision.hidden,
        roles=principal.roles,
        guide_orgs=decision.guide_orgs if guide else None,
        summary=decision.summary,
        policy_version=enforcer.version,
        subtree_of=index.subtree,
        all_orgs=index.all_ids,
        tree_version=index.version,
        today=today,
    )


def decide(
    enforcer: PolicyEnforcer,
    index: OrgTreeIndex,
    principal: Principal,
    data_class: DataClass,
    action: Action,
    org_id: uuid.UUID,
) -> bool:
    """One org-level decision without building a Scope (guides: true at their campus; rows need row_filter)."""
    node = index.by_id.get(org_id)
    if node is None or (data_class in FULL_SIS_ONLY and node.roster_only):
        return False
    if not principal.token_allows(data_class, action):
        return False
    if principal.org_limit_id is not None and not index.contains(principal.org_limit_id, org_id):
        return False
    key = (data_class, action)
    return any(key in enforcer.permissions(g.role) and index.contains(g.org_id, org_id) for g in principal.grants)
