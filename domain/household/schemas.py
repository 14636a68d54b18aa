"""Inputs and read models of the household area."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class GuardianRead(BaseModel):
    user_id: uuid.UUID
    display_name: str
    relationship: str = Field(description="e.g. 'mother', 'father', 'grandparent', 'guardian'.")
    is_primary: bool
    email: str | None = Field(description="Null unless the caller may read contact details.")
    phone: str | None = Field(description="Null unless the caller may read contact details.")


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
    household_id: uuid.UUID = Field(description="The household (from list_households_for_student or get_household).")
    student_id: uuid.UUID = Field(description="The student to add (from search_students).")
    shares: dict[uuid.UUID, int] | None = Field(
        default=None,
        description="Required when the student already belongs to a household: household id -> basis points "
        "for the new household and any household whose share changes; all must sum to 10000.",
    )
    reason: str | None = Field(default=None, max_length=300, description="Why the student is added (audit).")
