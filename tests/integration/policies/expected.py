"""The policy matrix as the tests expect it, written out independently of policies/policy.csv.

R = read, W = write, - = nothing. A grant at a node covers the node and its descendants,
never a sibling or an ancestor; ROSTER_ONLY orgs never carry financial or admissions data.
"""

from __future__ import annotations

from policies.scope import Action, DataClass

CLASSES = (
    "directory",
    "contact",
    "demographics",
    "attendance",
    "immunization",
    "health",
    "behavior",
    "admissions",
    "financial",
    "audit",
    "administration",
)

MATRIX_TEXT = """
role              directory contact demographics attendance immunization health behavior admissions financial audit administration
network_admin        RW       RW        RW          RW          RW        RW      RW        RW         RW       R        RW
campus_director      RW       R         R           RW          R         R       RW        RW         R        -        RW
registrar            RW       RW        RW          RW          RW        -       R         R          -        -        R
nurse                R        R         R           -           RW        RW      -         -          -        -        -
finance              R        R         -           -           -         -       -         -          RW       -        -
guide                R        -         -           RW          -         -       RW        -          -        -        -
admissions           R        R         R           -           -         -       -         RW         -        -        -
auditor              R        -         -           -           -         -       -         -          -        R        R
integration          RW       -         -           -           -         -       -         -          -        -        -
"""


def _parse() -> dict[str, dict[tuple[DataClass, Action], bool]]:
    lines = [line.split() for line in MATRIX_TEXT.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    assert tuple(header) == CLASSES
    matrix: dict[str, dict[tuple[DataClass, Action], bool]] = {}
    for role, *cells in rows:
        matrix[role] = {
            (DataClass(dc), act): (act is Action.READ and "R" in cell) or (act is Action.WRITE and "W" in cell)
            for dc, cell in zip(header, cells, strict=True)
            for act in Action
        }
    return matrix


EXPECTED = _parse()
ROLES = tuple(EXPECTED)
FULL_SIS_ONLY = frozenset({DataClass.FINANCIAL, DataClass.ADMISSIONS})


def role_allows(role: str, data_class: DataClass, action: Action) -> bool:
    """What the matrix above says `role` may do with `data_class`."""
    return EXPECTED[role][(data_class, action)]
