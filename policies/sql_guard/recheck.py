"""The regenerated text: parse what will execute and hold it to the allow-lists again, now over the real tables.

The last line of the guard's own defence: a rewrite that lost a scope filter or let in a node the
caller could not write is refused here rather than run.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from policies.sql_guard.allowlists import FINAL_ANONYMOUS, FINAL_FUNCTIONS, FINAL_NODES
from policies.sql_guard.refusals import EngineDialect, Rule, refuse


def recheck(text: str, dialect: EngineDialect, tables: frozenset[str], placeholders: int) -> None:
    """Parse the text to execute and hold it to the same allow-lists, now over the real tables."""
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except SqlglotError as err:
        raise refuse(Rule.RECHECK, f"the rewritten statement did not parse back ({err})") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select | exp.SetOperation):
        raise refuse(Rule.RECHECK, "the rewritten statement is not a single query")
    root = statements[0]
    ctes = {cte.alias_or_name for cte in root.find_all(exp.CTE)}
    if ctes & tables:
        raise refuse(Rule.RECHECK, "a CTE of the rewritten statement shadows a storage table")
    seen = 0
    for node in root.walk():
        if isinstance(node, exp.Func):
            if node.key not in FINAL_FUNCTIONS[dialect]:
                raise refuse(Rule.RECHECK, f"the rewritten statement calls {node.key}")
            if isinstance(node, exp.Anonymous) and node.name.lower() not in FINAL_ANONYMOUS[dialect]:
                raise refuse(Rule.RECHECK, f"the rewritten statement calls {node.name}")
            continue
        if type(node) not in FINAL_NODES[dialect]:
            raise refuse(Rule.RECHECK, f"the rewritten statement contains {type(node).__name__}")
        if isinstance(node, exp.Parameter | exp.Placeholder):
            seen += 1
        elif isinstance(node, exp.Table):
            _recheck_table(node, tables, ctes)
    if seen != placeholders:
        raise refuse(Rule.RECHECK, "the rewritten statement lost a scope parameter")


def _recheck_table(node: exp.Table, tables: frozenset[str], ctes: set[str]) -> None:
    if isinstance(node.this, exp.Anonymous) and node.this.name.lower() == "json_each":
        if not all(isinstance(a, exp.Placeholder) for a in node.this.expressions):
            raise refuse(Rule.RECHECK, "json_each over a value that is not a scope parameter")
        return
    if node.args.get("db") or node.args.get("catalog") or not isinstance(node.this, exp.Identifier):
        raise refuse(Rule.RECHECK, f"the rewritten statement reads {node.sql()}")
    if node.name in tables:
        select = node.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        if where is None or where.find(exp.Parameter, exp.Placeholder) is None:
            raise refuse(Rule.RECHECK, f"the rewritten statement reads {node.name} without its scope filter")
        return
    if node.name not in ctes:
        raise refuse(Rule.RECHECK, f"the rewritten statement reads {node.name}")
