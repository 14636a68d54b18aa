"""The one path every capability call takes: validate -> authorize -> scope -> service -> audit.

MCP, REST and chat call `run_tool` and nothing else; none of them checks permissions or
writes audit entries itself. A successful call commits its writes together with its
query-log entry; a failed call rolls back and is logged in a transaction of its own, so
denials and invalid input are on the record too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError, InvalidRequestError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import is_lock_timeout, reading_first, take_write_lock
from db.models import QueryOutcome
from domain.access.usage import WINDOWS, LimitState, RateLimited, RateLimits, count_call
from domain.audit.querylog import record_query
from domain.billing.gateway import PaymentGateway
from domain.errors import DataDefect, DomainError, NotFound, PermissionDenied
from domain.webhooks.config import WebhookConfig
from policies.authorize import build_scope
from policies.enforcer import PolicyEnforcer, default_enforcer
from policies.principal import Principal
from policies.scope import CLASS_WORDS, Action, DataClass, Scope
from policies.verified import RecentlyVerified
from tools.auth_guard import AuthGuard
from tools.catalog import ToolContext, ToolSpec, load_catalog, validation_message
from tools.chat_settings import ChatSettings
from tools.query_slots import QuerySlots

log = logging.getLogger("sis.tools")

# What a caller refused for a busy SQLite database is told to wait (REST: the Retry-After header).
BUSY_RETRY_SECONDS = 2


@dataclass(frozen=True)
class Deps:
    """What the runner and the faces need from the composition root (mcp_server/wiring.py builds it)."""

    session_factory: sessionmaker[Session]
    enforcer: PolicyEnforcer = field(default_factory=default_enforcer)
    clock: Callable[[], dt.date] = dt.date.today
    # The faces' memory of credentials verified moments ago: one per Deps, shared by no other app.
    recently_verified: RecentlyVerified = field(default_factory=RecentlyVerified)
    chat: ChatSettings = field(default_factory=ChatSettings)
    # The payment gateway billing charges through; None disables online charging.
    gateway: PaymentGateway | None = None
    # How many run_sql statements may run at once, per key and overall (tools/query_slots.py).
    query_slots: QuerySlots = field(default_factory=QuerySlots)
    # Throttling and audit of failed authentications on every face (tools/auth_guard.py).
    auth_guard: AuthGuard = field(default_factory=AuthGuard)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    # Plan defaults for API keys and OAuth clients without limits of their own (domain/access/usage.py).
    rate_defaults: RateLimits = field(default_factory=RateLimits)


class ToolCallError(Exception):
    """A call that did not produce a result: what went wrong, in words a model or person can act on."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        audit_seq: int | None = None,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.audit_seq, self.status = code, message, field, audit_seq, status
        # What an HTTP face sends with the refusal (Retry-After and RateLimit-* for a rate limit).
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field, "audit_seq": self.audit_seq}


@dataclass(frozen=True)
class ToolResult:
    name: str
    output: BaseModel
    audit_seq: int
    student_ids: tuple[str, ...]
    # `output` as JSON data (the runner dumps it once to find the disclosed students; faces reuse it).
    data: dict[str, Any]
    # The caller's tightest rate-limit window after this call (HTTP faces send it as RateLimit-* headers).
    limit: LimitState | None = None


def refusal_message(data_class: DataClass, action: Action) -> str:
    """'health records are not visible to your role' and the like."""
    words = CLASS_WORDS[data_class]
    if action is Action.READ:
        return (
            f"{words} are not visible to your role"
            if not words.startswith("the ")
            else f"{words} is not visible to your role"
        )
    return f"your role may not change {words}"


def permitted(scope: Scope, principal: Principal, spec: ToolSpec) -> bool:
    """True when the caller's scope and credential allow the tool's data class and action anywhere."""
    if spec.data_class is None:
        # Open to every caller (whoami, one's own API keys); a write still needs a key that may write.
        return spec.read_only or any(principal.token_allows(dc, Action.WRITE) for dc in DataClass)
    return scope.can(spec.data_class, spec.action) and principal.token_allows(spec.data_class, spec.action)


