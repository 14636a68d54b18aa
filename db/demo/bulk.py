"""Bulk loading of generated rows: tuples buffered per table, written by a background thread.

Rows go in through the fastest path each engine offers (COPY on PostgreSQL, executemany of
pre-bound tuples on SQLite), in foreign-key order, inside the one transaction `bulk_load`
opens, so a failed run leaves nothing behind. The scale generator (`db/demo/scale.py`) uses it.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Uuid

from db.base import Base
from db.freshness import drop_tokens
from db.models import (
    AttendanceRecord,
    BehaviorIncident,
    Enrollment,
    EnrollmentEvent,
    GuideAssignment,
    Household,
    HouseholdGuardian,
    HouseholdStudent,
    ImmunizationRecord,
    Organization,
    Program,
    ProgramOffering,
    RoleGrant,
    SchoolDay,
    Student,
    User,
)

SQLITE_CACHE_KIB = 131_072

# Columns written for each table, in the order the generator builds its tuples.
COLUMNS: dict[type[Base], tuple[str, ...]] = {
    Organization: (
        "id", "parent_id", "slug", "name", "level", "kind", "path", "timezone", "jurisdiction", "is_active",
        "created_at", "updated_at",
    ),
    User: ("id", "email", "display_name", "kind", "phone", "is_active", "created_at", "updated_at"),
    RoleGrant: ("id", "user_id", "role", "org_id", "granted_at", "expires_on"),
    Program: ("id", "org_id", "code", "name", "kind", "created_at", "updated_at"),
    ProgramOffering: (
        "id", "program_id", "org_id", "name", "session_label", "start_on", "end_on", "status", "capacity",
        "tuition_cents", "grade_min", "grade_max", "previous_offering_id", "created_at", "updated_at",
    ),
    SchoolDay: ("org_id", "day_on"),
    Household: ("id", "org_id", "name", "address", "created_at", "updated_at"),
    HouseholdGuardian: ("id", "household_id", "user_id", "relationship", "is_primary", "contact_priority"),
    Student: (
        "id", "student_number", "org_id", "first_name", "last_name", "birth_on", "grade_level", "sex", "address",
        "created_at", "updated_at",
    ),
    HouseholdStudent: ("id", "household_id", "student_id", "billing_share_bp"),
    Enrollment: (
        "id", "student_id", "offering_id", "org_id", "grade_level", "start_on", "end_on", "status", "exit_reason",
        "previous_enrollment_id", "created_at", "updated_at",
    ),
    EnrollmentEvent: (
        "enrollment_id", "event_type", "from_status", "to_status", "effective_on", "reason", "actor_user_id",
        "occurred_at",
    ),
    GuideAssignment: ("id", "guide_user_id", "student_id", "org_id", "start_on", "end_on"),
    ImmunizationRecord: (
        "id", "student_id", "org_id", "vaccine_group", "cvx_code", "product", "administered_on", "source",
        "recorded_at",
    ),
    AttendanceRecord: ("student_id", "org_id", "day_on", "status", "note", "recorded_by_user_id", "recorded_at"),
    BehaviorIncident: (
        "id", "student_id", "org_id", "occurred_on", "category", "severity", "description", "action_taken",
        "reported_by_user_id", "recorded_at",
    ),
}  # fmt: skip


Batch = dict[type[Base], list[tuple[Any, ...]]]


class BulkWriter:
    """Buffers generated tuples per table; a background thread writes each flushed batch in FK order.

    Generating rows is Python work and writing them is mostly database work (the server process,
    or SQLite's C code with the GIL released), so the two overlap. At most two batches wait in
    the queue, which keeps memory bounded by the chunk size.
    """

    def __init__(self, conn: Connection) -> None:
        driver = conn.connection.driver_connection
        if driver is None:
            raise RuntimeError("the connection has no DBAPI driver connection")
        self.driver: Any = driver
        drop_tokens(conn)  # it writes through the driver, which the freshness listener does not see
        self.dialect = conn.dialect
        self.buffers: Batch = defaultdict(list)
        self.counts: dict[type[Base], int] = defaultdict(int)
        self.converters: dict[type[Base], Callable[[tuple[Any, ...]], tuple[Any, ...]]] = {}
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.drain, name="seed-scale-writer", daemon=True)

    def __enter__(self) -> BulkWriter:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.put(None, check=False)
        self.thread.join()
        if exc_type is None:
            self.check()

    def add(self, model: type[Base], row: tuple[Any, ...]) -> None:
        """Buffer one row for `model` (a tuple in COLUMNS order)."""
        self.buffers[model].append(row)

    def flush(self) -> None:
        """Hand the buffered rows to the writer thread (blocks while two batches are waiting)."""
        batch, self.buffers = self.buffers, defaultdict(list)
        for model, rows in batch.items():
            self.counts[model] += len(rows)
        self.put(batch)

    def put(self, batch: Batch | None, *, check: bool = True) -> None:
        """Queue a batch for the writer thread, re-raising its failure instead of waiting forever."""
        while True:
            if check:
                self.check()
            try:
                self.queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def check(self) -> None:
        """Raise the writer thread's failure, if any."""
        if self.error is not None:
            raise RuntimeError("writing scale data failed") from self.error

    def drain(self) -> None:
        """The writer thread: write batches until the closing None; after a failure, only drain."""
        while (batch := self.queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                for model in COLUMNS:
                    if batch.get(model):
                        self.write(model, batch[model])
            except BaseException as exc:  # handed to the generating thread, which raises it
                self.error = exc

    def write(self, model: type[Base], rows: list[tuple[Any, ...]]) -> None:
        """Write rows of one table: COPY on PostgreSQL, executemany of bound tuples on SQLite."""
        table, columns = model.__tablename__, COLUMNS[model]
        if self.dialect.name == "postgresql":
            with self.driver.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            convert = self.converter(model)
            marks = ", ".join("?" * len(columns))
            self.driver.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", [convert(r) for r in rows]
            )

    def converter(self, model: type[Base]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        """SQLAlchemy's own bind processors per column, so raw inserts store exactly what the ORM would."""
        if model not in self.converters:
            table = model.__table__
            active = []
            for i, name in enumerate(COLUMNS[model]):
                column_type = table.c[name].type
                process = column_type.dialect_impl(self.dialect).bind_processor(self.dialect)
                if process is None:
                    continue
                # Dates, timestamps and enum strings repeat a lot: convert each distinct value once.
                active.append((i, process if isinstance(column_type, Uuid) else _memoized(process)))

            def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
                values = list(row)
                for i, process in active:
                    if values[i] is not None:
                        values[i] = process(values[i])
                return tuple(values)

            self.converters[model] = convert
        return self.converters[model]


def _memoized(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`process` with a cache of every value it has seen."""
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = converted = process(value)
            return converted

    return convert


# SQLite settings for the load's connection only: no fsync until the commit, and a page cache
# large enough that inserting random UUID keys into the indexes does not thrash the disk.
_SQLITE_BULK_PRAGMAS = {"synchronous": "OFF", "cache_size": str(-SQLITE_CACHE_KIB)}


@contextmanager
def bulk_load(engine: Engine) -> Iterator[Connection]:
    """One connection and one transaction for the whole load, with SQLite tuned for bulk inserts."""
    with engine.connect() as conn:
        saved: dict[str, Any] = {}
        # Pragmas go straight to the driver: SQLite refuses some of them inside a transaction,
        # and every statement through SQLAlchemy opens one (db/engine.py emits BEGIN).
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            for pragma, value in _SQLITE_BULK_PRAGMAS.items():
                saved[pragma] = raw.execute(f"PRAGMA {pragma}").fetchone()[0]
                raw.execute(f"PRAGMA {pragma} = {value}")
        try:
            with conn.begin():
                yield conn
        finally:
            # Pooled connections keep their pragmas: put back what the engine set (db/engine.py).
            for pragma, value in saved.items():
                assert raw is not None
                raw.execute(f"PRAGMA {pragma} = {value}")
