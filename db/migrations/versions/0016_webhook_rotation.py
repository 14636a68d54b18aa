"""webhook secret rotation: the previous signing secret and until when it still signs

After `rotate_webhook_secret`, deliveries are signed with both the new secret and the previous
one until the overlap ends, so a receiver can switch without dropping a delivery. Both nullable;
existing subscriptions have no previous secret.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 18:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_secret", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("previous_secret_expires_at", db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret")
