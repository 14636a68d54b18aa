"""the chain head also remembers the hash before it

With `prev_hash` on the head row, one `UPDATE audit_chain_head ... RETURNING` yields the new
entry's seq, its predecessor's hash and its own hash (computed from the old head values in
the SET clause), so PostgreSQL can append an entry in a single statement. Existing heads are
backfilled from the entry they point at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.add_column("audit_chain_head", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    for chain in ("change_event", "query_log"):
        op.execute(
            sa.text(
                f"UPDATE audit_chain_head SET prev_hash = COALESCE("
                f"(SELECT e.prev_hash FROM {chain} e WHERE e.seq = audit_chain_head.seq), :genesis) "
                "WHERE chain = :chain"
            ).bindparams(genesis=GENESIS_HASH, chain=chain)
        )


def downgrade() -> None:
    op.drop_column("audit_chain_head", "prev_hash")
