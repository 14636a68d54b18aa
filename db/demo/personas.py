"""Named staff personas of the demo data set: who they are, their role and where it is granted.

Anyone trying the system (README, `sis demo`, tests) logs in as one of these. Each persona holds
exactly one role grant at the org node whose materialized path is `org_path`; a grant covers the
node's whole subtree, so a grant at the network root covers every campus.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.models import UserKind

NETWORK_PATH = "/alpha/"
ACADEMY_BRAND_PATH = "/alpha/academy/"
AUSTIN_PATH = "/alpha/academy/austin/"
MIAMI_PATH = "/alpha/academy/miami/"
LAKESIDE_PATH = "/alpha/connect/lakeside/"

# How many Austin students the guide persona coaches (GuideAssignment rows).
GUIDE_AUSTIN_STUDENTS = 8


@dataclass(frozen=True)
class Persona:
    """A demo login: one user and the single role it holds at one org node."""

    key: str
    email: str
    display_name: str
    role: str
    org_path: str
    description: str
    kind: UserKind = UserKind.STAFF


PERSONAS: tuple[Persona, ...] = (
    Persona(
        key="network_admin",
        email="admin@sis.example",
        display_name="Dana Whitfield",
        role="network_admin",
        org_path=NETWORK_PATH,
        description="Network administrator: every campus, every data class, user and role management.",
    ),
    Persona(
        key="registrar_austin",
        email="registrar.austin@sis.example",
        display_name="Rosa Delgado",
        role="registrar",
        org_path=AUSTIN_PATH,
        description="Austin registrar: enrollments, transfers, withdrawals, households and attendance at Austin.",
    ),
    Persona(
        key="registrar_miami",
        email="registrar.miami@sis.example",
        display_name="Camila Herrera",
        role="registrar",
        org_path=MIAMI_PATH,
        description="Miami registrar: the same duties as Austin's, limited to the Miami campus.",
    ),
    Persona(
        key="nurse_austin",
        email="nurse.austin@sis.example",
        display_name="Janet Okafor",
        role="nurse",
        org_path=AUSTIN_PATH,
        description="Austin school nurse: immunizations, exemptions, medications and allergies at Austin.",
    ),
    Persona(
        key="finance_academy",
        email="finance@sis.example",
        display_name="Priya Raman",
        role="finance",
        org_path=ACADEMY_BRAND_PATH,
        description="Finance for the Alpha Academy brand (Austin, Miami, Brownsville): tuition, ledgers, plans.",
    ),
    Persona(
        key="guide_austin",
        email="guide.austin@sis.example",
        display_name="Maria Santos",
        role="guide",
        org_path=AUSTIN_PATH,
        description=f"Austin guide coaching {GUIDE_AUSTIN_STUDENTS} students; sees only her assigned students.",
    ),
    Persona(
        key="auditor_network",
        email="auditor@sis.example",
        display_name="Greg Holloway",
        role="auditor",
        org_path=NETWORK_PATH,
        description="Compliance auditor: reads the query log and change history across the network.",
    ),
    Persona(
        key="integration_lakeside",
        email="integration.partner@sis.example",
        display_name="Lakeside Roster Sync",
        role="integration",
        org_path=LAKESIDE_PATH,
        description="API client of the Lakeside partner school (roster only): OneRoster reads, enrollment CRUD.",
        kind=UserKind.CLIENT,
    ),
    Persona(
        key="director_miami",
        email="director.miami@sis.example",
        display_name="Andre Baptiste",
        role="campus_director",
        org_path=MIAMI_PATH,
        description="Miami campus director: reads everything about Miami's students, approves exceptions.",
    ),
    Persona(
        key="admissions_austin",
        email="admissions.austin@sis.example",
        display_name="Kelsey Park",
        role="admissions",
        org_path=AUSTIN_PATH,
        description="Austin admissions lead: applications, shadow days, offers and acceptances.",
    ),
)

PERSONAS_BY_KEY: dict[str, Persona] = {p.key: p for p in PERSONAS}
PERSONAS_BY_EMAIL: dict[str, Persona] = {p.email: p for p in PERSONAS}


def persona(key: str) -> Persona:
    """The persona named `key` (e.g. "registrar_austin"); KeyError when there is none."""
    return PERSONAS_BY_KEY[key]
