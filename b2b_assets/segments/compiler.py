"""Compile a segment to one DuckDB query: values bound as parameters, identifiers from the schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from b2b_assets.segments.language import (
    AllOf,
    AnyOf,
    Compare,
    InSegment,
    Measure,
    Node,
    Not,
    Related,
    Segment,
    SegmentError,
    Window,
)
from b2b_assets.segments.schema import (
    ENTITY_KEYS,
    ENTITY_TABLES,
    RELATIONS,
    SCOPES,
    TABLES_READ,
    Relation,
)

COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
EXAMPLES = 3
MEMBER_COLUMNS = {
    "person": ("person_id", "email", "can_email"),
    "account": ("account_id", "name", "domain", "website"),
}


@dataclass
class CompiledSegment:
    """The query that lists a segment's members with why they qualified, and its parameters."""

    segment: Segment
    sql: str
    params: dict[str, Any]
    tables: set[str] = field(default_factory=set)
    references: set[str] = field(default_factory=set)


def window_bounds(window: Window, as_of: datetime) -> tuple[datetime, datetime, bool]:
    """(start, end, end_inclusive) of a window evaluated at `as_of`; start is exclusive for
    rolling windows ("the last N days" is (as_of - N days, as_of]) and inclusive for calendars."""
    if window.unit in ("minutes", "hours", "days", "weeks"):
        return as_of - timedelta(**{window.unit: window.amount}), as_of, True
    midnight = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    month = midnight.replace(day=1)
    week = midnight - timedelta(days=midnight.weekday())
    year = month.replace(month=1)
    if window.unit == "this_month":
        return month, as_of, True
    if window.unit == "last_month":
        previous = (month - timedelta(days=1)).replace(day=1)
        return previous, month, False
    if window.unit == "this_week":
        return week, as_of, True
    if window.unit == "last_week":
        return week - timedelta(days=7), week, False
    if window.unit == "this_year":
        return year, as_of, True
    return year.replace(year=year.year - 1), year, False  # last_year


MATCHED_BY = "matched_by"  # profile.account: the matching links of its records


class SegmentCompiler:
    """Compiles segments of one environment; `in_segment` references resolve among them.

    With account matching on (`matching`), an account's `why` names the links by which its
    records were matched (`matched_by`, with their evidence)."""

    def __init__(self, segments: dict[str, Segment], as_of: datetime, matching: bool = False):
        self.segments = segments
        self.as_of = as_of
        self.matching = matching

    def compile(self, segment: Segment) -> CompiledSegment:
        state = _State(segment, self, self.as_of)
        alias = state.alias("e")
        table = ENTITY_TABLES[segment.entity]
        state.tables.add(table)
        condition = (
            state.node(segment.where, segment.entity, alias, evidence=True, stack=(segment.name,))
            if segment.where
            else "TRUE"
        )
        if self.matching and segment.entity == "account":
            state.evidence.append((MATCHED_BY, f"{alias}.{MATCHED_BY}"))
        why = ", ".join(f"'{label}': {expr}" for label, expr in state.evidence)
        columns = ", ".join(f"{alias}.{column}" for column in MEMBER_COLUMNS[segment.entity])
        key = ENTITY_KEYS[segment.entity]
        sql = (
            f"WITH members AS (SELECT {alias}.* FROM {table} {alias} WHERE {condition})\n"
            f"SELECT {columns}, to_json({{{why}}})::VARCHAR AS why\n"
            f"FROM members {alias} ORDER BY {alias}.{key}"
            if why
            else f"SELECT {columns}, '{{}}' AS why FROM {table} {alias} WHERE {condition} "
            f"ORDER BY {alias}.{key}"
        )
        return CompiledSegment(segment, sql, state.params, state.tables, state.references)


