"""The caller's scope: decided once per request, applied by domain queries inside SQL.

A Scope says, per data class and action, which org ids the caller may touch, whether the
caller is a guide limited to assigned students, and which columns are hidden. Domain code
never asks "who is this?"; it only asks the Scope for SQL predicates.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Select, and_, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from db.idset import ids_in
from db.models import GuideAssignment, Student


class DataClass(enum.StrEnum):
    DIRECTORY = "directory"  # names, grade, enrollment, offerings
    CONTACT = "contact"  # addresses, phones, emails (PII)
    DEMOGRAPHICS = "demographics"  # birth date, sex, ethnicity (PII)
    ATTENDANCE = "attendance"
    # Immunization compliance: doses, exemptions, immunity evidence, provisional enrollment.
    IMMUNIZATION = "immunization"
    # Medical: medications, allergies, conditions, nurse notes.
    HEALTH = "health"
    BEHAVIOR = "behavior"
    ADMISSIONS = "admissions"
    FINANCIAL = "financial"
    AUDIT = "audit"
    # Running the network: organizations, calendars, programs and offerings, staff users, role grants, API keys.
    ADMINISTRATION = "administration"


# What each data class is called in sentences people read (runner refusals, the chat banner,
# domain refusals): specific enough to act on, never revealing data.
CLASS_WORDS: dict[DataClass, str] = {
    DataClass.DIRECTORY: "student directory records",
    DataClass.CONTACT: "contact details",
    DataClass.DEMOGRAPHICS: "demographic records",
    DataClass.ATTENDANCE: "attendance records",
    DataClass.IMMUNIZATION: "immunization records",
    DataClass.HEALTH: "health records",
    DataClass.BEHAVIOR: "behavior records",
    DataClass.ADMISSIONS: "admissions records",
    DataClass.FINANCIAL: "financial records",
    DataClass.AUDIT: "the audit log",
    DataClass.ADMINISTRATION: "administration records (organizations, staff, grants, keys)",
}


class Action(enum.StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Actor:
    """Who acts: recorded on change events and the query log."""

    user_id: uuid.UUID | None
    label: str
    operation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # How the actor was identified; None for system jobs and tests.
    kind: str | None = None
    auth_method: str | None = None
    api_key_prefix: str | None = None


@dataclass(frozen=True)
class Scope:
    actor: Actor
    # (data class, action) -> org ids the caller may touch.
    grants: Mapping[tuple[DataClass, Action], frozenset[uuid.UUID]]
    # When set, student-level rows are limited to students assigned to this guide.
    guide_user_id: uuid.UUID | None = None
    hidden_columns: frozenset[str] = frozenset()
    roles: tuple[str, ...] = ()
    # (data class, action) -> the subset of `grants` reached only through a guide relationship:
    # student rows there need an assignment. None: with guide_user_id set, every org is so limited.
    guide_orgs: Mapping[tuple[DataClass, Action], frozenset[uuid.UUID]] | None = None
    # "data_class:action" -> org paths, for the query log (what the decision was, in words).
    summary: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    policy_version: str = ""
    # The org tree the decision was made on (org id -> it and every org below it), when known.
    subtree_of: Callable[[uuid.UUID], frozenset[uuid.UUID]] | None = field(default=None, compare=False, repr=False)
    # Every org id of that tree: an allowed set covering all of them needs no id list in SQL.
    all_orgs: frozenset[uuid.UUID] | None = field(default=None, compare=False, repr=False)
    # That tree's version: anything derived from org rows alone (names, inherited settings) may be
    # remembered under it, since every change to an org row gives the tree a new version. "" when unknown.
    tree_version: str = field(default="", compare=False, repr=False)
    # The day the request is answered for: a guide's assignments count only while in force that day.
    # None (tests, system jobs): every assignment the guide ever held counts.
    today: dt.date | None = field(default=None, compare=False)

    # -- questions -------------------------------------------------------------------------

    def orgs(self, data_class: DataClass, action: Action = Action.READ) -> frozenset[uuid.UUID]:
        """Org ids the caller may touch for this data class and action."""
        return self.grants.get((data_class, action), frozenset())

    def can(self, data_class: DataClass, action: Action = Action.READ) -> bool:
        """True when the caller holds this data class and action anywhere."""
        return bool(self.orgs(data_class, action))

    def allows_org(self, org_id: uuid.UUID, data_class: DataClass, action: Action = Action.READ) -> bool:
        """True when `org_id` is inside the caller's scope for this data class and action."""
        return org_id in self.orgs(data_class, action)

    def hides(self, table: str, column: str) -> bool:
        """True when `table.column` must not be shown to the caller (its data class is not readable)."""
        return f"{table}.{column}" in self.hidden_columns

    def within(self, org_id: uuid.UUID) -> Scope | None:
        """This scope cut down to `org_id` and the orgs below it, or None when the tree is unknown.

        Exact for a query whose scope filter and subtree condition test the same org column:
        (col in allowed) and (col in subtree) is (col in allowed & subtree). The cut sets are
        small, which the planner can use (a campus question becomes `org_id = ANY('{campus}')`).
        """
        if self.subtree_of is None:
            return None
        subtree = self.subtree_of(org_id)
        grants = {key: ids & subtree for key, ids in self.grants.items()}
        guide = None if self.guide_orgs is None else {key: ids & subtree for key, ids in self.guide_orgs.items()}
        return replace(self, grants=grants, guide_orgs=guide)

    def subtree_filter(self, org_column: Any, org_id: uuid.UUID) -> ColumnElement[bool] | None:
        """`org_column IN (org_id and the orgs below it)` from the tree, or None when the tree is unknown."""
        if self.subtree_of is None:
            return None
        ids = self.subtree_of(org_id)
        return self._in_orgs(org_column, ids) if ids else false()

    def with_operation(self, operation_id: str | None = None) -> Scope:
        """The same decision for a new call (a fresh operation id groups that call's change events)."""
        return replace(self, actor=replace(self.actor, operation_id=operation_id or uuid.uuid4().hex))

    # -- SQL predicates ----------------------------------------------------------------------

    def org_filter(self, org_column: Any, data_class: DataClass, action: Action = Action.READ) -> ColumnElement[bool]:
        """`org_column IN (allowed orgs)` for rows that carry their own org."""
        ids = self.orgs(data_class, action)
        if not ids:
            return false()
        return self._in_orgs(org_column, ids)

    def _in_orgs(self, org_column: Any, ids: frozenset[uuid.UUID]) -> ColumnElement[bool]:
        """`org_column IN ids`; when `ids` is every org of the tree, just "has an org".

        A network-wide integration or admin would otherwise send every org id with each query,
        and the id list keeps PostgreSQL from walking an index in the requested order. Rows
        with no org belong to no one's scope, so they stay out either way.
        """
        if self.all_orgs is not None and ids >= self.all_orgs:
            result: ColumnElement[bool] = org_column.is_not(None)
            return result
        return ids_in(org_column, ids)

    def guide_filter(self, student_id_column: Any, *, on: dt.date | None = None) -> ColumnElement[bool]:
        """For a guide, `student_id IN (students assigned on `on`, default the request's day)`; true for everyone else."""
        if self.guide_user_id is None:
            return true()
        on = on or self.today
        assigned = select(GuideAssignment.student_id).where(GuideAssignment.guide_user_id == self.guide_user_id)
        if on is not None:
            assigned = assigned.where(
                GuideAssignment.start_on <= on,
                or_(GuideAssignment.end_on.is_(None), GuideAssignment.end_on >= on),
            )
        result: ColumnElement[bool] = student_id_column.in_(assigned)
        return result

    def row_filter(
        self,
        org_column: Any,
        student_id_column: Any,
        data_class: DataClass,
        action: Action = Action.READ,
    ) -> ColumnElement[bool]:
        """Student rows that carry their own org (enrollment, attendance, ...): org allowed and, where
        only a guide relationship reaches it, the student assigned to the guide."""
        if self.guide_user_id is None or self.guide_orgs is None:
            return and_(self.org_filter(org_column, data_class, action), self.guide_filter(student_id_column))
        limited = self.guide_orgs.get((data_class, action), frozenset())
        full = self.orgs(data_class, action) - limited
        parts: list[ColumnElement[bool]] = []
        if full:
            parts.append(self._in_orgs(org_column, full))
        if limited:
            parts.append(and_(self._in_orgs(org_column, limited), self.guide_filter(student_id_column)))
        return or_(*parts) if parts else false()

    def student_filter(self, data_class: DataClass, action: Action = Action.READ) -> ColumnElement[bool]:
        """Predicate on Student: its home org is allowed and, for a guide, it is assigned."""
        return self.row_filter(Student.org_id, Student.id, data_class, action)

    def visible_students(self, data_class: DataClass, action: Action = Action.READ) -> Select[Any]:
        """A subquery of the student ids visible for a data class (for rows keyed by student only)."""
        return select(Student.id).where(self.student_filter(data_class, action))


def scope_for_orgs(
    actor: Actor,
    org_ids: Iterable[uuid.UUID],
    *,
    classes: Iterable[DataClass] = tuple(DataClass),
    actions: Iterable[Action] = tuple(Action),
    guide_user_id: uuid.UUID | None = None,
    roles: tuple[str, ...] = (),
) -> Scope:
    """A scope granting the same org set for every listed data class and action (system jobs, tests)."""
    ids = frozenset(org_ids)
    grants = {(dc, act): ids for dc in classes for act in actions}
    return Scope(actor=actor, grants=grants, guide_user_id=guide_user_id, roles=roles)


def system_scope(label: str) -> Scope:
    """The scope a system job writes with (sis init, the enrollment job): no person and no grants, recorded
    under `label` on every change event."""
    return Scope(actor=Actor(user_id=None, label=label, kind="system", auth_method="system"), grants={})
