"""health: a table for medical conditions, and the Texas and Florida school requirements as shipped data

Medications and allergies had tables; conditions (asthma, diabetes) had none, and the nurse's
health profile lists them. The requirement charts used to come only from the demo seed, so a
database started with `sis init` evaluated no one, and the demo's Miami (Florida) students were
reported as "no rules for jurisdiction FL". Both charts are reference data every database needs:
they are inserted here, skipped for a jurisdiction that already has rows (a demo database seeded
before this migration keeps its Texas rows). The insert replaces the requirement table's version
token (triggers of 0006), so cached rule sets are read again.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base
from db.reference.immunization_requirements import CHARTS, requirement_rows

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

_REQUIREMENT = sa.table(
    "immunization_requirement",
    sa.column("id", sa.Uuid()),
    sa.column("jurisdiction", sa.String()),
    sa.column("grade_min", sa.Integer()),
    sa.column("grade_max", sa.Integer()),
    sa.column("vaccine_group", sa.String()),
    sa.column("antigen", sa.String()),
    sa.column("min_doses", sa.Integer()),
    sa.column("conditions", sa.JSON()),
    sa.column("effective_school_year", sa.String()),
    sa.column("source_url", sa.String()),
)


def upgrade() -> None:
    op.create_table(
        "health_condition",
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("since_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"], name=op.f("fk_health_condition_org_id_organization")),
        sa.ForeignKeyConstraint(["student_id"], ["student.id"], name=op.f("fk_health_condition_student_id_student")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_condition")),
    )
    with op.batch_alter_table("health_condition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_condition_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_health_condition_student_id"), ["student_id"], unique=False)

    bind = op.get_bind()
    for jurisdiction in CHARTS:
        spellings = [jurisdiction, f"US-{jurisdiction}"]
        present = bind.execute(
            sa.select(sa.func.count()).select_from(_REQUIREMENT).where(_REQUIREMENT.c.jurisdiction.in_(spellings))
        ).scalar_one()
        if present:
            continue
        op.bulk_insert(
            _REQUIREMENT,
            [
                {column.name: getattr(row, column.name) for column in _REQUIREMENT.columns}
                for row in requirement_rows(jurisdiction)
            ],
        )


def downgrade() -> None:
    # The requirement rows stay: they may have been edited since, and evaluation needs them.
    with op.batch_alter_table("health_condition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_condition_student_id"))
        batch_op.drop_index(batch_op.f("ix_health_condition_org_id"))
    op.drop_table("health_condition")
