"""audit hash chains, query log, api keys

Change events gain a gapless per-chain seq and their hash links; the query log is new; each
chain has a head row (seq, hash) that writers update in their transaction, which serialises
them. Both audit tables get append-only triggers as a second layer of defence (the hash
chain is what detects a privileged attacker who disables them). Change events that exist
before this revision are chained in id order. org_tree_version gets a fresh random token from
a trigger whenever an organization row changes (authorization caches its tree index by it).

On SQLite a later batch migration that recreates change_event or query_log drops their
triggers with the old table: such a migration must create them again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:25:02.083391
"""

from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
APPEND_ONLY = ("change_event", "query_log")


def _chain_existing_change_events() -> tuple[str, int]:
    """Chain change events written before this revision, in id order; returns the head (hash, seq)."""
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT 1 FROM change_event LIMIT 1")).first():
        return GENESIS, 0
    # Imported only when needed: the hash definition lives with the code that verifies it.
    from domain.audit.chain import Chain, entry_hash, record_of

    # Typed as the model types them, so values hash exactly as they will when verified.
    table = sa.Table(
        "change_event",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("occurred_at", db.base.UTCDateTime(timezone=True)),
        sa.Column("actor_user_id", sa.Uuid()),
        sa.Column("actor_label", sa.String()),
        sa.Column("entity_type", sa.String()),
        sa.Column("entity_id", sa.String()),
        sa.Column("org_id", sa.Uuid()),
        sa.Column("field", sa.String()),
        sa.Column("old_value", sa.Text()),
        sa.Column("new_value", sa.Text()),
        sa.Column("reason", sa.String()),
        sa.Column("operation_id", sa.String()),
        sa.Column("seq", sa.BigInteger()),
        sa.Column("prev_hash", sa.String()),
        sa.Column("entry_hash", sa.String()),
    )
    rows = bind.execute(sa.select(table).order_by(table.c.id)).all()
    prev, seq = GENESIS, 0
    for row in rows:
        seq += 1
        values = SimpleNamespace(**{**row._asdict(), "seq": seq})
        digest = entry_hash(prev, record_of(Chain.CHANGE_EVENT, values))
        bind.execute(sa.update(table).where(table.c.id == row.id).values(seq=seq, prev_hash=prev, entry_hash=digest))
        prev = digest
    return prev, seq


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION sis_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit table % is append-only: % rejected', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
        """)
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION sis_audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION sis_audit_append_only()"
            )
        op.execute(
            "CREATE TRIGGER audit_chain_head_keep BEFORE DELETE ON audit_chain_head "
            "FOR EACH ROW EXECUTE FUNCTION sis_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head "
            "FOR EACH STATEMENT EXECUTE FUNCTION sis_audit_append_only()"
        )
        return
    # SQLite has no TRUNCATE; an unqualified DELETE runs the row triggers once triggers exist.
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'audit table {table} is append-only: {event} rejected'); END"
            )
    op.execute(
        "CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head "
        "BEGIN SELECT RAISE(ABORT, 'audit chain heads cannot be deleted'); END"
    )


def _create_org_tree_triggers() -> None:
    """Any change to organization rows gives org_tree_version a fresh random token."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION sis_org_tree_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE org_tree_version SET token = md5(random()::text || clock_timestamp()::text) WHERE id = 1;
                RETURN NULL;
            END $$
        """)
        op.execute(
            "CREATE TRIGGER organization_tree_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON organization FOR EACH STATEMENT EXECUTE FUNCTION sis_org_tree_changed()"
        )
        return
    for event in ("INSERT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER organization_tree_changed_{event.lower()} AFTER {event} ON organization "
            "BEGIN UPDATE org_tree_version SET token = lower(hex(randomblob(16))) WHERE id = 1; END"
        )


def _drop_org_tree_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS organization_tree_changed ON organization")
        op.execute("DROP FUNCTION IF EXISTS sis_org_tree_changed()")
        return
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS organization_tree_changed_{event}")


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_keep ON audit_chain_head")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head")
        op.execute("DROP FUNCTION IF EXISTS sis_audit_append_only()")
        return
    for table in APPEND_ONLY:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
    op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_delete")


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "audit_chain_head",
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "query_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("occurred_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("principal_user_id", sa.Uuid(), nullable=True),
        sa.Column("principal_email", sa.String(length=254), nullable=True),
        sa.Column("principal_kind", sa.String(length=20), nullable=True),
        sa.Column("auth_method", sa.String(length=20), nullable=True),
        sa.Column("api_key_prefix", sa.String(length=40), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("scope_summary", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=True),
        sa.Column("capability", sa.String(length=100), nullable=False),
        sa.Column("operation_id", sa.String(length=64), nullable=True),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=True),
        sa.Column("student_ids_disclosed", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "ok",
                "denied",
                "not_found",
                "invalid",
                "error",
                name="queryoutcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("duration_us", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sql_original", sa.Text(), nullable=True),
        sa.Column("sql_executed", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_query_log")),
    )
    with op.batch_alter_table("query_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_query_log_capability"), ["capability"], unique=False)
        batch_op.create_index(batch_op.f("ix_query_log_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_query_log_principal_user_id"), ["principal_user_id"], unique=False)

    op.create_table(
        "api_key",
        sa.Column("prefix", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"], name=op.f("fk_api_key_org_id_organization")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_api_key_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("change_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))

    head_hash, head_seq = _chain_existing_change_events()
    with op.batch_alter_table("change_event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("entry_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_change_event_seq"), ["seq"])

    head = sa.table(
        "audit_chain_head",
        sa.column("chain", sa.String),
        sa.column("seq", sa.BigInteger),
        sa.column("entry_hash", sa.String),
        sa.column("updated_at", db.base.UTCDateTime(timezone=True)),
    )
    op.bulk_insert(
        head,
        [
            {"chain": "change_event", "seq": head_seq, "entry_hash": head_hash, "updated_at": db.base.utcnow()},
            {"chain": "query_log", "seq": 0, "entry_hash": GENESIS, "updated_at": db.base.utcnow()},
        ],
    )
    _create_append_only_triggers()

    op.create_table(
        "org_tree_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_tree_version")),
    )
    fresh = "md5(random()::text)" if op.get_bind().dialect.name == "postgresql" else "lower(hex(randomblob(16)))"
    op.execute(f"INSERT INTO org_tree_version (id, token) VALUES (1, {fresh})")
    _create_org_tree_triggers()
    # ### end Alembic commands ###


def downgrade() -> None:
    _drop_org_tree_triggers()
    op.drop_table("org_tree_version")
    _drop_append_only_triggers()
    with op.batch_alter_table("change_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_change_event_seq"), type_="unique")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")

    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_user_id"))

    op.drop_table("api_key")
    with op.batch_alter_table("query_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_query_log_principal_user_id"))
        batch_op.drop_index(batch_op.f("ix_query_log_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_query_log_capability"))

    op.drop_table("query_log")
    op.drop_table("audit_chain_head")
    # ### end Alembic commands ###