def visible_tools(deps: Deps, principal: Principal) -> list[ToolSpec]:
    """The catalog entries this principal may call (what tools/list shows), sorted by name."""
    catalog = load_catalog()
    with deps.session_factory() as session:
        reading_first(session)
        scope = build_scope(session, deps.enforcer, principal)
    return [spec for name, spec in sorted(catalog.items()) if permitted(scope, principal, spec)]


def _student_ids(value: Any, fields: Iterable[str]) -> set[str]:
    names = set(fields)
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key in names and isinstance(item, str | uuid.UUID):
                    found.add(str(item))
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return found


def _row_count(output: BaseModel) -> int:
    count = getattr(output, "row_count", None)
    if isinstance(count, int):
        return count
    items = getattr(output, "items", None)
    if isinstance(items, list):
        return len(items)
    points = getattr(output, "points", None)
    return len(points) if isinstance(points, list) else 1


def _query_log_fields(source: object) -> dict[str, Any]:
    """Extra query-log fields a result or error offers (run_sql: its SQL, the students disclosed, the decision)."""
    fields = getattr(source, "query_log_fields", None)
    return dict(fields()) if callable(fields) else {}


_OUTCOME = {
    NotFound: QueryOutcome.NOT_FOUND,
    PermissionDenied: QueryOutcome.DENIED,
    RateLimited: QueryOutcome.DENIED,
}


# Query-log argument keys the server sets; a caller's argument of the same name is kept beside them.
# `export` marks the download of an answer's rows as a file (record_export).
_SERVER_KEYS = ("channel", "guard", "export")


def _logged_arguments(given: dict[str, Any], channel: str, guard: Any) -> dict[str, Any]:
    """The arguments as the query log records them: the caller's, then the server's own fields, which
    a caller cannot spoof (an argument named `channel` or `guard` is logged as `caller:channel`)."""
    logged = {(f"caller:{k}" if k in _SERVER_KEYS else k): v for k, v in given.items()}
    logged["channel"] = channel
    if guard:
        logged["guard"] = guard
    return logged


