"""What whoami says about the caller's reach: the campuses they may see."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class OrgAccess(BaseModel):
    org_id: uuid.UUID
    name: str
    path: str
    kind: str
    level: str
