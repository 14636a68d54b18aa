"""Version tokens: has the org tree changed, have the reference tables, without asking again.

Database triggers replace a token on every change to what it describes (migration 0002:
org_tree_version for organizations; 0006: reference_version per reference table), so a value
derived from those rows alone may be remembered under the token. A request asks for the tokens
first, so on PostgreSQL the pool's checkout reads them all in the round trip that proves the
connection alive, and keeps them in the connection's info.

The rule: tokens read at checkout are current only until the connection writes.

- A `before_cursor_execute` listener keeps them across compiled SELECTs and drops them on any
  other statement (DML, DDL, text, exec_driver_sql), since a write may change what they describe.
- A raw-driver execution (cursor.execute on the DBAPI connection) bypasses the listener, so any
  raw-driver WRITE must drop the tokens itself: call `drop_tokens(connection)` before it. The
  audit append (domain/audit/chain.py) and the scale loader (db/demo/bulk.py) do. The guarded
  SQL runner (domain/reporting/service.py) need not: it runs read-only
  (SET TRANSACTION READ ONLY, PRAGMA query_only) on a checkout of its own.
- A token is taken once: asking again reads the table.

`install` is what makes an engine keep the rule; db/engine.py calls it for every PostgreSQL
engine. SQLite has no checkout read (a local file read costs no round trip); there every
question reads the table.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import CompoundSelect, Connection, Engine, Select, event, func, select
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from db.models import Organization, OrgTreeVersion, ReferenceVersion

_VERSIONS_SQL = (
    "SELECT 'org_tree', token FROM org_tree_version WHERE id = 1 UNION ALL SELECT name, token FROM reference_version"
)
_TOKENS_KEY = "sis_versions"
_ORG_TREE = "org_tree"


def _check_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Prove a pooled connection alive before use (what pool_pre_ping does), reading the tokens.

    A dead connection raises DisconnectionError, and the pool replaces it and tries again. Before
    the migrations there are no version tables; the request then reads them itself.
    """
    record.info.pop(_TOKENS_KEY, None)
    # Outside a transaction, as SQLAlchemy's own ping runs (psycopg refuses to toggle inside one).
    toggle = not dbapi_connection.autocommit
    try:
        if toggle:
            dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            rows = cursor.execute(_VERSIONS_SQL).fetchall()
    except (psycopg.OperationalError, psycopg.InterfaceError) as err:
        raise DisconnectionError(str(err)) from err
    except psycopg.Error:
        return
    finally:
        if toggle and not dbapi_connection.closed and dbapi_connection.autocommit:
            dbapi_connection.autocommit = False
    record.info[_TOKENS_KEY] = {str(name): str(token) for name, token in rows}


def _keep_tokens_across_reads_only(
    conn: Connection, _cursor: Any, _sql: str, _params: Any, context: Any, *_: Any
) -> None:
    compiled = getattr(context, "compiled", None)
    if compiled is None or not isinstance(compiled.statement, Select | CompoundSelect):
        drop_tokens(conn)


def install(engine: Engine) -> None:
    """Read the tokens at checkout (the liveness check too) and drop them on every non-SELECT."""
    event.listen(engine.pool, "checkout", _check_out)
    event.listen(engine, "before_cursor_execute", _keep_tokens_across_reads_only)


def drop_tokens(connection: Connection) -> None:
    """Forget the tokens read at checkout: call before writing through the raw driver."""
    connection.info.pop(_TOKENS_KEY, None)


def _taken_at_checkout(connection: Connection, name: str) -> str | None:
    tokens: dict[str, str] | None = connection.info.get(_TOKENS_KEY)
    return None if tokens is None else tokens.pop(name, None)


def reference_version(session: Session, name: str) -> str:
    """The current token of reference table `name`; "" when it has none (then remember nothing)."""
    connection = session.connection()
    fresh = _taken_at_checkout(connection, name)
    if fresh is not None:
        return fresh
    token = connection.execute(select(ReferenceVersion.token).where(ReferenceVersion.name == name)).scalar_one_or_none()
    return "" if token is None else str(token)


_ORG_TREE_TOKEN = select(OrgTreeVersion.token).where(OrgTreeVersion.id == 1)


def org_tree_token(session: Session) -> str:
    """The org_tree_version token: as read by the connection's checkout when still fresh, else read now."""
    connection = session.connection()
    fresh = _taken_at_checkout(connection, _ORG_TREE)
    if fresh is not None:
        return fresh
    token = connection.execute(_ORG_TREE_TOKEN).scalar_one_or_none()
    if token is not None:
        return str(token)
    # Without the version row (never expected after migration 0002), fingerprint the table itself.
    fingerprint = session.execute(
        select(
            func.count(Organization.id).label("orgs"),
            func.max(Organization.created_at).label("created"),
            func.max(Organization.updated_at).label("updated"),
        )
    ).one()
    return f"{fingerprint.orgs}|{fingerprint.created}|{fingerprint.updated}"
