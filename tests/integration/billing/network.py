"""A network on the empty database (no demo seed, no billing rules) with staff, run through the runner.

Rows are built in one connection's transaction, rolled back after the test; every tool call is a
savepoint of it, as the demo fixtures do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import ChangeEvent, Enrollment, Household, Organization, OrgKind, OrgLevel, ProgramOffering, RoleGrant
from policies.principal import Principal, load_principal
from tests.factories import (
    create_enrollment,
    create_household,
    create_offering,
    create_org,
    create_student,
    create_user,
)
from tools.runner import Deps, ToolCallError, ToolResult, run_tool

TODAY = dt.date(2026, 7, 20)
START, END = dt.date(2026, 8, 17), dt.date(2027, 5, 28)
TUITION = 1_200_000


@dataclass
class Network:
    deps: Deps
    root: Organization
    florida: Organization
    other: Organization
    roster: Organization
    offering: ProgramOffering
    roster_offering: ProgramOffering
    principals: dict[str, Principal]

    def call(self, who: str, tool: str, **arguments: Any) -> ToolResult:
        return run_tool(self.deps, self.principals[who], tool, arguments)

    def refused(self, who: str, tool: str, **arguments: Any) -> ToolCallError:
        try:
            self.call(who, tool, **arguments)
        except ToolCallError as err:
            return err
        raise AssertionError(f"{tool} as {who} was not refused")

    def session(self) -> Session:
        return self.deps.session_factory()

    def count(self, model: type, *where: Any) -> int:
        with self.session() as s:
            return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())

    def events_of(self, entity_id: uuid.UUID) -> set[str]:
        with self.session() as s:
            return set(s.execute(select(ChangeEvent.field).where(ChangeEvent.entity_id == str(entity_id))).scalars())

    def enrolled_child(self, offering: ProgramOffering | None = None) -> tuple[Enrollment, Household]:
        """A new student enrolled in the offering, in a household of their own at its campus."""
        offering = offering or self.offering
        with self.session() as s, s.begin():
            org = s.get_one(Organization, offering.org_id)
            student = create_student(s, org, birth_on=dt.date(2016, 4, 1))
            stint = create_enrollment(s, student, s.get_one(ProgramOffering, offering.id), start_on=offering.start_on)
            household = create_household(s, org, {student: 10_000})
        return stint, household


def _grant(session: Session, role: str, org: Organization) -> Principal:
    user = create_user(session)
    session.add(RoleGrant(id=uuid.uuid4(), user_id=user.id, role=role, org_id=org.id))
    session.flush()
    return load_principal(session, user_id=user.id, today=TODAY)


def build_network(engine: Engine) -> Iterator[Network]:
    """The network, its staff and one FULL_SIS Florida offering; rolled back afterwards."""
    with engine.connect() as connection:
        transaction = connection.begin()
        # pysqlite opens its transaction lazily: without a write first, a call's savepoint would be outermost.
        connection.exec_driver_sql("UPDATE number_sequence SET next_value = next_value WHERE 1 = 0")
        factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            with factory() as s, s.begin():
                root = create_org(s, level=OrgLevel.NETWORK, jurisdiction=None)
                florida = create_org(s, parent=root, jurisdiction="FL", name="Miami Campus")
                other = create_org(s, parent=root, name="Austin Campus")
                roster = create_org(s, parent=root, kind=OrgKind.ROSTER_ONLY, name="Partner School")
                offering = create_offering(
                    s, florida, start_on=START, end_on=END, tuition_cents=TUITION, session_label="2026-27"
                )
                roster_offering = create_offering(s, roster, start_on=START, end_on=END, tuition_cents=0)
                finance = _grant(s, "finance", root)
                principals = {
                    "finance": finance,
                    "finance_florida": _grant(s, "finance", florida),
                    "finance_other": _grant(s, "finance", other),
                    "registrar": _grant(s, "registrar", florida),
                    "director": _grant(s, "campus_director", florida),
                    "read_only_key": dataclasses.replace(finance, token_scopes=("sis.read",)),
                }
            yield Network(
                Deps(session_factory=factory, clock=lambda: TODAY),
                root,
                florida,
                other,
                roster,
                offering,
                roster_offering,
                principals,
            )
        finally:
            if transaction.is_active:
                transaction.rollback()