def _without_transaction_block(session: Session) -> None:
    """Run an `autocommit_read` tool's statements without BEGIN/COMMIT on PostgreSQL (two round trips fewer).

    Under READ COMMITTED every statement takes its own snapshot anyway, so a transaction block
    gives such a read nothing; the call's one write, its query-log entry, is a single statement and
    atomic on its own, and the answer is returned only after it is written. SQLite keeps its
    transaction (there, BEGIN costs no round trip).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # A session that joined a caller's transaction (tests, nested use) stays inside it.
    with contextlib.suppress(InvalidRequestError):
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def run_tool(
    deps: Deps,
    principal: Principal,
    name: str,
    arguments: dict[str, Any] | None,
    *,
    channel: str = "mcp",
    progress: Callable[[str, int, int], None] | None = None,
) -> ToolResult:
    """Run one capability as `principal`.

    Raises:
        ToolCallError: unknown tool, invalid input, not found, permission denied, a broken business
            rule, or an internal failure (logged, never shown as a stack trace).
    """
    started = time.perf_counter()
    call_id = uuid.uuid4().hex
    raw = dict(arguments or {})
    catalog = load_catalog()
    spec = catalog.get(name)
    actor = principal.actor(call_id)

    def fail(
        code: str,
        message: str,
        outcome: QueryOutcome,
        *,
        field: str | None = None,
        status: int = 400,
        scope: Scope | None = None,
        purpose: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> ToolCallError:
        extra = extra or {}
        arguments = _logged_arguments(raw, channel, extra.get("details"))
        try:
            with deps.session_factory.begin() as session:
                entry = record_query(
                    session,
                    actor,
                    capability=name,
                    scope=scope,
                    arguments=arguments,
                    purpose=purpose,
                    outcome=outcome,
                    error_code=code,
                    error_message=message,
                    duration_us=int((time.perf_counter() - started) * 1_000_000),
                    sql_original=extra.get("sql_original"),
                    sql_executed=extra.get("sql_executed"),
                )
        except OperationalError as err:
            if not is_lock_timeout(err):
                raise
            # SQLite still held by other writers past the busy timeout: the refusal stands, and the
            # server log (not the chain) is the only place it can be written now.
            log.warning("tool %s refused (%s, call %s) while SQLite was busy; no query-log entry", name, code, call_id)
            return ToolCallError(code, message, field=field, status=status, headers=headers)
        return ToolCallError(code, message, field=field, audit_seq=entry.seq, status=status, headers=headers)

    if spec is None:
        raise fail("unknown_tool", f"no tool named {name!r}", QueryOutcome.INVALID, status=404)
    try:
        data = spec.input_model.model_validate(raw)
    except ValidationError as err:
        message, where = validation_message(err)
        raise fail("invalid_input", message, QueryOutcome.INVALID, field=where, status=422) from None

    scope: Scope | None = None

    def internal_error() -> ToolCallError:
        log.exception("tool %s failed (call %s)", name, call_id)
        return fail(
            "internal_error",
            f"the server could not answer (call {call_id}); the failure was logged",
            QueryOutcome.ERROR,
            status=500,
            scope=scope,
            purpose=data.purpose,
        )

    try:
        # A capped tool (run_sql) waits for its slot before its session takes a connection.
        with deps.query_slots.hold(name, principal), deps.session_factory.begin() as session:
            if spec.autocommit_read:
                _without_transaction_block(session)
            elif spec.read_only:
                reading_first(session)  # SQLite: many readers at once; the write lock only for the log entry
            scope = build_scope(session, deps.enforcer, principal, operation_id=call_id, today=deps.clock())
            if not permitted(scope, principal, spec):
                if spec.data_class is None:
                    raise PermissionDenied("your API key is read-only: it may not change anything")
                raise PermissionDenied(refusal_message(spec.data_class, spec.action))
            limit = _count_call(deps, principal, session)
            ctx = ToolContext(
                today=deps.clock(),
                principal=principal,
                call_id=call_id,
                gateway=deps.gateway,
                enforcer=deps.enforcer,
                progress=progress,
                webhooks=deps.webhooks,
            )
            output = spec.handler(session, scope, data, ctx)
            dumped = output.model_dump(mode="json")
            extra = _query_log_fields(output)
            found = _student_ids(dumped, spec.student_id_fields) | {str(s) for s in extra.get("student_ids", ())}
            students = tuple(sorted(found))
            arguments = _logged_arguments(
                data.model_dump(mode="json", exclude={"purpose"}), channel, extra.get("details")
            )
            take_write_lock(session)
            entry = record_query(
                session,
                actor,
                capability=name,
                scope=scope,
                arguments=arguments,
                purpose=data.purpose,
                student_ids=students,
                row_count=_row_count(output),
                outcome=QueryOutcome.OK,
                duration_us=int((time.perf_counter() - started) * 1_000_000),
                sql_original=extra.get("sql_original"),
                sql_executed=extra.get("sql_executed"),
            )
        for prefix in ctx.stale_keys:  # committed: a request from now on re-reads the key and its owner
            deps.recently_verified.forget_key(prefix)
        return ToolResult(name=name, output=output, audit_seq=entry.seq, student_ids=students, data=dumped, limit=limit)
    except DataDefect:  # stored data broke a rule the code relies on: a defect, not the caller's mistake
        raise internal_error() from None
    except IntegrityError:
        # A unique or foreign-key rule the checks above let through: another call committed the same
        # row first (two first definitions of one code at once). Nothing was saved; trying again gets
        # the rule's own clear refusal. The constraint is logged here, never shown.
        log.warning("tool %s lost a write race (call %s)", name, call_id, exc_info=True)
        raise fail(
            "conflict",
            "another change to the same record was saved at the same moment; nothing was saved, try again",
            QueryOutcome.INVALID,
            status=409,
            scope=scope,
            purpose=data.purpose,
        ) from None
    except DomainError as err:
        outcome = next((o for cls, o in _OUTCOME.items() if isinstance(err, cls)), QueryOutcome.INVALID)
        headers = {"Retry-After": str(err.retry_after), **err.state.headers()} if isinstance(err, RateLimited) else None
        raise fail(
            err.code,
            err.message,
            outcome,
            field=err.field,
            status=err.status,
            scope=scope,
            purpose=data.purpose,
            extra=_query_log_fields(err),
            headers=headers,
        ) from None
    except OperationalError as err:
        if not is_lock_timeout(err):
            raise internal_error() from None
        # SQLite: other writers held the database longer than the busy timeout. Nothing was saved.
        log.warning("tool %s timed out waiting for the SQLite write lock (call %s)", name, call_id)
        raise fail(
            "busy",
            f"the database is busy with other changes; nothing was saved, try again in {BUSY_RETRY_SECONDS} seconds",
            QueryOutcome.ERROR,
            status=503,
            scope=scope,
            purpose=data.purpose,
        ) from None
    except Exception:  # a bug (a stray ValueError included): rules raise DomainError subclasses
        raise internal_error() from None


def _count_call(deps: Deps, principal: Principal, session: Session) -> LimitState | None:
    """Count the call against its credential's limits, in the call's transaction (RateLimited when over)."""
    subject = principal.rate_subject
    if subject is None:
        return None
    own = RateLimits(*principal.rate_limits) if principal.rate_limits else RateLimits()
    limits = own.over(deps.rate_defaults)
    if limits == RateLimits() or not any(limits.of(w) for w in WINDOWS):
        return None
    return count_call(session, subject, limits, dt.datetime.now(dt.UTC))


def record_refusal(
    deps: Deps,
    principal: Principal,
    name: str,
    arguments: dict[str, Any],
    *,
    reason: str,
    channel: str,
    code: str = "not_confirmed",
    outcome: QueryOutcome = QueryOutcome.DENIED,
) -> int | None:
    """Log a call that was refused before it ran (a chat write the person did not confirm), as run_tool logs
    its refusals; the entry's sequence number, or None when a busy SQLite database kept it out of the log."""
    given = {k: v for k, v in arguments.items() if k != "purpose"}
    purpose = arguments.get("purpose")
    try:
        with deps.session_factory.begin() as session:
            entry = record_query(
                session,
                principal.actor(uuid.uuid4().hex),
                capability=name,
                arguments=_logged_arguments(given, channel, None),
                purpose=purpose if isinstance(purpose, str) else None,
                outcome=outcome,
                error_code=code,
                error_message=reason,
            )
    except OperationalError as err:
        if not is_lock_timeout(err):
            raise
        log.warning("refusal of %s (%s) not logged: SQLite was busy", name, code)
        return None
    return entry.seq


