"""Column classes: the data class of every column of the SIS tables, which decides who may read it.

Each table has a default class (the class of its rows); columns that carry more sensitive
data than their row name their own class. A caller who cannot read a class anywhere gets its
columns in Scope.hidden_columns; domain read models and the SQL tool leave those out. Keys,
foreign keys and timestamps follow the table default. A table missing here is a test failure
(tests/unit/policies/test_columns.py), so a new table cannot ship without a decision.
"""

from __future__ import annotations

from collections.abc import Iterable

from policies.scope import DataClass

_D = DataClass

TABLE_CLASSES: dict[str, DataClass] = {
    "organization": _D.DIRECTORY,
    "user_account": _D.DIRECTORY,
    # Who may do what where: running the network (policy.csv's administration class).
    "role_grant": _D.ADMINISTRATION,
    "student": _D.DIRECTORY,
    # Ids in other systems (state, OneRoster, partners): what integrators roster by.
    "student_identifier": _D.DIRECTORY,
    "household": _D.DIRECTORY,
    "household_guardian": _D.CONTACT,
    "household_student": _D.DIRECTORY,
    "emergency_contact": _D.CONTACT,
    "guide_assignment": _D.DIRECTORY,
    "number_sequence": _D.DIRECTORY,
    "program": _D.DIRECTORY,
    "program_offering": _D.DIRECTORY,
    "enrollment": _D.DIRECTORY,
    "enrollment_event": _D.DIRECTORY,
    "school_day": _D.DIRECTORY,
    # How a campus calendar was set (first and last day, closures): running the network.
    "school_calendar": _D.ADMINISTRATION,
    "attendance_record": _D.ATTENDANCE,
    "behavior_incident": _D.BEHAVIOR,
    "immunization_record": _D.IMMUNIZATION,
    "immunization_exemption": _D.IMMUNIZATION,
    "immunity_evidence": _D.IMMUNIZATION,
    "provisional_enrollment": _D.IMMUNIZATION,
    # Medical records: the nurse keeps them, the campus director reads them.
    "medication": _D.HEALTH,
    "allergy": _D.HEALTH,
    "health_condition": _D.HEALTH,
    # Jurisdictions' published rules: reference data, not a student's record.
    "immunization_requirement": _D.DIRECTORY,
    "application": _D.ADMISSIONS,
    "change_event": _D.AUDIT,
    "query_log": _D.AUDIT,
    "audit_chain_head": _D.AUDIT,
    "api_key": _D.ADMINISTRATION,
    "org_tree_version": _D.AUDIT,
    "reference_version": _D.AUDIT,
    "cache_version": _D.AUDIT,
    "usage_counter": _D.ADMINISTRATION,
    # Billing: rules, agreements, ledgers and gateway records are all financial data.
    "fee_definition": _D.FINANCIAL,
    "discount_definition": _D.FINANCIAL,
    "discount_grant": _D.FINANCIAL,
    "payment_plan": _D.FINANCIAL,
    "refund_rule": _D.FINANCIAL,
    "billing_agreement": _D.FINANCIAL,
    "installment": _D.FINANCIAL,
    "ledger_entry": _D.FINANCIAL,
    "payment_attempt": _D.FINANCIAL,
    "billing_customer": _D.FINANCIAL,
    "gateway_event": _D.FINANCIAL,
    # Integration plumbing: events, deliveries and credentials are operational records.
    "domain_event": _D.AUDIT,
    "outbox_cursor": _D.AUDIT,
    "webhook_subscription": _D.AUDIT,
    "webhook_delivery": _D.AUDIT,
    "webhook_attempt": _D.AUDIT,
    "oauth_token": _D.AUDIT,
    "idempotency_record": _D.AUDIT,
}

COLUMN_CLASSES: dict[str, DataClass] = {
    "student.birth_on": _D.DEMOGRAPHICS,
    "student.sex": _D.DEMOGRAPHICS,
    "student.ethnicity": _D.DEMOGRAPHICS,
    "student.races": _D.DEMOGRAPHICS,
    "student.hispanic_latino": _D.DEMOGRAPHICS,
    "student.home_language": _D.DEMOGRAPHICS,
    "application.applicant_birth_on": _D.DEMOGRAPHICS,
    "application.applicant_sex": _D.DEMOGRAPHICS,
    "application.guardian_name": _D.CONTACT,
    "application.guardian_email": _D.CONTACT,
    "application.guardian_phone": _D.CONTACT,
    "student.email": _D.CONTACT,
    "student.phone": _D.CONTACT,
    "student.address": _D.CONTACT,
    "user_account.email": _D.CONTACT,
    "user_account.phone": _D.CONTACT,
    "household.address": _D.CONTACT,
    "household_student.billing_share_bp": _D.FINANCIAL,
    "program_offering.tuition_cents": _D.FINANCIAL,
}

# Never shown to anyone, whatever their roles.
NEVER_READABLE = frozenset(
    {"api_key.secret_hash", "webhook_subscription.secret", "oauth_token.token_hash", "idempotency_record.response"}
)


def column_class(table: str, column: str) -> DataClass:
    """The data class of `table.column`.

    Raises:
        KeyError: the table has no class yet (add it to TABLE_CLASSES).
    """
    return COLUMN_CLASSES.get(f"{table}.{column}") or TABLE_CLASSES[table]


def hidden_columns(readable: Iterable[DataClass], columns: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The "table.column" names among `columns` whose class is not in `readable`, plus the never-readable."""
    allowed = set(readable)
    hidden = {f"{t}.{c}" for t, c in columns if t in TABLE_CLASSES and column_class(t, c) not in allowed}
    return frozenset(hidden | NEVER_READABLE)
