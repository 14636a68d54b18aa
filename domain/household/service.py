"""Households: who belongs (DIRECTORY), how to reach them (CONTACT), who pays what (FINANCIAL).

Which households a caller sees, and which part of each, is domain/household/visibility.py: a
household is visible through its own org, through a student the caller may see, or through its
ledger at a campus in the caller's financial scope; inside it the caller sees the students they
may see, contact details for their campus's families, and shares with financial access.

A student's billing shares across *all* their households sum to exactly 10000 basis points,
including households the caller cannot see: the invariant belongs to the student, not the view.
Changing a share needs financial write at the household's org or the student's; adding a
student to a first household (100%) or at 0% changes nobody's bill and needs only directory write.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Household, HouseholdGuardian, HouseholdStudent, Student, User
from domain.audit.changes import record_changes, record_deletion
from domain.errors import BillingSharesInvalid, DuplicateRecord, NotFound, PermissionDenied
from domain.events import emit_event
from domain.household.rules import FULL_SHARE_BP, validate_shares
from domain.household.schemas import (
    AddStudentToHouseholdInput,
    BillingSharesRead,
    GuardianRead,
    HouseholdRead,
    HouseholdShareRead,
    HouseholdStudentRead,
    RemoveStudentFromHouseholdInput,
)
from domain.household.visibility import (
    contact_visible,
    household_condition,
    shares_visible,
    visible_household,
)
from domain.visibility import visible_student
from policies.scope import Action, DataClass, Scope


def _reads(session: Session, scope: Scope, households: list[Household]) -> list[HouseholdRead]:
    """Read models for households already known to be visible: three queries, however many households."""
    ids = [h.id for h in households]
    guardians: dict[uuid.UUID, list[tuple[HouseholdGuardian, User]]] = {i: [] for i in ids}
    for link, user in session.execute(
        select(HouseholdGuardian, User)
        .join(User, User.id == HouseholdGuardian.user_id)
        .where(HouseholdGuardian.household_id.in_(ids))
        .order_by(HouseholdGuardian.contact_priority, User.display_name, User.id)
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
    with_contact = contact_visible(session, scope, households)

    reads = []
    for h in households:
        contact = h.id in with_contact
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
                        contact_priority=link.contact_priority,
                        may_pick_up=link.may_pick_up,
                        lives_with_student=link.lives_with_student,
                        receives_mail=link.receives_mail,
                        email=user.email if contact else None,
                        phone=user.phone if contact else None,
                        custody_notes=link.custody_notes if contact else None,
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
                        billing_share_bp=member.billing_share_bp if shares_visible(scope, h, s) else None,
                    )
                    for member, s in students[h.id]
                ],
            )
        )
    return reads


def household_read(session: Session, scope: Scope, household: Household) -> HouseholdRead:
    """The read model of one household already known to be visible."""
    return _reads(session, scope, [household])[0]


def get_household(session: Session, scope: Scope, household_id: uuid.UUID) -> HouseholdRead:
    """A household with its guardians and visible students (contact and shares as the scope allows).

    Raises:
        NotFound: no such household, or outside the caller's scope.
    """
    return household_read(session, scope, visible_household(session, scope, household_id))


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
            .where(HouseholdStudent.student_id == student.id, household_condition(scope))
            .order_by(Household.name, Household.id)
        ).scalars()
    )
    return _reads(session, scope, households)


def get_billing_shares(session: Session, scope: Scope, student_id: uuid.UUID) -> BillingSharesRead:
    """The student's billing share in each visible household whose shares the caller may read.

    Raises:
        NotFound: the student is outside the caller's scope.
    """
    student = visible_student(session, scope, student_id)
    rows = session.execute(
        select(Household, HouseholdStudent.billing_share_bp)
        .join(HouseholdStudent, HouseholdStudent.household_id == Household.id)
        .where(HouseholdStudent.student_id == student.id, household_condition(scope))
        .order_by(Household.id)
    )
    return BillingSharesRead(
        student_id=student.id,
        shares=[
            HouseholdShareRead(household_id=h.id, household_name=h.name, billing_share_bp=share)
            for h, share in rows
            if shares_visible(scope, h, student)
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

    Only a share that changes needs financial write (at the household's org or the student's).

    Raises:
        NotFound: a named household does not exist or is outside the caller's scope.
        BillingSharesInvalid: a named household does not contain the student, or the shares are invalid.
        PermissionDenied: the caller may not write financial data for a share that changes.
    """
    named = sorted(shares)
    visible = set(
        session.execute(select(Household.id).where(Household.id.in_(named), household_condition(scope))).scalars()
    )
    for household_id in named:
        if household_id not in visible:
            raise NotFound(f"household {household_id} not found", field="shares")
        if household_id not in current:
            raise BillingSharesInvalid(
                f"household {household_id} does not contain student {student.id}; add the student first",
                field="shares",
            )
    final = {household_id: shares.get(household_id, share) for household_id, (share, _) in current.items()}
    validate_shares(final)
    for household_id in named:
        share, household = current[household_id]
        if final[household_id] != share and not shares_visible(scope, household, student, Action.WRITE):
            raise PermissionDenied(
                f"your role may not change billing shares of household {household_id} (financial records); "
                "ask a finance officer, or add the student at 0% and let finance set the split",
                field="shares",
            )
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


