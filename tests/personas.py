"""The demo personas by the one name they have everywhere: their key in db/demo/personas.py."""

from __future__ import annotations

from db.demo.personas import PERSONAS as _DEMO

PERSONAS = {p.key: p.email for p in _DEMO}


def email_of(name: str) -> str:
    """The email of a persona given by key (`registrar_austin`) or by email; an unknown key is an error."""
    if "@" in name:
        return name
    if name not in PERSONAS:
        raise KeyError(f"no demo persona {name!r}; the keys are {', '.join(PERSONAS)}")
    return PERSONAS[name]
