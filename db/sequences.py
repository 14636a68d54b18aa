"""Gap-free human-readable numbers (student numbers) from a counter row, on both engines."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from db.models import NumberSequence

STUDENT_NUMBER = "student_number"
FIRST_STUDENT_NUMBER = 100001


def allocate_numbers(session: Session, name: str, count: int = 1, *, start: int = FIRST_STUDENT_NUMBER) -> range:
    """Reserve `count` consecutive numbers from the named counter inside the caller's transaction.

    The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite), so concurrent
    transactions serialise on the counter and never hand out the same number twice.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    bumped = session.execute(
        update(NumberSequence)
        .where(NumberSequence.name == name)
        .values(next_value=NumberSequence.next_value + count)
        .returning(NumberSequence.next_value)
    ).scalar_one_or_none()
    if bumped is None:
        session.execute(insert(NumberSequence).values(name=name, next_value=start + count))
        return range(start, start + count)
    return range(bumped - count, bumped)
