"""households: guardian contact order and permissions, and students' emergency contacts

household_guardian gains contact_priority (1 = first to call, unique per household; existing
rows are numbered primary first, then by id), may_pick_up, lives_with_student, receives_mail
(all true for existing guardians, who were entered as the household's parents) and
custody_notes. emergency_contact holds each student's call list (CONTACT data).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("household_guardian", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_priority", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("may_pick_up", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("lives_with_student", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("receives_mail", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("custody_notes", sa.String(length=1000), nullable=True))
    # Window functions exist on both engines (SQLite since 3.25).
    op.execute("""
        UPDATE household_guardian SET contact_priority = (
            SELECT ranked.n FROM (
                SELECT id, ROW_NUMBER() OVER (
                    PARTITION BY household_id ORDER BY CASE WHEN is_primary THEN 0 ELSE 1 END, id
                ) AS n
                FROM household_guardian
            ) AS ranked WHERE ranked.id = household_guardian.id
        )
    """)
    with op.batch_alter_table("household_guardian", schema=None) as batch_op:
        batch_op.alter_column("contact_priority", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_household_guardian_household_id_contact_priority"), ["household_id", "contact_priority"]
        )
        batch_op.create_check_constraint(batch_op.f("ck_household_guardian_priority_positive"), "contact_priority >= 1")

    op.create_table(
        "emergency_contact",
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("relationship", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("may_pick_up", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("priority >= 1", name=op.f("ck_emergency_contact_priority_positive")),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"], name=op.f("fk_emergency_contact_org_id_organization")),
        sa.ForeignKeyConstraint(["student_id"], ["student.id"], name=op.f("fk_emergency_contact_student_id_student")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_contact")),
        sa.UniqueConstraint("student_id", "priority", name=op.f("uq_emergency_contact_student_id_priority")),
    )
    with op.batch_alter_table("emergency_contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emergency_contact_student_id"), ["student_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("emergency_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_contact_student_id"))
    op.drop_table("emergency_contact")
    with op.batch_alter_table("household_guardian", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_household_guardian_priority_positive"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_household_guardian_household_id_contact_priority"), type_="unique")
        batch_op.drop_column("custody_notes")
        batch_op.drop_column("receives_mail")
        batch_op.drop_column("lives_with_student")
        batch_op.drop_column("may_pick_up")
        batch_op.drop_column("contact_priority")
