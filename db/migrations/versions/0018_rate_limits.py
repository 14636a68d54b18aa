"""rate limits and quotas: a key's own limits, and the per-window call counters

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 19:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limits", sa.JSON(), nullable=True))
    op.create_table(
        "usage_counter",
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("window", sa.String(length=10), nullable=False),
        sa.Column("starts_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "window", "starts_at", name=op.f("pk_usage_counter")),
    )


def downgrade() -> None:
    op.drop_table("usage_counter")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("limits")