class _State:
    def __init__(self, segment: Segment, compiler: SegmentCompiler, as_of: datetime):
        self.segment = segment
        self.compiler = compiler
        self.as_of = as_of
        self.params: dict[str, Any] = {}
        self.tables: set[str] = set()
        self.references: set[str] = set()
        self.evidence: list[tuple[str, str]] = []
        self.counter = 0
        self.file = segment.file  # the file whose tree is being compiled (changes for in_segment)

    def alias(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def param(self, value: Any) -> str:
        name = f"p{len(self.params) + 1}"
        self.params[name] = value
        return f"${name}"

    def fail(self, path: str, message: str) -> SegmentError:
        return SegmentError(self.file, path, message)

    def node(
        self, node: Node, scope: str, alias: str, evidence: bool, stack: tuple[str, ...]
    ) -> str:
        if isinstance(node, AllOf):
            return (
                "("
                + " AND ".join(self.node(c, scope, alias, evidence, stack) for c in node.children)
                + ")"
            )
        if isinstance(node, AnyOf):
            return (
                "("
                + " OR ".join(self.node(c, scope, alias, evidence, stack) for c in node.children)
                + ")"
            )
        if isinstance(node, Not):
            return f"(NOT {self.node(node.child, scope, alias, False, stack)})"
        if isinstance(node, Compare):
            return self.compare(node, scope, alias)
        if isinstance(node, InSegment):
            return self.in_segment(node, scope, alias, stack)
        return self.related(node, alias, evidence, stack)

    def compare(self, node: Compare, scope: str, alias: str) -> str:
        column = SCOPES[scope].fields[node.field].sql(alias)
        op, value = node.op, node.value
        if op == "is_null":
            return f"({column} IS NULL)"
        if op == "is_not_null":
            return f"({column} IS NOT NULL)"
        if op == "ne":
            return f"({column} IS DISTINCT FROM {self.param(value)})"
        if op in COMPARISONS:
            return f"coalesce({column} {COMPARISONS[op]} {self.param(value)}, FALSE)"
        if op in ("in", "not_in"):
            listed = ", ".join(self.param(item) for item in value)
            test = f"coalesce({column} IN ({listed}), FALSE)"
            return test if op == "in" else f"(NOT {test})"
        function = "contains" if op == "contains" else "starts_with"
        return f"coalesce({function}(lower({column}), lower({self.param(value)})), FALSE)"

    def in_segment(self, node: InSegment, scope: str, alias: str, stack: tuple[str, ...]) -> str:
        other = self.compiler.segments.get(node.name)
        if other is None:
            raise self.fail(
                node.path, f"unknown segment {node.name!r}" + _known(self.compiler.segments)
            )
        if node.name in stack:
            cycle = " -> ".join((*stack, node.name))
            raise self.fail(node.path, f"segments refer to each other in a cycle: {cycle}")
        if other.entity != scope:
            raise self.fail(
                node.path, f"segment {node.name!r} is about {other.entity}s, not {scope}s"
            )
        self.references.add(node.name)
        if other.where is None:
            return "TRUE"
        outer_file, self.file = self.file, other.file
        try:
            return self.node(other.where, scope, alias, False, (*stack, node.name))
        finally:
            self.file = outer_file

    def related(self, node: Related, outer: str, evidence: bool, stack: tuple[str, ...]) -> str:
        relation: Relation = RELATIONS[node.relation]
        self.tables.update(TABLES_READ[node.relation])
        target, link = self.alias("t"), self.alias("r")
        source = relation.source.format(t=target, r=link, r2=f"{link}_2")
        filters = [relation.correlate.format(t=target, r=link, r2=f"{link}_2", o=outer)]
        if node.where is not None:
            filters.append(self.node(node.where, relation.target, target, False, stack))
        if node.window is not None:
            filters.append(self.window(node.window, relation, target))
        elif relation.until_as_of:
            time = SCOPES[relation.target].fields[relation.time_field].sql(target)
            filters.append(f"{time} <= {self.param(self.as_of)}")
        where = " AND ".join(filters)
        measure = node.measure
        if evidence:
            self.evidence.append(
                (
                    node.path.removeprefix("where."),
                    self.explain(relation, node, source, where, target),
                )
            )
        if measure.aggregate == "count" and measure.op == "gte" and measure.value == 1:
            return f"EXISTS (SELECT 1 FROM {source} WHERE {where})"
        value = self.aggregate_expr(measure, relation, target)
        return (
            f"coalesce((SELECT {value} FROM {source} WHERE {where}) "
            f"{COMPARISONS[measure.op]} {self.param(measure.value)}, FALSE)"
        )

    def aggregate_expr(self, measure: Measure, relation: Relation, target: str) -> str:
        if measure.aggregate == "count":
            return "count(*)"
        column = SCOPES[relation.target].fields[measure.field].sql(target)
        if measure.aggregate == "sum":
            return f"coalesce(sum({column}), 0)"
        return f"{measure.aggregate}({column})"

    def window(self, window: Window, relation: Relation, target: str) -> str:
        spec = SCOPES[relation.target].fields[window.field or relation.time_field]
        column = spec.sql(target)
        if spec.type == "date":
            # A date counts from its midnight UTC, whatever the session's time zone.
            column = f"(CAST({column} AS TIMESTAMP) AT TIME ZONE 'UTC')"
        start, end, inclusive = window_bounds(window, self.as_of)
        rolling = window.unit in ("minutes", "hours", "days", "weeks")
        lower = ">" if rolling else ">="
        upper = "<=" if inclusive else "<"
        return (
            f"({column} {lower} {self.param(start)} AND {column} {upper} {self.param(end)} "
            f"AND {column} <= {self.param(self.as_of)})"
        )

    def explain(
        self, relation: Relation, node: Related, source: str, where: str, target: str
    ) -> str:
        shown = relation.evidence
        if self.compiler.matching and relation.target == "account":
            shown = (*shown, MATCHED_BY)
        fields = ", ".join(f"'{name}': {target}.{name}" for name in shown)
        order = relation.order_by.format(t=target)
        value = ""
        if node.measure.aggregate != "count":
            value = f", 'value': {self.aggregate_expr(node.measure, relation, target)}"
        return (
            f"(SELECT {{'matches': count(*){value}, 'examples': "
            f"list({{{fields}}} ORDER BY {order})[1:{EXAMPLES}]}} "
            f"FROM {source} WHERE {where})"
        )


def _known(segments: dict[str, Segment]) -> str:
    return f" (known: {', '.join(sorted(segments))})" if segments else " (no segments are known)"
