"""webhook hardening: the API key a subscription was made with, and room for sealed secrets

A subscription made with an API key stops delivering when the key is revoked or expires, so the
key is recorded (null for existing rows and for subscriptions made in a session). Signing secrets
are now stored sealed (Fernet, domain/webhooks/sealing.py), longer than the plaintext was. This
migration does not encrypt existing secrets (the key is the server's, not the migration's): the
dispatcher reads a legacy plaintext secret and seals it in place the first time it claims one of
its deliveries.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.alter_column("secret", existing_type=sa.String(length=200), type_=sa.String(length=500))
        batch_op.add_column(sa.Column("created_by_api_key_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_webhook_subscription_created_by_api_key_id_api_key"), "api_key", ["created_by_api_key_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_webhook_subscription_created_by_api_key_id_api_key"), type_="foreignkey")
        batch_op.drop_column("created_by_api_key_id")
        batch_op.alter_column("secret", existing_type=sa.String(length=500), type_=sa.String(length=200))
