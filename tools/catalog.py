"""The tool catalog: one definition per capability, shared by MCP, REST and chat.

A tool is a plain function `(session, scope, data, ctx) -> OutputModel` decorated with
`@tool(...)`. The decorator reads the input model from the `data` annotation (a domain input
model, which it extends with the runner's `purpose`, or an explicit ToolInput subclass when
the tool changes a field), the output model from the return annotation and the description from the docstring (written for a
model: what it does, when to use it, where its ids come from, what makes it fail), and
records the permission the tool needs. Nothing here checks permissions or audits: the
runner (tools/runner.py) is the one path every call takes.

Every call runs in one transaction. A benchmarked hot read may opt out on PostgreSQL with
`autocommit_read=True`; `tool` says when that is safe.
"""

from __future__ import annotations

import datetime as dt
import decimal
import inspect
import math
import types
import typing
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator
from sqlalchemy.orm import Session

from domain.errors import InvalidInput
from domain.webhooks.config import WebhookConfig
from policies.enforcer import PolicyEnforcer, default_enforcer
from policies.scope import Action, DataClass, Scope

if TYPE_CHECKING:
    from domain.billing.gateway import PaymentGateway
    from policies.principal import Principal


class ToolInput(BaseModel):
    """Base of every tool input: unknown arguments are errors; `purpose` is recorded (FERPA 99.32)."""

    model_config = ConfigDict(extra="forbid")

    purpose: str | None = Field(
        default=None,
        max_length=300,
        description="Why you need this information (recorded in the disclosure log with your identity).",
    )

    # Fields whose own check refuses NUL with a better message (run_sql: the SQL guard's syntax rule).
    nul_checked_elsewhere: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_text_for_integers(cls, value: object, info: ValidationInfo) -> object:
        """An integer field takes a JSON number, never the string "5": what the schema says is what it takes."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, str) and field is not None and _integer_annotation(field.annotation):
            raise ValueError("must be an integer (a JSON number), not a string")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object, info: ValidationInfo) -> object:
        """NUL cannot be stored in a PostgreSQL text column (nor shown): refuse it up front, on every face."""
        if info.field_name not in cls.nul_checked_elsewhere and _holds_nul(value):
            raise ValueError("text must not contain NUL (0x00) characters")
        if _out_of_range(value):
            raise ValueError(f"numbers must be finite and between -{MAX_NUMBER} and {MAX_NUMBER}")
        return value

    def as_domain(self, model: type[M], **filled: object) -> M:
        """This input as the domain `model`, with the defaults the tool fills in (`as_of` = today...).

        Raises:
            InvalidInput: a filled-in default breaks one of the model's rules (end_on before the
                default start of the school year): the caller's input, not a bug.
        """
        try:
            return model(**self.model_dump(exclude={"purpose"}) | filled)
        except ValidationError as err:
            message, where = validation_message(err)
            raise InvalidInput(message, field=where) from None


M = TypeVar("M", bound=BaseModel)


# The widest number any input may carry (2**53 - 1: exact in JSON and within every integer column),
# whatever its own field allows: a bigger one is the caller's mistake, never an overflow in the database.
MAX_NUMBER = 2**53 - 1


def _integer_annotation(annotation: object) -> bool:
    """int, or int | None (booleans are not integers here)."""
    if annotation is int:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members == [int]
    return False


def _out_of_range(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > MAX_NUMBER
    if isinstance(value, float):
        return not math.isfinite(value) or abs(value) > MAX_NUMBER
    if isinstance(value, decimal.Decimal):
        return not value.is_finite() or abs(value) > MAX_NUMBER
    if isinstance(value, list | tuple | set | frozenset):
        return any(_out_of_range(item) for item in value)
    if isinstance(value, dict):
        return any(_out_of_range(v) for v in value.values())
    if isinstance(value, BaseModel):
        return any(_out_of_range(getattr(value, name)) for name in type(value).model_fields)
    return False


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, BaseModel):
        return any(_holds_nul(getattr(value, name)) for name in type(value).model_fields)
    return False


def validation_message(err: ValidationError) -> tuple[str, str | None]:
    """'invalid arguments: end_on: ...' and the first field named, from a pydantic error."""
    parts, first_field = [], None
    for problem in err.errors()[:5]:
        where = ".".join(str(p) for p in problem["loc"]) or "input"
        first_field = first_field or where
        parts.append(f"{where}: {problem['msg']}")
    return "invalid arguments: " + "; ".join(parts), first_field


@dataclass(frozen=True)
class ToolContext:
    """What a tool may know about the call besides its input: the day, who asked, the payment gateway."""

    today: dt.date
    principal: Principal
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # None: online charging is disabled (no gateway configured).
    gateway: PaymentGateway | None = None
    # The policy the call was authorized with (what each role may do): the access tools compare grants with it.
    enforcer: PolicyEnforcer = field(default_factory=default_enforcer)
    # API key prefixes whose remembered verification the runner drops once the call commits
    # (a deactivated owner, a revoked key or grant must be refused on the very next request).
    stale_keys: set[str] = field(default_factory=set)
    # (stage, done, total) reports of a long write, for a face that shows progress (the CLI); None: nobody asks.
    progress: Callable[[str, int, int], None] | None = None
    # The operator's webhook rules (URL policy, per-org cap, the key sealing signing secrets).
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)


Handler = Callable[[Session, Scope, Any, ToolContext], BaseModel]
F = TypeVar("F", bound=Callable[..., BaseModel])


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_model: type[ToolInput]
    output_model: type[BaseModel]
    # None: open to every authenticated caller (whoami); the handler then reads only the caller's own data.
    data_class: DataClass | None
    action: Action
    handler: Handler
    idempotent: bool = False
    destructive: bool = False
    # Names of output fields (searched recursively) that carry student ids, for the disclosure log.
    student_id_fields: tuple[str, ...] = ("student_id",)
    # A read whose statements run without BEGIN/COMMIT on PostgreSQL (see `tool`).
    autocommit_read: bool = False
    # Its answer is a credential, shown once: never offered to the chat's language model, never kept
    # by the REST idempotency store.
    returns_secret: bool = False

    @property
    def read_only(self) -> bool:
        return self.action is Action.READ


CATALOG: dict[str, ToolSpec] = {}


def tool(
    *,
    data_class: DataClass | None,
    action: Action = Action.READ,
    title: str | None = None,
    idempotent: bool | None = None,
    destructive: bool = False,
    student_id_fields: Iterable[str] = ("student_id",),
    autocommit_read: bool = False,
    returns_secret: bool = False,
) -> Callable[[F], F]:
    """Register a tool in the catalog under its function name.

    Every call runs in one transaction unless a read opts out with `autocommit_read=True`: on
    PostgreSQL its statements then run without BEGIN/COMMIT, two round trips fewer (the runner's
    `_without_transaction_block`). Opt in only for a hot read that a benchmark measures (bench/),
    and only when each of its statements stands alone: under READ COMMITTED each takes its own
    snapshot, so a read whose statements must agree on one snapshot, or that uses SET LOCAL, a
    server-side cursor or a lock, stays in its transaction.
    """
    if autocommit_read and action is not Action.READ:
        raise TypeError("autocommit_read is for reads: a write keeps its transaction")

    def register(fn: F) -> F:
        hints = get_type_hints(fn)
        input_model, output_model = _tool_input(fn, hints.get("data")), hints.get("return")
        if not (isinstance(output_model, type) and issubclass(output_model, BaseModel)):
            raise TypeError(f"tool {fn.__name__}: must return a pydantic model")
        description = inspect.getdoc(fn)
        if not description:
            raise TypeError(f"tool {fn.__name__}: the docstring is the description the model reads")
        if fn.__name__ in CATALOG:
            raise ValueError(f"tool {fn.__name__} is registered twice")
        CATALOG[fn.__name__] = ToolSpec(
            name=fn.__name__,
            title=title or fn.__name__.replace("_", " ").capitalize(),
            description=description,
            input_model=input_model,
            output_model=output_model,
            data_class=data_class,
            action=action,
            handler=fn,
            idempotent=action is Action.READ if idempotent is None else idempotent,
            destructive=destructive,
            student_id_fields=tuple(student_id_fields),
            autocommit_read=autocommit_read,
            returns_secret=returns_secret,
        )
        return fn

    return register


def _tool_input(fn: Callable[..., Any], hinted: object) -> type[ToolInput]:
    """The tool's input model: `hinted` itself if it is a ToolInput, else `hinted` plus `purpose`.

    The handler receives the validated object as is: it already is an instance of the domain
    model it was annotated with, so it goes straight to the service.
    """
    if isinstance(hinted, type) and issubclass(hinted, ToolInput):
        return hinted
    if not (isinstance(hinted, type) and issubclass(hinted, BaseModel)):
        raise TypeError(f"tool {fn.__name__}: `data` must be annotated with a pydantic input model")
    name = "".join(part.capitalize() for part in fn.__name__.split("_")) + "ToolInput"
    bases: tuple[type[BaseModel], ...] = (ToolInput, hinted)
    model = create_model(name, __base__=bases, __module__=fn.__module__, __doc__=hinted.__doc__)
    return cast("type[ToolInput]", model)


_loaded = False


def load_catalog() -> dict[str, ToolSpec]:
    """Import every tool module once (registration happens on import) and return the catalog."""
    global _loaded
    if not _loaded:
        import importlib
        import pkgutil

        import tools

        for module in pkgutil.iter_modules(tools.__path__):
            if module.name not in {"catalog", "runner"}:
                importlib.import_module(f"tools.{module.name}")
        _loaded = True
    return CATALOG
