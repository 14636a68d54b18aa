"""Errors named for the rule they enforce; every face turns them into a clear message."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule was violated; `code` is stable, `message` says what to fix."""

    code = "domain_error"
    status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class NotFound(DomainError):
    """The thing does not exist, or is outside the caller's scope (the two look the same)."""

    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    """The thing is visible to the caller but the action is not allowed."""

    code = "permission_denied"
    status = 403


class InvalidInput(DomainError):
    code = "invalid_input"


class DataDefect(DomainError):
    """Stored data breaks a rule the code relies on (a malformed configuration row).

    A defect to fix in the data, never the caller's mistake: the runner answers it as an
    internal error and logs it, and its message does not reach the caller.
    """

    code = "internal_error"
    status = 500


class OfferingClosed(DomainError):
    code = "offering_closed"
    status = 409


class OfferingFull(DomainError):
    code = "offering_full"
    status = 409


class GradeNotOffered(DomainError):
    code = "grade_not_offered"


class EnrollmentOverlap(DomainError):
    code = "enrollment_overlap"
    status = 409


class EnrollmentNotActive(DomainError):
    code = "enrollment_not_active"
    status = 409


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409


class NotApplicable(DomainError):
    """The capability does not apply to this org (e.g. admissions or billing at a ROSTER_ONLY school)."""

    code = "not_applicable"
    status = 409


class BillingSharesInvalid(DomainError):
    code = "billing_shares_invalid"


class DuplicateRecord(DomainError):
    code = "duplicate_record"
    status = 409


class MergeConflict(DomainError):
    """Two student records cannot be merged until a conflict between their rows is resolved."""

    code = "merge_conflict"
    status = 409


class NotASchoolDay(DomainError):
    """The date is not an instructional day of the campus (no SchoolDay row)."""

    code = "not_a_school_day"
