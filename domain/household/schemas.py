"""Inputs and read models of the household area."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class GuardianRead(BaseModel):
    user_id: uuid.UUID
    display_name: str
    relationship: str = Field(description="e.g. 'mother', 'father', 'grandparent', 'guardian'.")
    is_primary: bool = Field(description="True for the first person to call (contact_priority 1).")
    contact_priority: int = Field(description="The order staff call guardians in: 1 = first.")
    may_pick_up: bool = Field(description="May collect the household's students from school.")
    lives_with_student: bool
    receives_mail: bool = Field(description="Receives report cards, letters and bills by mail.")
    email: str | None = Field(description="Null unless the caller may read contact details.")
    phone: str | None = Field(description="Null unless the caller may read contact details.")
    custody_notes: str | None = Field(
        default=None,
        description="Court orders or custody arrangements; null unless the caller may read contact details.",
    )


class HouseholdStudentRead(BaseModel):
    student_id: uuid.UUID
    student_number: int
    first_name: str
    last_name: str
    grade_level: int
    billing_share_bp: int | None = Field(
        description="This household's share of the student's bills in basis points (10000 = 100%); "
        "null unless the caller may read financial data."
    )


class HouseholdRead(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    address: str | None = Field(description="Null unless the caller may read contact details.")
    guardians: list[GuardianRead]
    students: list[HouseholdStudentRead] = Field(description="Students of the household visible to the caller.")


class HouseholdShareRead(BaseModel):
    household_id: uuid.UUID
    household_name: str
    billing_share_bp: int


class BillingSharesRead(BaseModel):
    student_id: uuid.UUID
    shares: list[HouseholdShareRead] = Field(description="The student's visible households and their shares.")


class SetBillingSharesInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student whose bills are split (from search_students).")
    shares: dict[uuid.UUID, int] = Field(
        description="Household id -> share in basis points (5000 = 50%). Households left out keep their "
        "share; the student's shares across all households must sum to 10000."
    )
    reason: str | None = Field(default=None, max_length=300, description="Why the split changes (audit).")


class AddStudentToHouseholdInput(BaseModel):
    household_id: uuid.UUID = Field(description="The household (from create_household or get_household).")
    student_id: uuid.UUID = Field(description="The student to add (from search_students).")
    shares: dict[uuid.UUID, int] | None = Field(
        default=None,
        description="Required when the student already belongs to a household: household id -> basis points "
        "for the new household and any household whose share changes; all must sum to 10000. "
        "{new household id: 0} adds the student without changing who pays (no financial access needed).",
    )
    reason: str | None = Field(default=None, max_length=300, description="Why the student is added (audit).")


class RemoveStudentFromHouseholdInput(BaseModel):
    household_id: uuid.UUID = Field(description="The household (from get_household or list_households_for_student).")
    student_id: uuid.UUID = Field(description="The student to remove (from get_household's students).")
    shares: dict[uuid.UUID, int] | None = Field(
        default=None,
        description="Required when the student keeps other households and this one paid a share: household id -> "
        "basis points for the remaining households, summing to 10000.",
    )
    reason: str | None = Field(default=None, max_length=300, description="Why the student leaves (audit).")
