"""Errors of the access rules, each named for the rule it enforces."""

from __future__ import annotations

from domain.errors import DomainError, PermissionDenied


class GrantTooWide(PermissionDenied):
    """A grant (or a change to a person holding one) would reach beyond what the caller's own grants cover."""

    code = "grant_too_wide"


class GrantRevoked(DomainError):
    code = "grant_revoked"
    status = 409


class LastAdministrator(DomainError):
    """The change would leave the network without an active network administrator at its root."""

    code = "last_administrator"
    status = 409


class UserInactive(DomainError):
    code = "user_inactive"
    status = 409


class AssignmentOverlap(DomainError):
    code = "assignment_overlap"
    status = 409


class AssignmentEnded(DomainError):
    code = "assignment_ended"
    status = 409


class ApiKeyAlreadyRevoked(DomainError):
    code = "api_key_revoked"
    status = 409
