"""Households: who belongs (DIRECTORY), how to reach them (CONTACT), who pays what (FINANCIAL).

A household is visible when its org is in the caller's DIRECTORY scope; a guide additionally
sees only households of assigned students, and only the visible students inside them. Guardian
emails, phones and the household address appear only with CONTACT access at the household's
org; billing shares only with FINANCIAL access there.

A student's billing shares across *all* their households sum to exactly 10000 basis points,
including households the caller cannot see: the invariant belongs to the student, not the view.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Household, HouseholdGuardian, HouseholdStudent, Student, User
from domain.audit.changes import record_changes
from domain.errors import BillingSharesInvalid, DuplicateRecord, NotFound, PermissionDenied
from domain.household.rules import FULL_SHARE_BP, validate_shares
from domain.household.schemas import (
    AddStudentToHouseholdInput,
    BillingSharesRead,
    GuardianRead,
    HouseholdRead,
    HouseholdShareRead,
    HouseholdStudentRead,
)
from domain.visibility import visible_student
from policies.scope import Action, DataClass, Scope


def _household_visible(scope: Scope) -> ColumnElement[bool]:
    """Households in the caller's DIRECTORY scope; a guide sees them through a student they may see."""
    in_orgs = scope.org_filter(Household.org_id, DataClass.DIRECTORY)
    if scope.guide_user_id is None:
        return in_orgs
    # row_filter knows where the guide role limits the caller to assigned students and where it does not.
    through_student = exists().where(
        HouseholdStudent.household_id == Household.id,
        scope.row_filter(Household.org_id, HouseholdStudent.student_id, DataClass.DIRECTORY),
    )
    return and_(in_orgs, through_student)


def _visible_household(session: Session, scope: Scope, household_id: uuid.UUID) -> Household:
    """The household if the caller may see it.

    Raises:
        NotFound: no such household, or outside the caller's scope.
    """
    household = session.execute(
        select(Household).where(Household.id == household_id, _household_visible(scope))
    ).scalar_one_or_none()
    if household is None:
        raise NotFound(f"household {household_id} not found", field="household_id")
    return household


def _reads(session: Session, scope: Scope, households: list[Household]) -> list[HouseholdRead]:
    """Read models for households already known to be visible: two queries, however many households."""
    ids = [h.id for h in households]
    guardians: dict[uuid.UUID, list[tuple[HouseholdGuardian, User]]] = {i: [] for i in ids}
    for link, user in session.execute(
        select(HouseholdGuardian, User)
        .join(User, User.id == HouseholdGuardian.user_id)
        .where(HouseholdGuardian.household_id.in_(ids))
        .order_by(HouseholdGuardian.is_primary.desc(), User.display_name, User.id)
    ):
        guardians[link.household_id].append((link, user))
    students: dict[uuid.UUID, list[tuple[HouseholdStudent, Student]]] = {i: [] for i in ids}
    for member, student in session.execute(
        select(HouseholdStudent, Student)
        .join(Student, Student.id == HouseholdStudent.student_id)
        .where(HouseholdStudent.household_id.in_(ids), scope.student_filter(DataClass.DIRECTORY))
        .order_by(Student.last_name, Student.first_name, Student.student_number)
    ):
        students[member.household_id].append((member, student))

    reads = []
    for h in households:
        contact = scope.allows_org(h.org_id, DataClass.CONTACT)
        financial = scope.allows_org(h.org_id, DataClass.FINANCIAL)
        reads.append(
            HouseholdRead(
                id=h.id,
                org_id=h.org_id,
                name=h.name,
                address=h.address if contact else None,
                guardians=[
                    GuardianRead(
                        user_id=user.id,
                        display_name=user.display_name,
                        relationship=link.relationship,
                        is_primary=link.is_primary,
                        email=user.email if contact else None,
                        phone=user.phone if contact else None,
                    )
                    for link, user in guardians[h.id]
                ],
                students=[
                    HouseholdStudentRead(
                        student_id=s.id,
                        student_number=s.student_number,
                        first_name=s.first_name,
                        last_name=s.last_name,
                        grade_level=s.grade_level,
                        billing_share_bp=member.billing_share_bp if financial else None,
                    )
                    for member, s in students[h.id]
                ],
            )
        )
    return reads


def get_household(session: Session, scope: Scope, household_id: uuid.UUID) -> HouseholdRead:
    """A household with its guardians and visible students (contact and shares as the scope allows).

    Raises:
        NotFound: no such household, or outside the caller's scope.
    """
    return _reads(session, scope, [_visible_household(session, scope, household_id)])[0]


def list_households_for_student(session: Session, scope: Scope, student_id: uuid.UUID) -> list[HouseholdRead]:
    """The visible households a student belongs to (two for split custody), by name.

    Raises:
        NotFound: the student is outside the caller's scope.
    """
    student = visible_student(session, scope, student_id)
    households = list(
        session.execute(
            select(Household)
            .join(HouseholdStudent, HouseholdStudent.household_id == Household.id)
            .where(HouseholdStudent.student_id == student.id, _household_visible(scope))
            .order_by(Household.name, Household.id)
        ).scalars()
    )
    return _reads(session, scope, households)


def get_billing_shares(session: Session, scope: Scope, student_id: uuid.UUID) -> BillingSharesRead:
    """The student's billing share in each household the caller may see financial data of.

    Raises:
        NotFound: the student is outside the caller's scope.
    """
    student = visible_student(session, scope, student_id)
    rows = session.execute(
        select(Household, HouseholdStudent.billing_share_bp)
        .join(HouseholdStudent, HouseholdStudent.household_id == Household.id)
        .where(
            HouseholdStudent.student_id == student.id,
            _household_visible(scope),
            scope.org_filter(Household.org_id, DataClass.FINANCIAL),
        )
        .order_by(Household.id)
    )
    return BillingSharesRead(
        student_id=student.id,
        shares=[
            HouseholdShareRead(household_id=h.id, household_name=h.name, billing_share_bp=share) for h, share in rows
        ],
    )


