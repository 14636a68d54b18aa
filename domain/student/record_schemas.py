"""Inputs and results of the student record writes: create, update, merge, deactivate."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from pydantic import BaseModel, Field, field_validator

from db.models import Race, Sex
from domain.student.schemas import StudentProfile

# A system name: "state", "oneroster", "partner:lakeside".
SYSTEM_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)?$")
STATE_SYSTEM = "state"


def _clean_identifiers(value: dict[str, str | None] | None) -> dict[str, str | None] | None:
    if value is None:
        return None
    cleaned: dict[str, str | None] = {}
    for system, raw in value.items():
        name = system.strip().lower()
        if not 1 <= len(name) <= 60 or not SYSTEM_PATTERN.match(name):
            raise ValueError(
                f"identifier system {system!r} must look like 'oneroster' or 'partner:lakeside' "
                "(lowercase letters, digits, _ . -, at most one ':')"
            )
        text = raw.strip() if raw is not None else None
        if text is not None and not 1 <= len(text) <= 200:
            raise ValueError(f"identifier {name!r} must be 1 to 200 characters")
        cleaned[name] = text
    return cleaned


class StudentDemographics(BaseModel):
    """The demographic fields of a student record (Ed-Fi / OneRoster)."""

    sex: Sex = Field(default=Sex.UNSPECIFIED, description="female, male or unspecified.")
    races: list[Race] | None = Field(
        default=None,
        max_length=5,
        description="Every race that applies: American Indian or Alaska Native, Asian, Black or African American, "
        "Native Hawaiian or Other Pacific Islander, White. Omit when not reported.",
    )
    hispanic_latino: bool | None = Field(default=None, description="Hispanic or Latino ethnicity; omit if unknown.")
    home_language: str | None = Field(
        default=None, min_length=1, max_length=60, description="Language spoken at home, e.g. 'Spanish'."
    )


class StudentPerson(StudentDemographics):
    """Who the child is: legal names and birth date (what duplicate detection compares)."""

    first_name: str = Field(min_length=1, max_length=100, description="Legal first name.")
    middle_name: str | None = Field(default=None, min_length=1, max_length=100, description="Legal middle name.")
    last_name: str = Field(min_length=1, max_length=100, description="Legal last name.")
    preferred_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="The name the child goes by, if different."
    )
    birth_on: dt.date = Field(description="Date of birth (YYYY-MM-DD); required, not in the future.")

    @field_validator("first_name", "last_name", "middle_name", "preferred_name")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None

    @field_validator("races")
    @classmethod
    def _distinct_races(cls, value: list[Race] | None) -> list[Race] | None:
        return sorted(set(value), key=list(Race).index) if value is not None else None


class CreateStudentInput(StudentPerson):
    org_id: uuid.UUID = Field(description="Home campus (from whoami or list_offerings): where the records belong.")
    grade_level: int = Field(ge=-1, le=12, description="Grade at entry: -1 pre-K, 0 kindergarten, 1..12.")
    email: str | None = Field(default=None, max_length=254, description="Student's email (needs contact write).")
    phone: str | None = Field(default=None, max_length=40, description="Student's phone (needs contact write).")
    address: str | None = Field(default=None, max_length=300, description="Home address (needs contact write).")
    state_student_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="The state's student id (e.g. Texas TSDS unique id)."
    )
    identifiers: dict[str, str] = Field(
        default_factory=dict,
        description="Ids in other systems by system name, e.g. {'oneroster': '<sourcedId>', 'partner:lakeside': '42'}.",
    )
    confirm_new_person: bool = Field(
        default=False,
        description="Set only after checking the candidates a duplicate refusal named: this is a different child.",
    )
    reason: str | None = Field(default=None, max_length=300, description="Why, for the record.")

    @field_validator("identifiers")
    @classmethod
    def _systems(cls, value: dict[str, str | None] | None) -> dict[str, str | None] | None:
        return _clean_identifiers(value)


class UpdateStudentInput(BaseModel):
    """Only the fields you send change; send null to clear an optional field."""

    student_id: uuid.UUID = Field(description="The student (from search_students).")
    reason: str = Field(min_length=1, max_length=300, description="Why the record changes (kept with each change).")
    first_name: str | None = Field(default=None, min_length=1, max_length=100, description="Legal first name.")
    middle_name: str | None = Field(default=None, min_length=1, max_length=100, description="Legal middle name.")
    last_name: str | None = Field(default=None, min_length=1, max_length=100, description="Legal last name.")
    preferred_name: str | None = Field(default=None, min_length=1, max_length=100, description="Preferred name.")
    grade_level: int | None = Field(default=None, ge=-1, le=12, description="Current grade: -1 pre-K, 0 K, 1..12.")
    birth_on: dt.date | None = Field(default=None, description="Date of birth (demographics write).")
    sex: Sex | None = Field(default=None, description="female, male or unspecified (demographics write).")
    races: list[Race] | None = Field(default=None, max_length=5, description="Races (demographics write).")
    hispanic_latino: bool | None = Field(default=None, description="Hispanic or Latino (demographics write).")
    home_language: str | None = Field(default=None, min_length=1, max_length=60, description="Home language.")
    email: str | None = Field(default=None, max_length=254, description="Student's email (contact write).")
    phone: str | None = Field(default=None, max_length=40, description="Student's phone (contact write).")
    address: str | None = Field(default=None, max_length=300, description="Home address (contact write).")
    identifiers: dict[str, str | None] | None = Field(
        default=None,
        description="Ids to set by system name ({'state': 'TX123', 'partner:lakeside': null}); null removes one.",
    )

    @field_validator("identifiers")
    @classmethod
    def _systems(cls, value: dict[str, str | None] | None) -> dict[str, str | None] | None:
        return _clean_identifiers(value)


class MergeStudentsInput(BaseModel):
    survivor_id: uuid.UUID = Field(description="The record that stays (from search_students).")
    merged_id: uuid.UUID = Field(description="The duplicate record of the same child; it becomes a tombstone.")
    reason: str = Field(min_length=1, max_length=300, description="Why these are one child, for the record.")


class MergeResult(BaseModel):
    survivor: StudentProfile
    merged_id: uuid.UUID
    merged_student_number: int
    moved: dict[str, int] = Field(description="Rows moved to the survivor, by table.")
    dropped: dict[str, int] = Field(
        description="Rows of the merged record the survivor already had (same attendance day, same household)."
    )


class DeactivateStudentInput(BaseModel):
    student_id: uuid.UUID = Field(description="The student (from search_students).")
    reason: str = Field(min_length=1, max_length=300, description="Why, e.g. 'moved out of state'.")