def _writable_member(
    session: Session, scope: Scope, household_id: uuid.UUID, student_id: uuid.UUID
) -> tuple[Household, Student]:
    """The visible household and the student whose directory records the caller may change.

    Raises:
        NotFound: the household or the student is outside the caller's scope.
        PermissionDenied: the caller may not change the student's directory records.
    """
    household = visible_household(session, scope, household_id)
    student = visible_student(session, scope, student_id)
    if not scope.allows_org(student.org_id, DataClass.DIRECTORY, Action.WRITE):
        raise PermissionDenied("your role may not change this student's households", field="student_id")
    return household, student


def _membership_event(session: Session, kind: str, household: Household, student: Student) -> None:
    """A household.student_added / student_removed event (ids only: no contact or financial data)."""
    emit_event(
        session,
        event_type=f"household.{kind}",
        org_id=household.org_id,
        payload={"household_id": household.id, "student_id": student.id, "student_org_id": student.org_id},
    )


def add_student_to_household(session: Session, scope: Scope, data: AddStudentToHouseholdInput) -> HouseholdRead:
    """Add a student to a household; joining a second household takes the shares for all in the same call.

    Raises:
        NotFound: the household, the student or a named household is outside the caller's scope.
        PermissionDenied: the caller may not change the student's households or a share that changes.
        DuplicateRecord: the student already belongs to the household.
        BillingSharesInvalid: shares are missing for a second household, or invalid (see set_billing_shares).
    """
    household, student = _writable_member(session, scope, data.household_id, data.student_id)
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
                f"for this household and any whose share changes, summing to {FULL_SHARE_BP} basis points "
                f"(or {{{household.id}: 0}} to add the student without changing who pays)",
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
    record_changes(session, scope, member, reason=data.reason, org_id=household.org_id)
    _membership_event(session, "student_added", household, student)
    session.flush()
    return household_read(session, scope, household)


def remove_student_from_household(
    session: Session, scope: Scope, data: RemoveStudentFromHouseholdInput
) -> HouseholdRead:
    """Take a student out of a household; the shares of the households they keep must still sum to 10000.

    Removing the student's last household leaves them with none (nothing is billed to anyone new).

    Raises:
        NotFound: the household, the student or a named household is outside the caller's scope, or the
            student is not in the household.
        PermissionDenied: the caller may not change the student's households or a share that changes.
        BillingSharesInvalid: the remaining shares would not sum to 10000, or name the household left.
    """
    household, student = _writable_member(session, scope, data.household_id, data.student_id)
    memberships = _memberships(session, student.id)
    if household.id not in memberships:
        raise NotFound(f"student {student.id} is not in household {household.id}", field="student_id")
    leaving, _ = memberships.pop(household.id)
    shares = dict(data.shares or {})
    if household.id in shares:
        raise BillingSharesInvalid(
            f"shares must name only the households the student keeps, not {household.id}", field="shares"
        )
    if memberships:
        if leaving.billing_share_bp and not shares:
            raise BillingSharesInvalid(
                f"household {household.id} pays {leaving.billing_share_bp} basis points of the student's bills; "
                f"give shares for the households the student keeps, summing to {FULL_SHARE_BP}",
                field="shares",
            )
        current = {hid: (member.billing_share_bp, h) for hid, (member, h) in memberships.items()}
        final = _checked_shares(session, scope, student, current, shares)
        for household_id, (member, _) in sorted(memberships.items()):
            _store_share(session, scope, member, final[household_id], data.reason)
    elif shares:
        raise BillingSharesInvalid("the student keeps no other household; leave shares empty", field="shares")
    record_deletion(session, scope, leaving, reason=data.reason, org_id=household.org_id)
    session.delete(leaving)
    _membership_event(session, "student_removed", household, student)
    session.flush()
    return household_read(session, scope, household)
