"""people and access: a user's home org, and role grants that keep their history when revoked

A revoked grant stays as a row (revoked_at, revoked_by_user_id) instead of being deleted, so
"who could see what, when" stays answerable; the principal loader ignores revoked grants.
Because a role may be granted again at the same org after a revocation, the unique
(user, role, org) constraint becomes a partial unique index over grants not revoked.
`user_account.org_id` is the org whose staff a user joined (where `create_user` created them):
staff of that org are visible to its administrators before they hold any grant.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_user_account_org_id"), ["org_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_user_account_org_id_organization"), "organization", ["org_id"], ["id"]
        )
    with op.batch_alter_table("role_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("granted_by_user_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_by_user_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_role_grant_granted_by_user_id_user_account"), "user_account", ["granted_by_user_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_role_grant_revoked_by_user_id_user_account"), "user_account", ["revoked_by_user_id"], ["id"]
        )
        batch_op.drop_constraint("uq_role_grant_user_id_role_org_id", type_="unique")
    op.create_index(
        "uq_role_grant_in_force",
        "role_grant",
        ["user_id", "role", "org_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
        sqlite_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.execute("DELETE FROM role_grant WHERE revoked_at IS NOT NULL")
    op.drop_index("uq_role_grant_in_force", table_name="role_grant")
    with op.batch_alter_table("role_grant", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_role_grant_user_id_role_org_id", ["user_id", "role", "org_id"])
        batch_op.drop_constraint("fk_role_grant_revoked_by_user_id_user_account", type_="foreignkey")
        batch_op.drop_constraint("fk_role_grant_granted_by_user_id_user_account", type_="foreignkey")
        batch_op.drop_column("revoked_by_user_id")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("granted_by_user_id")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint("fk_user_account_org_id_organization", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_user_account_org_id"))
        batch_op.drop_column("org_id")
