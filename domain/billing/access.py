"""Where billing applies and who may see it: the FULL_SIS check and the financial visibility of billing rows.

Only FULL_SIS orgs bill; asking about a ROSTER_ONLY org's enrollment is NotApplicable. An
enrollment, offering or household is found only when visible, and its money only within the
caller's financial scope at its own org (out of scope looks like not found, as in
domain/visibility.py, which answers for students and org subtrees).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Enrollment, Household, Organization, OrgKind, ProgramOffering
from domain.errors import NotApplicable, NotFound, PermissionDenied
from domain.household.visibility import financial_tie, household_condition
from domain.visibility import visible_enrollment
from policies.scope import Action, DataClass, Scope


def _ancestor_paths(path: str) -> list[str]:
    """'/a/b/c/' -> ['/a/', '/a/b/', '/a/b/c/'] (materialized paths of the org and its ancestors)."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def ancestors(session: Session, org_id: uuid.UUID) -> list[Organization]:
    """The org and its ancestors, nearest first."""
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"organization {org_id} not found", field="org_id")
    rows = session.execute(select(Organization).where(Organization.path.in_(_ancestor_paths(org.path)))).scalars()
    return sorted(rows, key=lambda o: -len(o.path))


def require_full_sis(session: Session, org_id: uuid.UUID) -> list[Organization]:
    """The org's ancestry (nearest first), when billing applies there.

    Raises:
        NotApplicable: the org or an ancestor is ROSTER_ONLY (its billing runs elsewhere).
    """
    chain = ancestors(session, org_id)
    roster = next((o for o in chain if o.kind is OrgKind.ROSTER_ONLY), None)
    if roster is not None:
        raise NotApplicable(
            f"billing does not apply at {chain[0].name}: {roster.name} is a roster-only organization whose "
            "billing is handled outside the SIS"
        )
    return chain


def check_financial(scope: Scope, org_id: uuid.UUID, action: Action, what: str, field: str) -> None:
    """Raise NotFound when the caller cannot read financial data at the org, PermissionDenied when it cannot write."""
    if not scope.allows_org(org_id, DataClass.FINANCIAL, Action.READ):
        raise NotFound(f"{what} not found", field=field)
    if action is Action.WRITE and not scope.allows_org(org_id, DataClass.FINANCIAL, Action.WRITE):
        raise PermissionDenied("your role may not change financial records here", field=field)


def enrollment_for(session: Session, scope: Scope, enrollment_id: uuid.UUID, action: Action) -> Enrollment:
    """The enrollment, when visible, billable and within the caller's financial scope.

    Raises:
        NotFound, NotApplicable, PermissionDenied.
    """
    enrollment = visible_enrollment(session, scope, enrollment_id)
    require_full_sis(session, enrollment.org_id)
    check_financial(scope, enrollment.org_id, action, f"enrollment {enrollment_id}", "enrollment_id")
    return enrollment


def offering_for(session: Session, scope: Scope, offering_id: uuid.UUID) -> ProgramOffering:
    """The offering, when visible, billable and within the caller's financial scope.

    Raises:
        NotFound, NotApplicable.
    """
    offering = session.execute(
        select(ProgramOffering).where(
            ProgramOffering.id == offering_id, scope.org_filter(ProgramOffering.org_id, DataClass.DIRECTORY)
        )
    ).scalar_one_or_none()
    if offering is None:
        raise NotFound(f"offering {offering_id} not found", field="offering_id")
    require_full_sis(session, offering.org_id)
    check_financial(scope, offering.org_id, Action.READ, f"offering {offering_id}", "offering_id")
    return offering


def household_for(session: Session, scope: Scope, household_id: uuid.UUID, action: Action) -> Household:
    """The household, when visible (domain/household/visibility.py) and the caller reads financial records of it.

    A household whose students attend several campuses is found by each campus's finance officer
    (through its ledger or a student there); its amounts are then cut to the caller's financial
    scope by the callers (entries and installments carry their own org). A write still needs
    financial write at the household's own org.

    Raises:
        NotFound, NotApplicable, PermissionDenied.
    """
    household = session.execute(
        select(Household).where(Household.id == household_id, household_condition(scope))
    ).scalar_one_or_none()
    if household is None:
        raise NotFound(f"household {household_id} not found", field="household_id")
    if scope.allows_org(household.org_id, DataClass.DIRECTORY):
        require_full_sis(session, household.org_id)
    if not scope.allows_org(household.org_id, DataClass.FINANCIAL):
        tied = session.execute(select(Household.id).where(Household.id == household.id, financial_tie(scope)))
        if tied.first() is None:
            raise NotFound(f"household {household_id} not found", field="household_id")
    if action is Action.WRITE and not scope.allows_org(household.org_id, DataClass.FINANCIAL, Action.WRITE):
        raise PermissionDenied("your role may not change financial records of this household", field="household_id")
    return household
