"""The caller's side: bound the text, parse exactly one query, and hold every node to the allow-lists.

Runs before anything is resolved, so a refusal here depends on the text alone, never on the
caller's scope.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.tokenizer_core import TokenType

from policies.sql_guard.allowlists import (
    CAST_TYPES,
    CATALOG_NAMES,
    FUNCTIONS,
    ODD_LITERALS,
    PARAMETERS,
    PG,
    PLAIN_NAME,
    QUERY_STARTS,
    QUOTED_NAME,
    RESERVED_NAMES,
    WRITES,
)
from policies.sql_guard.refusals import MAX_NESTING, MAX_NODES, MAX_SQL_CHARS, MAX_TOKENS, Rule, refuse


def parse_statement(sql: str) -> exp.Expr:
    """Bounds, tokenize, parse: exactly one statement, whose root is a query."""
    if len(sql) > MAX_SQL_CHARS:
        raise refuse(Rule.TOO_LONG, f"the statement has {len(sql)} characters; the limit is {MAX_SQL_CHARS}")
    if "\x00" in sql:
        raise refuse(Rule.SYNTAX, "the statement contains a NUL character")
    try:
        tokens = PG.tokenize(sql)
    except TokenError as err:
        raise refuse(Rule.SYNTAX, f"the statement could not be read: {err}") from None
    if len(tokens) > MAX_TOKENS:
        raise refuse(Rule.TOO_COMPLEX, f"the statement has {len(tokens)} tokens; the limit is {MAX_TOKENS}")
    depth = deepest = 0
    for token in tokens:
        if token.token_type is TokenType.L_PAREN:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type is TokenType.R_PAREN:
            depth -= 1
    if deepest > MAX_NESTING:
        raise refuse(Rule.TOO_COMPLEX, f"parentheses nest {deepest} deep; the limit is {MAX_NESTING}")
    try:
        statements = PG.parser().parse(tokens, sql)
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        where = f" near line {first.get('line')}, column {first.get('col')}" if first else ""
        first_word = tokens[0].text.upper() if tokens else ""
        if first_word not in QUERY_STARTS:
            raise refuse(Rule.SELECT_ONLY, f"only SELECT queries are allowed, not {first_word}") from None
        raise refuse(Rule.SYNTAX, f"the statement is not valid SQL{where}: {first.get('description', err)}") from None
    except (SqlglotError, RecursionError) as err:
        raise refuse(Rule.TOO_COMPLEX, f"the statement could not be analysed ({type(err).__name__})") from None
    real = [s for s in statements if s is not None and not isinstance(s, exp.Semicolon)]
    if not real:
        raise refuse(Rule.SYNTAX, "the statement is empty")
    if len(real) > 1:
        raise refuse(
            Rule.ONE_STATEMENT,
            f"send exactly one statement; this text holds {len(real)} (separated by ';')",
        )
    root = real[0]
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise refuse(Rule.SELECT_ONLY, f"only SELECT queries are allowed, not {_kind_name(root)}")
    return root


def _kind_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


def check_nodes(root: exp.Expr, *, nodes: frozenset[type[exp.Expr]]) -> None:
    """Every node kind, function and literal kind allowed; counts bounded; shapes the rewrite relies on."""
    count = 0
    for node in root.walk():
        count += 1
        if count > MAX_NODES:
            raise refuse(Rule.TOO_COMPLEX, f"the statement has more than {MAX_NODES} syntax nodes")
        cls = type(node)
        if isinstance(node, exp.Func):
            _check_function(node)
            continue
        if cls in nodes:
            _check_shape(node)
            continue
        raise refuse(*_node_refusal(node))


def _node_refusal(node: exp.Expr) -> tuple[Rule, str]:
    if isinstance(node, WRITES):
        return Rule.WRITE, f"{_kind_name(node)} is not allowed anywhere in a query (read-only access)"
    if isinstance(node, exp.Into):
        return Rule.INTO, "SELECT ... INTO creates a table; only reading is allowed"
    if isinstance(node, exp.Lock):
        return Rule.LOCKING, "locking clauses (FOR UPDATE / FOR SHARE) are not allowed"
    if isinstance(node, exp.Dot):
        return Rule.FIELD_ACCESS, "field access on a row or composite value, e.g. (s).name, is not allowed"
    if isinstance(node, PARAMETERS):
        return Rule.PARAMETER, "bind parameters and placeholders are not allowed; write literal values"
    if isinstance(node, ODD_LITERALS):
        return Rule.LITERAL, (
            "escape, unicode-escape, dollar-quoted, byte and bit string literals (E'', U&'', $$, X'', B'') "
            "are not allowed; write a standard '...' string"
        )
    if isinstance(node, exp.Values):
        return Rule.CONSTRUCT, "VALUES lists are not allowed; query the reporting views"
    if isinstance(node, exp.TableSample):
        return Rule.CONSTRUCT, "TABLESAMPLE is not allowed"
    return Rule.CONSTRUCT, f"{type(node).__name__} syntax is not supported by the query guard"


def _check_function(node: exp.Func) -> None:
    if isinstance(node, exp.Anonymous):
        raise refuse(Rule.FUNCTION, f"function {node.name.lower()}() is not allowed")
    if node.key not in FUNCTIONS:
        name = node.sql_name().lower() if hasattr(node, "sql_name") else node.key
        raise refuse(Rule.FUNCTION, f"function {name}() is not allowed")
    if isinstance(node, exp.Exists) and not isinstance(node.this, exp.Query | exp.Subquery):
        raise refuse(Rule.CONSTRUCT, "EXISTS needs a subquery")


def _check_shape(node: exp.Expr) -> None:
    if isinstance(node, exp.Identifier):
        name = node.name
        if node.quoted:
            if not QUOTED_NAME.match(name):
                raise refuse(
                    Rule.IDENTIFIER, f"the quoted name {name!r} has characters other than ASCII letters and digits"
                )
        elif not PLAIN_NAME.match(name.lower()):
            raise refuse(Rule.IDENTIFIER, f"the name {name!r} is not a plain ASCII identifier")
        if name.lower().startswith("sis_"):
            raise refuse(Rule.IDENTIFIER, "names starting with sis_ are reserved for the query guard")
    elif isinstance(node, exp.CTE):
        name = node.alias_or_name
        if name.lower() in RESERVED_NAMES or CATALOG_NAMES.match(name.lower()):
            raise refuse(
                Rule.IDENTIFIER, f"a CTE may not be named {name!r}, the name of a storage table or system catalog"
            )
    elif isinstance(node, exp.With) and node.args.get("recursive"):
        raise refuse(Rule.RECURSIVE, "WITH RECURSIVE is not allowed; organizations.path gives every subtree")
    elif isinstance(node, exp.Distinct) and node.args.get("on") is not None:
        raise refuse(Rule.CONSTRUCT, "DISTINCT ON is not supported on every engine; use row_number() instead")
    elif isinstance(node, exp.Join):
        if node.method or node.kind.upper() in {"ANTI", "SEMI"}:
            raise refuse(Rule.CONSTRUCT, "NATURAL joins are not allowed; join ON explicit columns")
    elif isinstance(node, exp.Lateral):
        if not isinstance(node.this, exp.Subquery):
            raise refuse(Rule.TABLE_FUNCTION, "LATERAL is only allowed over a subquery")
    elif isinstance(node, exp.TableAlias) and node.args.get("columns"):
        raise refuse(Rule.CONSTRUCT, "column lists in aliases, e.g. AS s(a, b), are not allowed")
    elif isinstance(node, exp.Table):
        if not isinstance(node.this, exp.Identifier):
            raise refuse(Rule.TABLE_FUNCTION, "table functions are not allowed in FROM; query the reporting views")
        if node.args.get("db") or node.args.get("catalog"):
            schema = node.text("db").lower()
            if schema in {"pg_catalog", "information_schema"} or CATALOG_NAMES.match(node.name.lower()):
                raise refuse(Rule.CATALOG, f"{node.sql()} is a system catalog; only the reporting views exist here")
            raise refuse(Rule.SCHEMA_QUALIFIED, f"{node.sql()} names a schema; write the reporting view name alone")
        if node.args.get("joins") or node.args.get("pivots") or node.args.get("laterals"):
            raise refuse(Rule.CONSTRUCT, "this table syntax is not supported")
    elif isinstance(node, exp.Column):
        if node.args.get("db") or node.args.get("catalog"):
            raise refuse(Rule.SCHEMA_QUALIFIED, f"{node.sql()} names a schema; write <alias>.<column>")
    elif isinstance(node, exp.Star):
        parent = node.parent
        if isinstance(parent, exp.Count):
            return
        if isinstance(parent, exp.Select) and node.arg_key == "expressions":
            return
        if isinstance(parent, exp.Column) and isinstance(parent.parent, exp.Select) and parent.arg_key == "expressions":
            return
        raise refuse(Rule.STAR, "* is only allowed as a select-list item or in count(*)")
    elif isinstance(node, exp.DataType):
        if node.this not in CAST_TYPES:
            raise refuse(Rule.CONSTRUCT, f"casting to {node.sql()} is not allowed")
    elif isinstance(node, exp.Var):
        if not isinstance(node.parent, exp.Interval | exp.Extract | exp.Limit | exp.TimestampTrunc | exp.DateTrunc):
            raise refuse(Rule.CONSTRUCT, f"the keyword {node.name} is not allowed here")
    elif isinstance(node, exp.Limit | exp.Offset):
        _check_limit(node)


def _check_limit(node: exp.Limit | exp.Offset) -> None:
    value = node.expression
    if isinstance(node, exp.Limit) and isinstance(value, exp.Var) and value.name.upper() == "ALL":
        return
    if not (isinstance(value, exp.Literal) and not value.is_string and value.name.isdigit()):
        raise refuse(Rule.LIMIT, "LIMIT and OFFSET take a non-negative whole number")
