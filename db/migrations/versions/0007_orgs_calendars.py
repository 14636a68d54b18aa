"""organization.closed_on and school_calendar: closing orgs without deleting, and campus calendars as data

A closed organization keeps its rows and history; `closed_on` says since when it is closed
(`is_active` false). A school calendar is the header a campus's `school_day` rows for one
school year were generated from: first and last day, the weekdays taught, the holidays and
closures. Existing rows stay valid: every organization is open (closed_on null), and the demo
seed's school days simply have no header.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organization") as batch:
        batch.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
    op.create_table(
        "school_calendar",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("school_year", sa.String(length=7), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("closures", sa.JSON(), nullable=False),
        sa.Column("school_days", sa.Integer(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"], name=op.f("fk_school_calendar_org_id_organization")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_calendar")),
        sa.UniqueConstraint("org_id", "school_year", name=op.f("uq_school_calendar_org_id_school_year")),
    )


def downgrade() -> None:
    op.drop_table("school_calendar")
    with op.batch_alter_table("organization") as batch:
        batch.drop_column("closed_on")
