"""offerings: continuous offerings (no fixed end) and program codes unique per org

`program_offering.end_on` becomes nullable: an offering with rolling enrollment (the online
school) has a start and no fixed end. The dates check allows that null. `program.code` is
unique within its org (create_program refuses a second one; the index makes a race fail too).

SQLite cannot drop NOT NULL in place, and rebuilding the table (batch mode) would drop a table
that enrollments reference while foreign keys are on. Removing a NOT NULL and loosening a CHECK
change no stored byte, which is the case SQLite documents for editing the schema text directly
(https://sqlite.org/lang_altertable.html, "otheralter"): that is what the SQLite branch does.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CHECK = "ck_program_offering_dates_ordered"
STRICT = ("end_on DATE NOT NULL", f"CONSTRAINT {CHECK} CHECK (end_on >= start_on)")
LOOSE = ("end_on DATE", f"CONSTRAINT {CHECK} CHECK (end_on IS NULL OR end_on >= start_on)")


def _rewrite_sqlite_table(old: tuple[str, str], new: tuple[str, str]) -> None:
    conn = op.get_bind()
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'program_offering'")
    text = sql.scalar_one()
    for before, after in zip(old, new, strict=True):
        if text.count(before) != 1:
            raise RuntimeError(f"program_offering's schema text has no single {before!r}; migrate by hand")
        text = text.replace(before, after)
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'program_offering'", (text,))
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite_sqlite_table(STRICT, LOOSE)
    else:
        op.alter_column("program_offering", "end_on", nullable=True)
        op.drop_constraint(op.f(CHECK), "program_offering", type_="check")
        op.create_check_constraint(op.f(CHECK), "program_offering", "end_on IS NULL OR end_on >= start_on")
    op.create_index(op.f("uq_program_org_id_code"), "program", ["org_id", "code"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("uq_program_org_id_code"), table_name="program")
    continuous = op.get_bind().exec_driver_sql("SELECT count(*) FROM program_offering WHERE end_on IS NULL")
    if continuous.scalar_one():
        raise RuntimeError("continuous offerings (end_on null) exist: give them an end before downgrading")
    if op.get_bind().dialect.name == "sqlite":
        _rewrite_sqlite_table(LOOSE, STRICT)
    else:
        op.drop_constraint(op.f(CHECK), "program_offering", type_="check")
        op.create_check_constraint(op.f(CHECK), "program_offering", "end_on >= start_on")
        op.alter_column("program_offering", "end_on", nullable=False)
