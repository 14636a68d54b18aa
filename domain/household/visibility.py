"""Which households a caller may see and change, including households whose students attend several campuses.

A household has an org of its own (where the family registered), but its students may attend
other campuses (a sibling transferred; split custody across campuses) and its bills may come
from agreements at those campuses. The rule, applied in SQL:

- a household is **visible** when the caller reads student directory records at its own org
  (a guide only through an assigned student), or may see one of its students, or reads
  financial records at the org of one of its ledger entries or installments;
- inside it the caller sees only what is theirs: the students they may see, contact details
  when they read contact details at the household's org or of one of its students they see,
  a student's billing share with financial access at the household's org or the student's;
- a household-level write of a data class (a guardian, for example) needs that class's write
  at the household's org or at the home campus of one of its students.

So `list_outstanding_balances`, `compute_balance` and `get_household` agree: each campus's
finance officer finds the household through its campus's ledger and sees that campus's part.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, false, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.idset import ids_in
from db.models import Household, HouseholdStudent, Installment, LedgerEntry, Student
from domain.errors import NotFound
from policies.scope import Action, DataClass, Scope


def _whole_campus_orgs(scope: Scope) -> frozenset[uuid.UUID]:
    """Orgs where the caller reads directory records of every student, not only a guide's assigned ones."""
    orgs = scope.orgs(DataClass.DIRECTORY)
    if scope.guide_user_id is None:
        return orgs
    if scope.guide_orgs is None:
        return frozenset()
    return orgs - scope.guide_orgs.get((DataClass.DIRECTORY, Action.READ), frozenset())


def has_student(scope: Scope, data_class: DataClass, action: Action = Action.READ) -> ColumnElement[bool]:
    """Households with a student whose `data_class` records the caller may see (or, for a write, change)."""
    return exists().where(
        HouseholdStudent.household_id == Household.id,
        HouseholdStudent.student_id == Student.id,
        scope.student_filter(data_class, action),
    )


def household_condition(scope: Scope) -> ColumnElement[bool]:
    """The households the caller may see (see the module docstring)."""
    parts: list[ColumnElement[bool]] = [has_student(scope, DataClass.DIRECTORY)]
    whole = _whole_campus_orgs(scope)
    if whole:
        parts.append(ids_in(Household.org_id, whole))
    if scope.can(DataClass.FINANCIAL):
        parts.append(financial_tie(scope))
    return or_(*parts) if parts else false()


def financial_tie(scope: Scope) -> ColumnElement[bool]:
    """Households with a ledger entry or installment at an org in the caller's financial read scope,
    or a student whose financial records the caller may read."""
    return or_(
        exists().where(
            LedgerEntry.household_id == Household.id, scope.org_filter(LedgerEntry.org_id, DataClass.FINANCIAL)
        ),
        exists().where(
            Installment.household_id == Household.id, scope.org_filter(Installment.org_id, DataClass.FINANCIAL)
        ),
        has_student(scope, DataClass.FINANCIAL),
    )


def visible_household(
    session: Session, scope: Scope, household_id: uuid.UUID, *, field: str = "household_id"
) -> Household:
    """The household if the caller may see it.

    Raises:
        NotFound: no such household, or outside the caller's scope.
    """
    household = session.execute(
        select(Household).where(Household.id == household_id, household_condition(scope))
    ).scalar_one_or_none()
    if household is None:
        raise NotFound(f"household {household_id} not found", field=field)
    return household


def may_change(session: Session, scope: Scope, household: Household, data_class: DataClass) -> bool:
    """True when the caller may write `data_class` at the household's org or for one of its students."""
    if scope.allows_org(household.org_id, data_class, Action.WRITE):
        return True
    found = session.execute(
        select(Household.id).where(Household.id == household.id, has_student(scope, data_class, Action.WRITE))
    ).first()
    return found is not None


def contact_visible(session: Session, scope: Scope, households: list[Household]) -> set[uuid.UUID]:
    """Ids of the households whose contact details the caller may read."""
    shown = {h.id for h in households if scope.allows_org(h.org_id, DataClass.CONTACT)}
    rest = [h.id for h in households if h.id not in shown]
    if rest and scope.can(DataClass.CONTACT):
        shown |= set(
            session.execute(
                select(Household.id).where(Household.id.in_(rest), has_student(scope, DataClass.CONTACT))
            ).scalars()
        )
    return shown


def shares_visible(scope: Scope, household: Household, student: Student, action: Action = Action.READ) -> bool:
    """True when the caller may read (or write) the student's billing share in the household."""
    return scope.allows_org(household.org_id, DataClass.FINANCIAL, action) or scope.allows_org(
        student.org_id, DataClass.FINANCIAL, action
    )
