"""Household tools: a family's guardians and students, and split-custody billing shares."""

from __future__ import annotations

import uuid

from pydantic import Field
from sqlalchemy.orm import Session

from domain.household import service
from domain.household.schemas import BillingSharesRead, HouseholdRead, SetBillingSharesInput
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool


class GetHouseholdInput(ToolInput):
    household_id: uuid.UUID = Field(description="The household (from get_student's household_ids).")


@tool(data_class=DataClass.CONTACT, title="Household")
def get_household(session: Session, scope: Scope, data: GetHouseholdInput, ctx: ToolContext) -> HouseholdRead:
    """Show a household: its guardians (contact details only if your role may see them) and the students in it
    with their billing shares (only with financial access).
    """
    return service.get_household(session, scope, data.household_id)


@tool(data_class=DataClass.FINANCIAL, action=Action.WRITE, title="Set billing shares", idempotent=True)
def set_billing_shares(
    session: Session, scope: Scope, data: SetBillingSharesInput, ctx: ToolContext
) -> BillingSharesRead:
    """Split a student's charges between their households (split custody), in basis points (5000 = 50%).

    The student's shares across all households must sum to exactly 10000.
    """
    return service.set_billing_shares(session, scope, data.student_id, data.shares, reason=data.reason)
