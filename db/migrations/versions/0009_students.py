"""students as a system of record: Ed-Fi / OneRoster fields, external identifiers, merges, intake

Student gains a middle name, races (a list), Hispanic/Latino ethnicity, home language, an
active flag with its reason and `merged_into_id` (a merged record is a tombstone pointing to the
survivor), and an index on birth date for duplicate detection. `student_identifier` holds ids in
other systems, one owner per (system, value). An application may exist before its student:
`student_id` becomes nullable and the applicant and guardian contact are kept on the row.
Existing rows stay valid: every new column is nullable or defaults to active.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APPLICANT_COLUMNS = (
    ("applicant_first_name", sa.String(length=100)),
    ("applicant_middle_name", sa.String(length=100)),
    ("applicant_last_name", sa.String(length=100)),
    ("applicant_preferred_name", sa.String(length=100)),
    ("applicant_birth_on", sa.Date()),
    ("applicant_sex", sa.String(length=32)),
    ("guardian_name", sa.String(length=200)),
    ("guardian_email", sa.String(length=254)),
    ("guardian_phone", sa.String(length=40)),
)


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch copy: SQLite cannot drop and recreate `student` while other
    # tables' foreign keys point at it (foreign keys are on). SQLite takes an inline REFERENCES.
    op.add_column("student", sa.Column("middle_name", sa.String(length=100), nullable=True))
    op.add_column("student", sa.Column("races", sa.JSON(), nullable=True))
    op.add_column("student", sa.Column("hispanic_latino", sa.Boolean(), nullable=True))
    op.add_column("student", sa.Column("home_language", sa.String(length=60), nullable=True))
    op.add_column("student", sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("student", sa.Column("inactive_reason", sa.String(length=300), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("student", sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_student_merged_into_id_student"), "student", "student", ["merged_into_id"], ["id"]
        )
    else:
        op.execute("ALTER TABLE student ADD COLUMN merged_into_id CHAR(32) REFERENCES student (id)")
    op.create_index(op.f("ix_student_merged_into_id"), "student", ["merged_into_id"], unique=False)
    op.create_index("ix_student_birth_on", "student", ["birth_on"], unique=False)

    op.create_table(
        "student_identifier",
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("system", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_student_identifier_org_id_organization")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["student.id"], name=op.f("fk_student_identifier_student_id_student")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_identifier")),
        sa.UniqueConstraint("system", "value", name=op.f("uq_student_identifier_system_value")),
    )
    with op.batch_alter_table("student_identifier", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_student_identifier_student_id"), ["student_id"], unique=False)

    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.alter_column("student_id", existing_type=sa.Uuid(), nullable=True)
        for name, type_ in APPLICANT_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    # Applications without a student cannot survive the downgrade.
    op.execute("DELETE FROM application WHERE student_id IS NULL")
    with op.batch_alter_table("application", schema=None) as batch_op:
        for name, _ in reversed(APPLICANT_COLUMNS):
            batch_op.drop_column(name)
        batch_op.alter_column("student_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("student_identifier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_student_identifier_student_id"))
    op.drop_table("student_identifier")
    op.drop_index("ix_student_birth_on", table_name="student")
    op.drop_index(op.f("ix_student_merged_into_id"), table_name="student")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_student_merged_into_id_student"), "student", type_="foreignkey")
    for name in ("merged_into_id", "inactive_reason", "is_active", "home_language", "hispanic_latino", "races"):
        op.drop_column("student", name)
    op.drop_column("student", "middle_name")
