"""Inputs and read models of the household writes: households, guardians, emergency contacts."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from domain.household.rules import normalized_email, normalized_phone
from domain.household.schemas import HouseholdRead

Relationship = Literal[
    "mother",
    "father",
    "stepmother",
    "stepfather",
    "grandmother",
    "grandfather",
    "grandparent",
    "aunt",
    "uncle",
    "sibling",
    "foster_parent",
    "guardian",
    "other",
]

MAX_EMERGENCY_CONTACTS = 10


def _text(value: str | None) -> str | None:
    """Trimmed text; blank is refused (a field left out is None, not '')."""
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


class CreateHouseholdInput(BaseModel):
    org_id: uuid.UUID = Field(description="The campus the family registers at (from whoami or list_offerings).")
    name: str = Field(min_length=1, max_length=200, description="e.g. 'Avila Household'.")
    address: str | None = Field(
        default=None, max_length=300, description="Mailing address (contact details: needs contact write access)."
    )
    reason: str | None = Field(default=None, max_length=300, description="Why the household is created (audit).")

    _name = field_validator("name", "address")(_text)


class AddGuardianInput(BaseModel):
    household_id: uuid.UUID = Field(description="The household (from create_household or get_household).")
    guardian_user_id: uuid.UUID | None = Field(
        default=None,
        description="An existing guardian (a user_id from get_household, e.g. the other parent's household). "
        "Leave empty to create a new guardian from name, email and phone.",
    )
    name: str | None = Field(default=None, max_length=200, description="New guardian's full name.")
    email: str | None = Field(default=None, max_length=254, description="New guardian's email (must be unused).")
    phone: str | None = Field(default=None, max_length=40, description="New guardian's phone, e.g. 512-555-0100.")
    relationship: Relationship = Field(description="Who the guardian is to the household's students.")
    contact_priority: int | None = Field(
        default=None, ge=1, le=99, description="1 = first to call; unique in the household (default: next free)."
    )
    may_pick_up: bool = Field(default=True, description="May collect the students from school.")
    lives_with_student: bool = Field(default=True, description="Lives at the household's address.")
    receives_mail: bool = Field(default=True, description="Receives letters, report cards and bills.")
    custody_notes: str | None = Field(
        default=None, max_length=1000, description="Court orders or custody arrangements staff must know."
    )
    reason: str | None = Field(default=None, max_length=300, description="Why the guardian is added (audit).")

    _texts = field_validator("name", "custody_notes")(_text)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalized_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalized_phone(value)


class RemoveGuardianInput(BaseModel):
    household_id: uuid.UUID = Field(description="The household (from get_household).")
    user_id: uuid.UUID = Field(description="The guardian's user_id (from get_household's guardians).")
    reason: str | None = Field(default=None, max_length=300, description="Why the guardian is removed (audit).")


class GuardianAdded(BaseModel):
    user_id: uuid.UUID = Field(description="The guardian's user id.")
    created_user: bool = Field(description="True when a new guardian account was created.")
    household: HouseholdRead


class EmergencyContactInput(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="Full name.")
    relationship: str = Field(
        min_length=1, max_length=40, description="Who they are to the student, e.g. 'aunt', 'neighbor'."
    )
    phone: str = Field(max_length=40, description="Phone, e.g. 512-555-0100.")
    priority: int = Field(ge=1, le=99, description="1 = first to call; unique in the list.")
    may_pick_up: bool = Field(default=False, description="May collect the student from school.")

    _texts = field_validator("name", "relationship")(_text)
    _phone = field_validator("phone")(normalized_phone)


class SetEmergencyContactsInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students).")
    contacts: list[EmergencyContactInput] = Field(
        max_length=MAX_EMERGENCY_CONTACTS,
        description=f"The whole new list (replaces the old one; [] clears it), at most {MAX_EMERGENCY_CONTACTS}.",
    )
    reason: str | None = Field(default=None, max_length=300, description="Why the list changes (audit).")


class StudentRef(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students).")


class EmergencyContactRead(BaseModel):
    id: uuid.UUID
    name: str
    relationship: str
    phone: str
    priority: int
    may_pick_up: bool


class EmergencyContactList(BaseModel):
    student_id: uuid.UUID
    contacts: list[EmergencyContactRead] = Field(description="In the order to call them (priority 1 first).")
