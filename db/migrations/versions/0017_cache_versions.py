"""cache_version: tokens that triggers replace when what server processes remember goes stale

Every server process remembers verified credentials for a moment (policies/verified.py). A
revocation, a grant change or a deactivation made through one process (or `sis apikey revoke`,
or raw SQL) must reach every other process too, so triggers replace the `credentials` token in
the same transaction as the change: on api_key when its secret, owner, scopes, org limit, expiry
or revocation change (not last_used_at, which sign-ins write), on user_account and role_grant on
any change, and on oauth_token when one is deleted. Each process watches the token
(mcp_server/cache_watch.py); on PostgreSQL the trigger also sends NOTIFY sis_cache_version, so
the watchers hear of it at commit instead of at their next poll.

Also ix_student_roster_order, the roster's sort order (last name, first name, student number):
a keyset cursor page (domain/enrollment/roster.py) seeks it instead of sorting every stint.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

NAME = "credentials"
CHANNEL = "sis_cache_version"
# table -> (PostgreSQL events, SQLite events): what makes a remembered verification stale.
WATCHED = {
    "api_key": (
        "UPDATE OF secret_hash, user_id, org_id, scopes, expires_at, revoked_at OR DELETE OR TRUNCATE",
        ("UPDATE OF secret_hash, user_id, org_id, scopes, expires_at, revoked_at", "DELETE"),
    ),
    "user_account": ("UPDATE OR DELETE OR TRUNCATE", ("UPDATE", "DELETE")),
    "role_grant": ("INSERT OR UPDATE OR DELETE OR TRUNCATE", ("INSERT", "UPDATE", "DELETE")),
    "oauth_token": ("DELETE OR TRUNCATE", ("DELETE",)),
}


def _sqlite_trigger(table: str, event: str) -> str:
    return f"{table}_credentials_changed_{event.split()[0].lower()}"


def upgrade() -> None:
    op.create_table(
        "cache_version",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_version")),
    )
    op.create_index("ix_student_roster_order", "student", ["last_name", "first_name", "student_number"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    fresh = "md5(random()::text || clock_timestamp()::text)" if postgresql else "lower(hex(randomblob(16)))"
    op.execute(f"INSERT INTO cache_version (name, token) VALUES ('{NAME}', {fresh})")
    if postgresql:
        op.execute(f"""
            CREATE FUNCTION sis_credentials_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE cache_version SET token = {fresh} WHERE name = '{NAME}';
                PERFORM pg_notify('{CHANNEL}', '{NAME}');
                RETURN NULL;
            END $$
        """)
        for table, (events, _) in WATCHED.items():
            op.execute(
                f"CREATE TRIGGER {table}_credentials_changed AFTER {events} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION sis_credentials_changed()"
            )
        return
    for table, (_, events) in WATCHED.items():
        for event in events:
            op.execute(
                f"CREATE TRIGGER {_sqlite_trigger(table, event)} AFTER {event} ON {table} "
                f"BEGIN UPDATE cache_version SET token = {fresh} WHERE name = '{NAME}'; END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, (_, events) in WATCHED.items():
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_credentials_changed ON {table}")
            continue
        for event in events:
            op.execute(f"DROP TRIGGER IF EXISTS {_sqlite_trigger(table, event)}")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS sis_credentials_changed()")
    op.drop_table("cache_version")
    op.drop_index("ix_student_roster_order", table_name="student")
