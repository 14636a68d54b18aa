"""Errors of the organization tree's rules (DomainError subclasses; every face shows code, message, field)."""

from __future__ import annotations

from domain.errors import DomainError


class OrganizationClosed(DomainError):
    """The org (or the one it would be placed under) is closed: nothing new is created there."""

    code = "organization_closed"
    status = 409


class OrganizationInUse(DomainError):
    """The org still has active or pending enrollment stints, so it cannot be closed."""

    code = "organization_in_use"
    status = 409


class NetworkExists(DomainError):
    """`sis init` on a database that already has a root organization."""

    code = "network_exists"
    status = 409
