"""Named personas of the demo data set (`<role>_<place>` in tests, emails in the seed)."""

from __future__ import annotations

PERSONAS = {
    "admin": "admin@sis.example",
    "registrar.austin": "registrar.austin@sis.example",
    "registrar.miami": "registrar.miami@sis.example",
    "nurse.austin": "nurse.austin@sis.example",
    "finance": "finance@sis.example",
    "guide.austin": "guide.austin@sis.example",
    "auditor": "auditor@sis.example",
    "integration.partner": "integration.partner@sis.example",
    "director.miami": "director.miami@sis.example",
    "admissions.austin": "admissions.austin@sis.example",
}


def email_of(name: str) -> str:
    """The email of a persona given by short name or email."""
    return PERSONAS.get(name, name)