def record_export(
    deps: Deps,
    principal: Principal,
    name: str,
    export: dict[str, Any],
    *,
    channel: str,
    student_ids: Iterable[str],
    row_count: int,
) -> int:
    """Log the download of rows a call of `name` answered (a chat table as a file) as a disclosure of its own,
    once the caller is checked to be still allowed to call `name`; the entry's sequence number.

    Raises:
        ToolCallError: the caller may no longer call `name` (logged as denied), or a busy SQLite database
            kept the entry out of the log (then nothing may be handed out).
    """
    started = time.perf_counter()
    spec = load_catalog().get(name)
    actor = principal.actor(uuid.uuid4().hex)
    arguments = {"export": export, "channel": channel}
    try:
        with deps.session_factory.begin() as session:
            reading_first(session)
            scope = build_scope(session, deps.enforcer, principal, operation_id=actor.operation_id, today=deps.clock())
            refusal = _export_refusal(scope, principal, spec, name)
            take_write_lock(session)
            entry = record_query(
                session,
                actor,
                capability=name,
                scope=scope,
                arguments=arguments,
                student_ids=() if refusal else student_ids,
                row_count=None if refusal else row_count,
                outcome=QueryOutcome.DENIED if refusal else QueryOutcome.OK,
                error_code="permission_denied" if refusal else None,
                error_message=refusal,
                duration_us=int((time.perf_counter() - started) * 1_000_000),
            )
    except OperationalError as err:
        if not is_lock_timeout(err):
            raise
        log.warning("download of %s rows refused: SQLite was busy, so it could not be logged", name)
        raise ToolCallError(
            "busy",
            f"the database is busy; nothing was downloaded, try again in {BUSY_RETRY_SECONDS} seconds",
            status=503,
        ) from None
    if refusal:
        raise ToolCallError("permission_denied", refusal, audit_seq=entry.seq, status=403)
    return entry.seq


def _export_refusal(scope: Scope, principal: Principal, spec: ToolSpec | None, name: str) -> str | None:
    """Why the caller may not take home rows of `name` now (a role or key changed since the answer), or None."""
    if spec is None:
        return f"no tool named {name!r}"
    if permitted(scope, principal, spec):
        return None
    if spec.data_class is None:
        return "your API key may not use this tool"
    return refusal_message(spec.data_class, spec.action)
