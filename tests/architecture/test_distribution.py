"""Every table holding a student's data also carries an organization, so the data can be split by organization
(read replicas per region, or a distributed PostgreSQL keyed by org) without joining back to find the owner.

See docs/running/processes.md, "When one PostgreSQL server is outgrown".
"""

from __future__ import annotations

import db.models  # noqa: F401  (every table registered)
from db.base import Base

# Link tables whose owner is the row they link: a household's students belong with the household.
LINKS = {"household_student": "household_id"}


def test_every_table_with_a_student_column_carries_its_organization():
    missing = [
        t.name
        for t in Base.metadata.sorted_tables
        if "student_id" in t.columns and "org_id" not in t.columns and t.name not in LINKS
    ]
    assert not missing, f"add org_id (the organization owning the row) to: {', '.join(missing)}"


def test_each_link_table_reaches_an_organization_through_its_owner():
    tables = Base.metadata.tables
    for name, owner in LINKS.items():
        (foreign_key,) = tables[name].columns[owner].foreign_keys
        assert "org_id" in foreign_key.column.table.columns, f"{name}.{owner} must point at a table with org_id"
