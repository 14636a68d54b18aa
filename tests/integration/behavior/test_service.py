"""Behavior incidents: scoped, filtered, newest-first listing and audited recording."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from db.models import BehaviorIncident, ChangeEvent, Organization, OrgLevel, Severity, Student
from domain.behavior.schemas import BehaviorIncidentQuery, RecordBehaviorIncidentInput
from domain.behavior.service import list_behavior_incidents, record_behavior_incident
from domain.errors import InvalidInput, NotFound, PermissionDenied
from policies.scope import Action, Actor, DataClass, scope_for_orgs
from tests.factories import assign_guide, create_org, create_student, create_user, scope_at

TODAY = dt.date(2025, 10, 15)


@dataclass
class Network:
    network: Organization
    austin: Organization
    miami: Organization


@pytest.fixture()
def net(session):
    network = create_org(session, level=OrgLevel.NETWORK)
    return Network(network, create_org(session, parent=network), create_org(session, parent=network))


def incident(session, student: Student, *, on=TODAY, severity=Severity.LOW, category="disruption", org=None):
    row = BehaviorIncident(
        id=uuid.uuid4(),
        student_id=student.id,
        org_id=org.id if org else student.org_id,
        occurred_on=on,
        category=category,
        severity=severity,
        description="what happened",
    )
    session.add(row)
    session.flush()
    return row


def listed(session, scope, **kw):
    return [i.id for i in list_behavior_incidents(session, scope, BehaviorIncidentQuery(**kw)).items]


def test_incidents_are_listed_newest_first(session, net):
    student = create_student(session, net.austin)
    old = incident(session, student, on=dt.date(2025, 9, 1))
    new = incident(session, student, on=dt.date(2025, 10, 1))
    middle = incident(session, student, on=dt.date(2025, 9, 15))

    assert listed(session, scope_at(net.austin)) == [new.id, middle.id, old.id]


def test_min_severity_keeps_that_level_and_above(session, net):
    student = create_student(session, net.austin)
    by_level = {s: incident(session, student, severity=s) for s in Severity}

    kept = set(listed(session, scope_at(net.austin), min_severity=Severity.HIGH))

    assert kept == {by_level[Severity.HIGH].id, by_level[Severity.CRITICAL].id}
    assert len(listed(session, scope_at(net.austin), min_severity=Severity.LOW)) == 4


def test_date_range_is_inclusive_at_both_ends(session, net):
    student = create_student(session, net.austin)
    before = incident(session, student, on=dt.date(2025, 8, 31))
    first = incident(session, student, on=dt.date(2025, 9, 1))
    last = incident(session, student, on=dt.date(2025, 9, 30))
    after = incident(session, student, on=dt.date(2025, 10, 1))

    got = listed(session, scope_at(net.austin), start_on=dt.date(2025, 9, 1), end_on=dt.date(2025, 9, 30))

    assert got == [last.id, first.id]
    assert before.id not in got and after.id not in got


def test_category_filter_ignores_case(session, net):
    student = create_student(session, net.austin)
    bullying = incident(session, student, category="Bullying")
    incident(session, student, category="disruption")

    assert listed(session, scope_at(net.austin), category="bullying") == [bullying.id]


def test_student_filter_keeps_one_students_incidents(session, net):
    one, other = create_student(session, net.austin), create_student(session, net.austin)
    mine = incident(session, one)
    incident(session, other)

    assert listed(session, scope_at(net.austin), student_id=one.id) == [mine.id]


def test_org_filter_includes_the_whole_subtree(session, net):
    in_austin = incident(session, create_student(session, net.austin))
    in_miami = incident(session, create_student(session, net.miami))
    director = scope_at(net.network, descendants=[net.austin, net.miami])

    assert set(listed(session, director, org_id=net.network.id)) == {in_austin.id, in_miami.id}
    assert listed(session, director, org_id=net.miami.id) == [in_miami.id]


def test_pages_report_total_and_next_offset(session, net):
    student = create_student(session, net.austin)
    ids = [incident(session, student, on=TODAY - dt.timedelta(days=n)).id for n in range(5)]

    first = list_behavior_incidents(session, scope_at(net.austin), BehaviorIncidentQuery(limit=2))
    last = list_behavior_incidents(session, scope_at(net.austin), BehaviorIncidentQuery(limit=2, offset=4))

    assert (first.total, first.next_offset, last.next_offset) == (5, 2, None)
    assert [i.id for i in first.items] == ids[:2]
    assert [i.id for i in last.items] == ids[4:]


def test_listed_incident_carries_the_students_name(session, net):
    student = create_student(session, net.austin, first_name="Ana", last_name="Ruiz")
    incident(session, student)

    [item] = list_behavior_incidents(session, scope_at(net.austin), BehaviorIncidentQuery()).items

    assert (item.first_name, item.last_name, item.student_number) == ("Ana", "Ruiz", student.student_number)


# -- scope on reads -----------------------------------------------------------------------------


def test_registrar_sees_only_own_campus_incidents(session, net):
    mine = incident(session, create_student(session, net.austin))
    incident(session, create_student(session, net.miami))

    page = list_behavior_incidents(session, scope_at(net.austin), BehaviorIncidentQuery())

    assert [i.id for i in page.items] == [mine.id]
    assert page.total == 1


def test_guide_sees_only_assigned_students_incidents(session, net):
    guide = create_user(session)
    assigned, other = create_student(session, net.austin), create_student(session, net.austin)
    assign_guide(session, guide, assigned, start_on=dt.date(2025, 8, 1))
    mine = incident(session, assigned)
    incident(session, other)
    guide_scope = scope_at(net.austin, guide_user_id=guide.id)

    assert listed(session, guide_scope) == [mine.id]
    with pytest.raises(NotFound):
        listed(session, guide_scope, student_id=other.id)


def test_out_of_scope_org_is_not_found(session, net):
    with pytest.raises(NotFound):
        listed(session, scope_at(net.austin), org_id=net.miami.id)


def test_caller_without_behavior_access_sees_no_incidents(session, net):
    incident(session, create_student(session, net.austin))
    no_behavior = scope_at(net.austin, classes=(DataClass.DIRECTORY, DataClass.ATTENDANCE))

    assert listed(session, no_behavior) == []


# -- recording -----------------------------------------------------------------------------------


def record_input(student, **kw):
    kw.setdefault("occurred_on", TODAY)
    kw.setdefault("category", "disruption")
    kw.setdefault("severity", Severity.MEDIUM)
    kw.setdefault("description", "threw a chair")
    return RecordBehaviorIncidentInput(student_id=student.id, **kw)


def test_recorded_incident_is_listed_and_logged(session, net):
    student = create_student(session, net.austin)
    reporter = create_user(session)
    scope = scope_for_orgs(Actor(user_id=reporter.id, label="dean"), [net.austin.id])

    read = record_behavior_incident(
        session, scope, record_input(student, action_taken="parent call", reason="dean's report"), today=TODAY
    )

    assert listed(session, scope) == [read.id]
    assert (read.org_id, read.reported_by_user_id, read.severity) == (net.austin.id, reporter.id, Severity.MEDIUM)
    assert read.recorded_at is not None
    events = session.execute(
        select(ChangeEvent.field, ChangeEvent.new_value, ChangeEvent.reason).where(
            ChangeEvent.entity_type == "behavior_incident", ChangeEvent.entity_id == str(read.id)
        )
    ).all()
    fields = {field: (new, reason) for field, new, reason in events}
    assert fields["severity"] == ("medium", "dean's report")
    assert fields["action_taken"] == ("parent call", "dean's report")


def test_incident_dated_today_is_accepted_and_tomorrow_is_rejected(session, net):
    student = create_student(session, net.austin)

    record_behavior_incident(session, scope_at(net.austin), record_input(student), today=TODAY)
    with pytest.raises(InvalidInput) as raised:
        record_behavior_incident(
            session, scope_at(net.austin), record_input(student, occurred_on=TODAY + dt.timedelta(days=1)), today=TODAY
        )
    assert raised.value.field == "occurred_on"


def test_read_only_caller_gets_permission_denied(session, net):
    student = create_student(session, net.austin)

    with pytest.raises(PermissionDenied):
        record_behavior_incident(
            session, scope_at(net.austin, actions=(Action.READ,)), record_input(student), today=TODAY
        )
    assert listed(session, scope_at(net.austin)) == []


def test_out_of_scope_student_is_not_found_when_recording(session, net):
    in_miami = create_student(session, net.miami)

    with pytest.raises(NotFound):
        record_behavior_incident(session, scope_at(net.austin), record_input(in_miami), today=TODAY)


def test_guide_records_incidents_only_for_assigned_students(session, net):
    guide = create_user(session)
    assigned, other = create_student(session, net.austin), create_student(session, net.austin)
    assign_guide(session, guide, assigned, start_on=dt.date(2025, 8, 1))
    guide_scope = scope_at(net.austin, guide_user_id=guide.id)

    record_behavior_incident(session, guide_scope, record_input(assigned), today=TODAY)
    with pytest.raises(NotFound):
        record_behavior_incident(session, guide_scope, record_input(other), today=TODAY)
