"""Inputs and read models of the access tools: users, role grants, guide assignments, API keys."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from domain.paging import MAX_PAGE, Page

REASON = Field(default=None, max_length=300, description="Why (recorded on the change events).")


class NewUserKind(enum.StrEnum):
    """The kinds of user `create_user` makes (students are created with their student record)."""

    STAFF = "staff"
    GUARDIAN = "guardian"
    # An integration's service account: it owns API keys and holds an `integration` grant.
    CLIENT = "client"


class CreateUserInput(BaseModel):
    """A new staff member, guardian or integration client who will belong to an org."""

    email: str = Field(min_length=3, max_length=254, description="Login email; stored lower-case, unique.")
    display_name: str = Field(min_length=1, max_length=200, description="The name people see, e.g. 'Rosa Delgado'.")
    kind: NewUserKind = Field(default=NewUserKind.STAFF, description="staff, guardian or client (an integration).")
    phone: str | None = Field(default=None, max_length=40, description="Phone number, e.g. '+1 512 555 0100'.")
    org_id: uuid.UUID = Field(
        description="The org whose staff the user joins (a campus or brand id from whoami); "
        "its administrators see the user before any grant."
    )
    reason: str | None = REASON


class UpdateUserInput(BaseModel):
    """Fields to change on a user; omitted fields keep their value, phone=null clears it."""

    user_id: uuid.UUID = Field(description="The user, from create_user or list_role_grants.")
    email: str | None = Field(default=None, min_length=3, max_length=254, description="New login email.")
    display_name: str | None = Field(default=None, min_length=1, max_length=200, description="New display name.")
    phone: str | None = Field(default=None, max_length=40, description="New phone number (null clears it).")
    reason: str | None = REASON


class DeactivateUserInput(BaseModel):
    user_id: uuid.UUID = Field(description="The user, from create_user or list_role_grants.")
    reason: str = Field(min_length=1, max_length=300, description="Why the user leaves (recorded).")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    email: str | None = Field(description="Null when contact details are hidden from your role.")
    display_name: str
    kind: str
    phone: str | None = Field(description="Null when unset or hidden from your role.")
    org_id: uuid.UUID | None = Field(description="The org whose staff the user joined (null for older users).")
    is_active: bool


class GrantRoleInput(BaseModel):
    """A role for a user at an org node (it covers the node's whole subtree)."""

    user_id: uuid.UUID = Field(description="The user, from create_user.")
    role: str = Field(description="network_admin, campus_director, registrar, nurse, finance, guide, ...")
    org_id: uuid.UUID = Field(description="Where the role applies: a campus, brand or the network root.")
    expires_on: dt.date | None = Field(default=None, description="Last day the grant is in force (none: open).")
    reason: str | None = REASON


class RevokeRoleInput(BaseModel):
    grant_id: uuid.UUID = Field(description="The grant, from list_role_grants or grant_role.")
    reason: str = Field(min_length=1, max_length=300, description="Why the grant ends (recorded).")


class GrantStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class RoleGrantRead(BaseModel):
    grant_id: uuid.UUID
    user_id: uuid.UUID
    user_email: str | None = Field(description="Null when contact details are hidden from your role.")
    user_display_name: str
    user_is_active: bool
    role: str
    org_id: uuid.UUID
    org_path: str
    org_name: str
    status: GrantStatus = Field(description="active, expired (past expires_on) or revoked.")
    granted_at: dt.datetime
    granted_by_user_id: uuid.UUID | None
    expires_on: dt.date | None
    revoked_at: dt.datetime | None
    revoked_by_user_id: uuid.UUID | None


class RoleGrantQuery(BaseModel):
    org_id: uuid.UUID | None = Field(default=None, description="Only grants at this org and the orgs below it.")
    user_id: uuid.UUID | None = Field(default=None, description="Only this user's grants.")
    include_inactive: bool = Field(default=False, description="Also list revoked and expired grants (history).")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description=f"At most this many grants (max {MAX_PAGE}).")
    offset: int = Field(default=0, ge=0, description="Skip this many (pass next_offset).")


class RoleGrantPage(Page):
    items: list[RoleGrantRead]


class AssignGuideInput(BaseModel):
    """A guide's 1:1 coaching of one student for a period."""

    guide_user_id: uuid.UUID = Field(description="A user holding a guide grant at the student's campus.")
    student_id: uuid.UUID = Field(description="The student, from search_students.")
    start_on: dt.date = Field(description="First day of the assignment.")
    end_on: dt.date | None = Field(default=None, description="Last day (none: until ended).")
    reason: str | None = REASON

    @field_validator("end_on")
    @classmethod
    def _ends_after_start(cls, end_on: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start_on = info.data.get("start_on")
        if end_on is not None and start_on is not None and end_on < start_on:
            raise ValueError(f"end_on {end_on} is before start_on {start_on}")
        return end_on


class EndGuideAssignmentInput(BaseModel):
    assignment_id: uuid.UUID = Field(description="The assignment, from assign_guide.")
    end_on: dt.date = Field(description="Last day of the assignment (not before its start).")
    reason: str | None = REASON


class GuideAssignmentRead(BaseModel):
    assignment_id: uuid.UUID
    guide_user_id: uuid.UUID
    student_id: uuid.UUID
    org_id: uuid.UUID
    start_on: dt.date
    end_on: dt.date | None


class CreateApiKeyInput(BaseModel):
    name: str = Field(min_length=1, max_length=120, description="What the key is for, shown in lists.")
    scopes: list[str] = Field(
        min_length=1,
        max_length=8,
        description="roster.readonly, sis.read, sis.write, audit.read: never more than your own key has.",
    )
    user_id: uuid.UUID | None = Field(
        default=None, description="Whose key (default: yours). Only network administrators make keys for others."
    )
    org_id: uuid.UUID | None = Field(
        default=None,
        description="Narrow the key to this org's subtree (default: the owner's grants, or your key's org).",
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="Days until the key expires.")


class ApiKeyRead(BaseModel):
    key_id: uuid.UUID
    prefix: str = Field(description="The key's public part, e.g. sis_live_ab12cd34 (shown in logs).")
    name: str
    owner_user_id: uuid.UUID
    owner_email: str | None = Field(description="Null when contact details are hidden from your role.")
    scopes: list[str]
    org_id: uuid.UUID | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    limits: dict[str, int | None] | None = Field(
        default=None, description="Its own calls per minute / day / month; null ones take the plan default."
    )


class SetApiKeyLimitsInput(BaseModel):
    key_id: uuid.UUID = Field(description="The key, from list_api_keys.")
    per_minute: int | None = Field(default=None, ge=0, le=1_000_000, description="Calls per minute (0: unlimited).")
    per_day: int | None = Field(default=None, ge=0, le=100_000_000, description="Calls per UTC day (0: unlimited).")
    per_month: int | None = Field(
        default=None, ge=0, le=1_000_000_000, description="Calls per UTC month, the quota (0: unlimited)."
    )
    reason: str | None = REASON


class CreatedApiKey(ApiKeyRead):
    api_key: str = Field(
        description="The key itself: shown this once and never stored; send it as `Authorization: Bearer <key>`."
    )


class RevokeApiKeyInput(BaseModel):
    key_id: uuid.UUID = Field(description="The key, from list_api_keys or create_api_key.")
    reason: str | None = REASON


class ApiKeyQuery(BaseModel):
    user_id: uuid.UUID | None = Field(default=None, description="Only this user's keys (default: all you may see).")
    include_revoked: bool = Field(default=True, description="Also list revoked keys.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
