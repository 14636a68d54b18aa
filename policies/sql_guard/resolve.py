"""Resolution for one caller: every relation to a reporting view or a CTE/derived table, every column to a view column.

The `Checker` refuses views and columns the caller may not read, expands `*` to the readable
columns, refuses unlinked cross joins of large relations, and answers the type and lineage
questions the SQLite rendering and the output description ask later.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope as QueryScope
from sqlglot.optimizer.scope import traverse_scope

from policies.reporting import BASE_TABLES, VIEWS, ReportingView, column_readable, readable_columns, view_visible
from policies.scope import Scope
from policies.sql_guard.allowlists import CATALOG_NAMES
from policies.sql_guard.refusals import SMALL_RELATION_ROWS, Rule, refuse


@dataclass
class ViewRef:
    """One place the query names a view: the node to replace and the columns used through it."""

    view: ReportingView
    table: exp.Table
    alias: str
    used: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Resolved:
    """What a column reference points at: a view column, a derived relation's output, or a select alias."""

    ref: ViewRef | None = None
    derived: QueryScope | None = None
    name: str = ""
    select_alias: exp.Expr | None = None


class Checker:
    """Resolves relations and columns of a parsed statement for one caller."""

    def __init__(self, root: exp.Expr, scope: Scope) -> None:
        self.root = root
        self.scope = scope
        self.refs: dict[int, ViewRef] = {}
        self.resolved: dict[int, _Resolved] = {}
        try:
            self.scopes = traverse_scope(root)
        except SqlglotError as err:
            raise refuse(Rule.CONSTRUCT, f"the query's structure could not be analysed: {err}") from None
        self.by_expression: dict[int, QueryScope] = {id(s.expression): s for s in self.scopes}

    # relations

    def check_relations(self) -> None:
        cte_refs: set[int] = set()
        for qs in self.scopes:
            for alias, source in qs.sources.items():
                if isinstance(source, exp.Table) and id(source) not in self.refs:
                    self.refs[id(source)] = self._view_ref(source, alias)
            for table in self._tables_of(qs):
                if isinstance(qs.sources.get(table.alias_or_name), QueryScope):
                    cte_refs.add(id(table))
        for table in self.root.find_all(exp.Table):
            if id(table) not in self.refs and id(table) not in cte_refs:
                raise refuse(Rule.CONSTRUCT, f"the relation {table.sql()} is used where the guard cannot scope it")

    @staticmethod
    def _tables_of(qs: QueryScope) -> Iterator[exp.Table]:
        expr = qs.expression
        if not isinstance(expr, exp.Select):
            return
        from_ = expr.args.get("from_")
        items = [from_.this] if from_ is not None else []
        items += [j.this for j in expr.args.get("joins") or ()]
        for item in items:
            if isinstance(item, exp.Table):
                yield item

    def _view_ref(self, table: exp.Table, alias: str) -> ViewRef:
        name = table.name
        lower = name if table.this.quoted else name.lower()
        view = VIEWS.get(lower)
        if view is None:
            if CATALOG_NAMES.match(lower.lower()):
                raise refuse(Rule.CATALOG, f"{name} is a system catalog; only the reporting views can be queried")
            if lower.lower() in BASE_TABLES or lower.lower() in {"user_account", "query_log", "change_event"}:
                raise refuse(
                    Rule.UNKNOWN_VIEW,
                    f"{name} is a storage table, not a reporting view; describe_schema lists the views",
                )
            raise refuse(Rule.UNKNOWN_VIEW, f"there is no reporting view named {name!r}; describe_schema lists them")
        if not view_visible(self.scope, view):
            raise refuse(
                Rule.VIEW_RESTRICTED,
                f"the view {view.name} holds {view.data_class.value} data, which your role may not read",
            )
        return ViewRef(view=view, table=table, alias=alias or view.name)

    # stars

    def expand_stars(self) -> None:
        for qs in self.scopes:
            select = qs.expression
            if not isinstance(select, exp.Select):
                continue
            if not any(isinstance(e, exp.Star) or e.is_star for e in select.expressions):
                continue
            if any(j.args.get("using") for j in select.args.get("joins") or ()):
                raise refuse(Rule.STAR, "* with JOIN ... USING is ambiguous here; list the columns you need")
            expanded: list[exp.Expr] = []
            for item in select.expressions:
                if isinstance(item, exp.Star):
                    for alias in self._from_aliases(select):
                        expanded += self._columns_of_source(qs, alias)
                elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                    alias = item.table
                    if alias not in qs.sources:
                        raise refuse(Rule.UNKNOWN_COLUMN, f"{alias}.* names no relation of this query")
                    expanded += self._columns_of_source(qs, alias)
                else:
                    expanded.append(item)
            if not expanded:
                raise refuse(Rule.STAR, "* expands to no column here")
            select.set("expressions", expanded)

    @staticmethod
    def _from_aliases(select: exp.Select) -> list[str]:
        from_ = select.args.get("from_")
        if from_ is None:
            raise refuse(Rule.STAR, "* needs a FROM clause")
        items = [from_.this] + [j.this for j in select.args.get("joins") or ()]
        return [item.alias_or_name for item in items]

    def _columns_of_source(self, qs: QueryScope, alias: str) -> list[exp.Expr]:
        source = qs.sources.get(alias)
        if isinstance(source, exp.Table):
            ref = self.refs[id(source)]
            names = [c.name for c in readable_columns(self.scope, ref.view)]
        elif isinstance(source, QueryScope):
            names = _named_selects(source)
        else:
            raise refuse(Rule.STAR, f"* over {alias} cannot be expanded")
        return [exp.column(n, table=alias) for n in names]

    # columns

    def check_columns(self) -> None:
        for qs in self.scopes:
            self._check_using(qs)
        for column in list(self.root.find_all(exp.Column)):
            if isinstance(column.this, exp.Star):
                continue
            owner = self._owner(column)
            if owner is None:
                raise refuse(Rule.UNKNOWN_COLUMN, f"{column.sql()} is not inside a query")
            self.resolved[id(column)] = self._resolve(column, owner)

    def _check_using(self, qs: QueryScope) -> None:
        """JOIN ... USING (c) reads c from the join's left relations and from the joined one."""
        select = qs.expression
        if not isinstance(select, exp.Select):
            return
        aliases = self._from_aliases_or_empty(select)
        for join in select.args.get("joins") or ():
            using = [u.name for u in join.args.get("using") or ()]
            if not using:
                continue
            upto = aliases[: aliases.index(join.this.alias_or_name) + 1]
            for name in using:
                found = False
                for alias in upto:
                    source = qs.sources.get(alias)
                    if source is not None and name in self._names(source):
                        probe = exp.column(name, table=alias)
                        self._in_source(probe, qs, alias, source, name)
                        found = True
                if not found:
                    raise refuse(Rule.UNKNOWN_COLUMN, f"USING ({name}): no relation of this join has that column")

    def _owner(self, node: exp.Expr) -> QueryScope | None:
        parent = node.parent
        while parent is not None:
            found = self.by_expression.get(id(parent))
            if found is not None:
                return found
            parent = parent.parent
        return None

    def _resolve(self, column: exp.Column, owner: QueryScope) -> _Resolved:
        name = column.name if column.this.quoted else column.name.lower()
        qualifier = column.table
        level: QueryScope | None = owner
        while level is not None:
            # Only relations in this SELECT's FROM count: every CTE is in `sources` of every scope.
            selected = {alias: source for alias, (_, source) in level.selected_sources.items()}
            if qualifier:
                source = selected.get(qualifier)
                if source is not None:
                    return self._in_source(column, level, qualifier, source, name)
            else:
                hits = [a for a, s in selected.items() if name in self._names(s)]
                if len(hits) > 1 and name not in self._using(level):
                    raise refuse(
                        Rule.AMBIGUOUS_COLUMN,
                        f"column {name} exists in {', '.join(sorted(hits))}; write <alias>.{name}",
                    )
                if hits:
                    return self._in_source(column, level, hits[0], selected[hits[0]], name)
                alias_target = self._select_alias(column, level, name)
                if alias_target is not None:
                    return _Resolved(select_alias=alias_target, name=name)
            level = level.parent
        everywhere = [a for qs in self.scopes for a in qs.sources]
        if not qualifier and name in everywhere:
            raise refuse(Rule.WHOLE_ROW, f"{name} refers to a whole row; name the columns you need")
        if qualifier:
            raise refuse(Rule.UNKNOWN_COLUMN, f"{qualifier}.{name}: no relation named {qualifier} in this query")
        raise refuse(Rule.UNKNOWN_COLUMN, f"no view in this query has a column named {name}")

    def _names(self, source: exp.Table | QueryScope) -> Iterable[str]:
        if isinstance(source, exp.Table):
            return self.refs[id(source)].view.by_name
        return _named_selects(source)

    @staticmethod
    def _using(level: QueryScope) -> set[str]:
        select = level.expression
        names: set[str] = set()
        if isinstance(select, exp.Select):
            for join in select.args.get("joins") or ():
                names |= {u.name.lower() for u in join.args.get("using") or ()}
        return names

    @staticmethod
    def _select_alias(column: exp.Column, level: QueryScope, name: str) -> exp.Expr | None:
        """A bare name in GROUP BY / HAVING / ORDER BY may name an output column of the same SELECT."""
        select = level.expression
        if not isinstance(select, exp.Select | exp.SetOperation):
            return None
        clause = column.find_ancestor(exp.Group, exp.Having, exp.Order, exp.Select, exp.SetOperation)
        if not isinstance(clause, exp.Group | exp.Having | exp.Order):
            return None
        for item in select.selects:
            if item.alias_or_name == name:
                return item
        return None

    def _in_source(
        self, column: exp.Column, level: QueryScope, alias: str, source: exp.Table | QueryScope, name: str
    ) -> _Resolved:
        if isinstance(source, QueryScope):
            if name not in _named_selects(source):
                raise refuse(Rule.UNKNOWN_COLUMN, f"{alias} has no column {name}")
            return _Resolved(derived=source, name=name)
        ref = self.refs[id(source)]
        view = ref.view
        if name not in view.by_name:
            if name == alias or name == view.name:
                raise refuse(Rule.WHOLE_ROW, f"{alias}.{name} refers to a whole row; name the columns you need")
            raise refuse(
                Rule.UNKNOWN_COLUMN,
                f"the view {view.name} has no column {name}; its columns are {', '.join(view.by_name)}",
            )
        if not column_readable(self.scope, view, name):
            raise refuse(
                Rule.COLUMN_RESTRICTED,
                f"{view.name}.{name} holds {view.column_class(name).value} data, which your role may not read "
                "(it cannot be selected, filtered, joined, grouped or sorted on)",
            )
        ref.used.add(name)
        column.set("table", exp.to_identifier(alias))
        return _Resolved(ref=ref, name=name)

    # types and lineage

    def type_of(self, node: exp.Expr, depth: int = 0) -> str | None:
        """The reporting type of an expression when it can be told: uuid, date, integer or text."""
        if depth > 32:
            return None
        if isinstance(node, exp.Paren | exp.Alias):
            return self.type_of(node.this, depth + 1)
        if isinstance(node, exp.Column):
            res = self.resolved.get(id(node))
            if res is None:
                return None
            if res.ref is not None:
                return res.ref.view.by_name[res.name].type
            if res.derived is not None:
                item = _projection(res.derived.expression, res.name)
                return self.type_of(item, depth + 1) if item is not None else None
            if res.select_alias is not None:
                return self.type_of(res.select_alias, depth + 1)
            return None
        if isinstance(node, exp.Cast):
            to = node.to.this
            if to in {exp.DataType.Type.DATE}:
                return "date"
            if to in exp.DataType.INTEGER_TYPES:
                return "integer"
            if to in exp.DataType.TEXT_TYPES:
                return "text"
            if to is exp.DataType.Type.UUID:
                return "uuid"
            return None
        if isinstance(node, exp.CurrentDate | exp.TimestampTrunc | exp.DateTrunc):
            return "date"
        if isinstance(node, exp.Min | exp.Max | exp.Coalesce | exp.FirstValue | exp.LastValue | exp.Lag | exp.Lead):
            return self.type_of(node.this, depth + 1)
        if isinstance(node, exp.Add | exp.Sub):
            left, right = self.type_of(node.this, depth + 1), self.type_of(node.expression, depth + 1)
            if left == "date" and (isinstance(node.expression, exp.Interval) or right == "integer"):
                return "date"
            if isinstance(node, exp.Add) and right == "date" and isinstance(node.this, exp.Interval):
                return "date"
            if isinstance(node, exp.Sub) and left == "date" and right == "date":
                return "integer"
            return None
        if isinstance(node, exp.Literal):
            return "text" if node.is_string else ("integer" if node.name.isdigit() else None)
        return None

    def identifies_student(self, node: exp.Expr, depth: int = 0) -> bool:
        """True when an output expression carries student ids straight from a view's student column."""
        if depth > 32:
            return False
        if isinstance(node, exp.Paren | exp.Alias):
            return self.identifies_student(node.this, depth + 1)
        if isinstance(node, exp.Min | exp.Max | exp.Coalesce | exp.FirstValue | exp.LastValue | exp.Lag | exp.Lead):
            return self.identifies_student(node.this, depth + 1)
        if isinstance(node, exp.Column):
            res = self.resolved.get(id(node))
            if res is None:
                return False
            if res.ref is not None:
                return res.ref.view.by_name[res.name].identifies_student
            if res.derived is not None:
                item = _projection(res.derived.expression, res.name)
                return item is not None and self.identifies_student(item, depth + 1)
            if res.select_alias is not None:
                return self.identifies_student(res.select_alias, depth + 1)
        return False

    # cross joins

    def check_cartesian(self) -> None:
        for qs in self.scopes:
            select = qs.expression
            if not isinstance(select, exp.Select):
                continue
            aliases = [a for a in self._from_aliases_or_empty(select) if a in qs.sources]
            if len(aliases) < 2:
                continue
            groups = _Components(aliases)

            conditions: list[exp.Expr] = []
            where = select.args.get("where")
            if where is not None:
                conditions += list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
            for join in select.args.get("joins") or ():
                on = join.args.get("on")
                if on is not None:
                    conditions += list(on.flatten()) if isinstance(on, exp.And) else [on]
                if join.args.get("using"):
                    groups.link({join.this.alias_or_name, *aliases[: aliases.index(join.this.alias_or_name)]})
                if isinstance(join.this, exp.Lateral):
                    groups.link({join.this.alias_or_name} | self._aliases_used(join.this, qs))
            for condition in conditions:
                groups.link(self._aliases_used(condition, qs))
            large = [g for g in groups.groups() if any(self._is_large(qs.sources[a]) for a in g)]
            if len(large) > 1:
                names = " x ".join("+".join(g) for g in large)
                raise refuse(
                    Rule.CARTESIAN,
                    f"the query cross-joins large relations ({names}) without a join condition linking them; "
                    "add ON conditions",
                )

    @staticmethod
    def _from_aliases_or_empty(select: exp.Select) -> list[str]:
        from_ = select.args.get("from_")
        if from_ is None:
            return []
        return [from_.this.alias_or_name] + [j.this.alias_or_name for j in select.args.get("joins") or ()]

    def _aliases_used(self, node: exp.Expr, qs: QueryScope) -> set[str]:
        found: set[str] = set()
        for column in node.find_all(exp.Column):
            res = self.resolved.get(id(column))
            if res is None:
                continue
            if res.ref is not None and res.ref.alias in qs.sources:
                found.add(res.ref.alias)
            elif column.table and column.table in qs.sources:
                found.add(column.table)
        return found

    def _is_large(self, source: exp.Table | QueryScope) -> bool:
        if isinstance(source, exp.Table):
            return self.refs[id(source)].view.large
        body = source.expression
        if isinstance(body, exp.Select):
            limit = body.args.get("limit")
            if (
                isinstance(limit, exp.Limit)
                and isinstance(limit.expression, exp.Literal)
                and int(limit.expression.name) <= SMALL_RELATION_ROWS
            ):
                return False
            if not body.args.get("group") and any(e.find(exp.AggFunc) for e in body.expressions):
                return False
        return True


class _Components:
    """Connected groups of relations (union-find), linked by the conditions that join them."""

    def __init__(self, names: Iterable[str]) -> None:
        self.parent = {n: n for n in names}

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def link(self, names: Iterable[str]) -> None:
        found = [n for n in names if n in self.parent]
        for other in found[1:]:
            self.parent[self.find(other)] = self.find(found[0])

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = {}
        for name in self.parent:
            out.setdefault(self.find(name), []).append(name)
        return list(out.values())


def _projection(query: exp.Expr, name: str) -> exp.Expr | None:
    """The select-list item of `query` (its first branch for a set operation) named `name`."""
    while isinstance(query, exp.SetOperation):
        query = query.this
    if isinstance(query, exp.Subquery):
        query = query.this
    if not isinstance(query, exp.Select):
        return None
    for item in query.expressions:
        if item.alias_or_name == name:
            found: exp.Expr = item.unalias()
            return found
    return None


def _named_selects(source: QueryScope) -> list[str]:
    """The output column names of a derived table or CTE."""
    query = source.expression
    while isinstance(query, exp.Lateral | exp.Subquery):
        query = query.this
    return list(query.named_selects) if isinstance(query, exp.Query) else []
