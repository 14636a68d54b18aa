"""billing definitions: versioned fees, discounts, plans and refund rules; agreements name what priced them

Defining a fee, discount, plan or refund rule again under the same code makes a new version
(version, effective_from); the old row stays, so an agreement priced with it keeps pointing at
it. Rows that predate versioning become version 1, effective from 2000-01-01 (in force for any
agreement date). A fee may now apply to an offering, a program or a whole org subtree
(applies_to_id: the offering, program or org it applies to); a refund rule to an offering or an
org. Plans gain a fee per installment; fee and discount kinds gain technology, late, activity,
staff, scholarship and early payment. billing_agreement records its agreement date (priced_on)
and the refund rule version a withdrawal applies (refund_rule_id).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SINCE_ALWAYS = "2000-01-01"
OLD_FEE_KINDS = ("deposit", "registration", "lunch", "materials", "other")
NEW_FEE_KINDS = ("deposit", "registration", "lunch", "materials", "technology", "late", "activity", "other")
OLD_DISCOUNT_KINDS = ("sibling", "founding_family", "parent_advocate", "subsidy", "other")
NEW_DISCOUNT_KINDS = (
    "sibling",
    "founding_family",
    "parent_advocate",
    "subsidy",
    "staff",
    "scholarship",
    "early_payment",
    "other",
)


def _kind(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _versioned(batch_op: object) -> None:
    batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))  # type: ignore[attr-defined]
    batch_op.add_column(  # type: ignore[attr-defined]
        sa.Column("effective_from", sa.Date(), nullable=False, server_default=sa.text(f"'{SINCE_ALWAYS}'"))
    )


def upgrade() -> None:
    with op.batch_alter_table("fee_definition") as batch_op:
        _versioned(batch_op)
        batch_op.add_column(sa.Column("program_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("applies_to_id", sa.Uuid(), nullable=True))
        batch_op.alter_column("offering_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.alter_column(
            "kind",
            type_=_kind(NEW_FEE_KINDS, "feekind"),
            existing_type=_kind(OLD_FEE_KINDS, "feekind"),
            existing_nullable=False,
        )
        batch_op.drop_constraint("uq_fee_definition_offering_id_code", type_="unique")
    op.execute("UPDATE fee_definition SET applies_to_id = offering_id")
    with op.batch_alter_table("fee_definition") as batch_op:
        batch_op.alter_column("applies_to_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_fee_definition_program_id_program"), "program", ["program_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_fee_definition_program_id"), ["program_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_fee_definition_org_id_code_applies_to_id_version"),
            ["org_id", "code", "applies_to_id", "version"],
        )
        batch_op.create_check_constraint("one_target", "offering_id IS NULL OR program_id IS NULL")

    with op.batch_alter_table("discount_definition") as batch_op:
        _versioned(batch_op)
        batch_op.alter_column(
            "kind",
            type_=_kind(NEW_DISCOUNT_KINDS, "discountkind"),
            existing_type=_kind(OLD_DISCOUNT_KINDS, "discountkind"),
            existing_nullable=False,
        )
        batch_op.drop_constraint("uq_discount_definition_org_id_code", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_discount_definition_org_id_code_version"), ["org_id", "code", "version"]
        )

    with op.batch_alter_table("payment_plan") as batch_op:
        _versioned(batch_op)
        batch_op.add_column(sa.Column("installment_fee_cents", sa.Integer(), nullable=False, server_default="0"))
        batch_op.drop_constraint("uq_payment_plan_org_id_code", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_payment_plan_org_id_code_version"), ["org_id", "code", "version"]
        )
        batch_op.create_check_constraint("installment_fee_nonnegative", "installment_fee_cents >= 0")

    with op.batch_alter_table("refund_rule") as batch_op:
        _versioned(batch_op)
        batch_op.add_column(sa.Column("applies_to_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.drop_constraint("uq_refund_rule_org_id_code", type_="unique")
    op.execute("UPDATE refund_rule SET applies_to_id = COALESCE(offering_id, org_id)")
    with op.batch_alter_table("refund_rule") as batch_op:
        batch_op.alter_column("applies_to_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_refund_rule_org_id_code_applies_to_id_version"),
            ["org_id", "code", "applies_to_id", "version"],
        )

    with op.batch_alter_table("billing_agreement") as batch_op:
        batch_op.add_column(sa.Column("priced_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("refund_rule_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_billing_agreement_refund_rule_id_refund_rule"), "refund_rule", ["refund_rule_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("billing_agreement") as batch_op:
        batch_op.drop_constraint("fk_billing_agreement_refund_rule_id_refund_rule", type_="foreignkey")
        batch_op.drop_column("refund_rule_id")
        batch_op.drop_column("priced_on")
    op.execute("DELETE FROM refund_rule WHERE version > 1")
    with op.batch_alter_table("refund_rule") as batch_op:
        batch_op.drop_constraint("uq_refund_rule_org_id_code_applies_to_id_version", type_="unique")
        batch_op.create_unique_constraint("uq_refund_rule_org_id_code", ["org_id", "code"])
        for column in ("is_active", "applies_to_id", "effective_from", "version"):
            batch_op.drop_column(column)
    op.execute("DELETE FROM payment_plan WHERE version > 1")
    with op.batch_alter_table("payment_plan") as batch_op:
        batch_op.drop_constraint("ck_payment_plan_installment_fee_nonnegative", type_="check")
        batch_op.drop_constraint("uq_payment_plan_org_id_code_version", type_="unique")
        batch_op.create_unique_constraint("uq_payment_plan_org_id_code", ["org_id", "code"])
        for column in ("installment_fee_cents", "effective_from", "version"):
            batch_op.drop_column(column)
    op.execute("DELETE FROM discount_definition WHERE version > 1")
    with op.batch_alter_table("discount_definition") as batch_op:
        batch_op.drop_constraint("uq_discount_definition_org_id_code_version", type_="unique")
        batch_op.create_unique_constraint("uq_discount_definition_org_id_code", ["org_id", "code"])
        for column in ("effective_from", "version"):
            batch_op.drop_column(column)
    op.execute("DELETE FROM fee_definition WHERE version > 1 OR offering_id IS NULL")
    with op.batch_alter_table("fee_definition") as batch_op:
        batch_op.drop_constraint("ck_fee_definition_one_target", type_="check")
        batch_op.drop_constraint("uq_fee_definition_org_id_code_applies_to_id_version", type_="unique")
        batch_op.drop_constraint("fk_fee_definition_program_id_program", type_="foreignkey")
        batch_op.drop_index("ix_fee_definition_program_id")
        batch_op.create_unique_constraint("uq_fee_definition_offering_id_code", ["offering_id", "code"])
        batch_op.alter_column("offering_id", existing_type=sa.Uuid(), nullable=False)
        for column in ("applies_to_id", "program_id", "effective_from", "version"):
            batch_op.drop_column(column)
