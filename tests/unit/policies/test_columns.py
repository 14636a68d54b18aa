"""Every column of every table has a data class, so a new table cannot ship without a decision."""

from __future__ import annotations

import db.models  # noqa: F401
from db.base import Base
from policies.columns import COLUMN_CLASSES, NEVER_READABLE, TABLE_CLASSES, column_class, hidden_columns
from policies.scope import DataClass


def test_every_table_has_a_data_class():
    missing = sorted(set(Base.metadata.tables) - set(TABLE_CLASSES))
    assert not missing, f"classify these tables in policies/columns.py: {missing}"


def test_column_overrides_name_real_columns():
    real = {f"{t.name}.{c.name}" for t in Base.metadata.sorted_tables for c in t.columns}
    assert set(COLUMN_CLASSES) | NEVER_READABLE <= real


def test_student_pii_columns_belong_to_contact_and_demographics():
    assert column_class("student", "birth_on") is DataClass.DEMOGRAPHICS
    assert column_class("student", "address") is DataClass.CONTACT
    assert column_class("student", "last_name") is DataClass.DIRECTORY


def test_hidden_columns_are_those_of_unreadable_classes_plus_secrets():
    hidden = hidden_columns({DataClass.DIRECTORY}, [("student", "first_name"), ("student", "phone")])
    assert hidden == {"student.phone"} | NEVER_READABLE
    assert "api_key.secret_hash" in NEVER_READABLE