def _memberships(session: Session, student_id: uuid.UUID) -> dict[uuid.UUID, tuple[HouseholdStudent, Household]]:
    """Every household of the student, visible or not: the share invariant spans them all."""
    rows = session.execute(
        select(HouseholdStudent, Household)
        .join(Household, Household.id == HouseholdStudent.household_id)
        .where(HouseholdStudent.student_id == student_id)
    )
    return {member.household_id: (member, household) for member, household in rows}


def _checked_shares(
    session: Session,
    scope: Scope,
    student: Student,
    current: Mapping[uuid.UUID, tuple[int, Household]],
    shares: Mapping[uuid.UUID, int],
) -> dict[uuid.UUID, int]:
    """The student's share per household after applying `shares` to `current`, once valid and allowed.

    Raises:
        NotFound: a named household does not exist or is outside the caller's scope.
        BillingSharesInvalid: a named household does not contain the student, or the shares are invalid.
        PermissionDenied: the caller may not write financial data of a named household.
    """
    named = sorted(shares)
    visible = set(
        session.execute(select(Household.id).where(Household.id.in_(named), _household_visible(scope))).scalars()
    )
    for household_id in named:
        if household_id not in visible:
            raise NotFound(f"household {household_id} not found", field="shares")
        if household_id not in current:
            raise BillingSharesInvalid(
                f"household {household_id} does not contain student {student.id}; add the student first",
                field="shares",
            )
    for household_id in named:
        if not scope.allows_org(current[household_id][1].org_id, DataClass.FINANCIAL, Action.WRITE):
            raise PermissionDenied(f"you may not change billing shares of household {household_id}", field="shares")
    final = {household_id: shares.get(household_id, share) for household_id, (share, _) in current.items()}
    validate_shares(final)
    return final


def _store_share(session: Session, scope: Scope, member: HouseholdStudent, share: int, reason: str | None) -> None:
    """Set one membership's share, with its change event, when it differs."""
    if member.billing_share_bp != share:
        member.billing_share_bp = share
        record_changes(session, scope, member, reason=reason)


def set_billing_shares(
    session: Session,
    scope: Scope,
    student_id: uuid.UUID,
    shares: Mapping[uuid.UUID, int],
    *,
    reason: str | None = None,
) -> BillingSharesRead:
    """Change a student's billing shares; households left out keep theirs, and all must sum to 10000.

    Raises:
        NotFound: the student or a named household is outside the caller's scope.
        BillingSharesInvalid: a household does not contain the student, a share is out of 0..10000,
            or the shares across all the student's households do not sum to 10000 (the message says the sum).
        PermissionDenied: the caller may not write financial data of a named household.
    """
    student = visible_student(session, scope, student_id)
    memberships = _memberships(session, student.id)
    current = {hid: (member.billing_share_bp, household) for hid, (member, household) in memberships.items()}
    final = _checked_shares(session, scope, student, current, shares)
    for household_id, (member, _) in sorted(memberships.items()):
        _store_share(session, scope, member, final[household_id], reason)
    session.flush()
    return get_billing_shares(session, scope, student.id)


def add_student_to_household(session: Session, scope: Scope, data: AddStudentToHouseholdInput) -> HouseholdRead:
    """Add a student to a household; joining a second household requires billing shares for all.

    Raises:
        NotFound: the household, the student or a named household is outside the caller's scope.
        PermissionDenied: the caller may not change the household's membership or a named share.
        DuplicateRecord: the student already belongs to the household.
        BillingSharesInvalid: shares are missing for a second household, or invalid (see set_billing_shares).
    """
    household = _visible_household(session, scope, data.household_id)
    student = visible_student(session, scope, data.student_id)
    if not scope.allows_org(household.org_id, DataClass.DIRECTORY, Action.WRITE):
        raise PermissionDenied("you may not change this household's members", field="household_id")
    memberships = _memberships(session, student.id)
    if household.id in memberships:
        raise DuplicateRecord(f"student {student.id} already belongs to household {household.id}", field="student_id")

    if not memberships and data.shares is None:
        # A student's only household pays everything; no financial decision is being made.
        final = {household.id: FULL_SHARE_BP}
    else:
        if data.shares is None:
            raise BillingSharesInvalid(
                f"student {student.id} already belongs to {len(memberships)} other household(s); give shares "
                f"for this household and any whose share changes, summing to {FULL_SHARE_BP} basis points",
                field="shares",
            )
        if household.id not in data.shares:
            raise BillingSharesInvalid(
                f"shares must include household {household.id}, which the student joins", field="shares"
            )
        current: dict[uuid.UUID, tuple[int, Household]] = {
            hid: (member.billing_share_bp, h) for hid, (member, h) in memberships.items()
        }
        current[household.id] = (0, household)
        final = _checked_shares(session, scope, student, current, data.shares)

    for household_id, (member, _) in sorted(memberships.items()):
        _store_share(session, scope, member, final[household_id], data.reason)
    member = HouseholdStudent(
        id=uuid.uuid4(), household_id=household.id, student_id=student.id, billing_share_bp=final[household.id]
    )
    session.add(member)
    record_changes(session, scope, member, reason=data.reason)
    session.flush()
    return _reads(session, scope, [household])[0]
