"""reference_version: a token per reference table, replaced by trigger on any change

The immunization report read every requirement row of a jurisdiction on each call. With a
token that triggers replace on any insert, update or delete of `immunization_requirement`
(raw SQL included), the parsed rules are remembered under the token, and on PostgreSQL the
connection's checkout reads the token together with the org tree's.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("immunization_requirement",)


def upgrade() -> None:
    op.create_table(
        "reference_version",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reference_version")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    fresh = "md5(random()::text || clock_timestamp()::text)" if postgresql else "lower(hex(randomblob(16)))"
    if postgresql:
        op.execute(f"""
            CREATE FUNCTION sis_reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE reference_version SET token = {fresh} WHERE name = TG_TABLE_NAME;
                RETURN NULL;
            END $$
        """)
    for table in TABLES:
        op.execute(f"INSERT INTO reference_version (name, token) VALUES ('{table}', {fresh})")
        if postgresql:
            op.execute(
                f"CREATE TRIGGER {table}_reference_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION sis_reference_changed()"
            )
            continue
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_reference_changed_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN UPDATE reference_version SET token = {fresh} WHERE name = '{table}'; END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_reference_changed ON {table}")
        else:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_reference_changed_{event}")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS sis_reference_changed()")
    op.drop_table("reference_version")
