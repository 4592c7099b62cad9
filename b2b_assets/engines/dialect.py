"""The project's SQL, written once in DuckDB's dialect, translated for Spark SQL.

SQLGlot translates the syntax and the functions it knows. What it cannot know is done here,
on the parsed query, before it writes Spark SQL:
- the reading-rule macros (`sources/sql_macros.py`) are replaced by their bodies;
- `UNION ALL BY NAME` becomes a plain `UNION ALL` with each branch's columns in the first
  branch's order (a branch without a column gets NULL for it, as in DuckDB);
- `AS MATERIALIZED` on a common table expression is dropped (a hint, not a meaning);
- `$name` parameters become constants.
These keep the query valid DuckDB (`portable`). Then, children first, the forms Spark writes or
reads differently get Spark's (`_spark_form`): ordered lists, anchored full matches, regular
expression replacements, lambda indexes, `to_json`'s null fields, and the functions of
`FUNCTIONS`.

A construct with no portable form raises `NotPortable`, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from functools import cache

import sqlglot
from sqlglot import exp

from b2b_assets.sources.sql_macros import MACROS

READ, WRITE = "duckdb", "spark"


class NotPortable(ValueError):
    """A query uses a DuckDB construct that has no Spark form."""


def _regexp_full_match(args: list[exp.Expression]) -> exp.Expression:
    value, pattern = args
    if not isinstance(pattern, exp.Literal):
        raise NotPortable("regexp_full_match with a pattern that is not a constant")
    anchored = exp.Literal.string(f"^(?:{pattern.this})$")
    return exp.RegexpLike(this=value, expression=anchored)


def _json_valid(args: list[exp.Expression]) -> exp.Expression:
    (value,) = args
    # Spark parses JSON into a VARIANT, or NULL when the text is not JSON.
    return exp.Not(
        this=exp.Is(
            this=exp.Anonymous(this="try_parse_json", expressions=[value]), expression=exp.Null()
        )
    )


# How DuckDB's `to_json` writes an instant (UTC): Spark writes all six digits of the fraction,
# then `JSON_FRACTION_TRIMS` drop its trailing zeros (and a dot left alone), as DuckDB does. The
# rewrites match only a whole JSON string in exactly that shape (six digits of fraction).
JSON_TIMESTAMP = "yyyy-MM-dd HH:mm:ss.SSSSSSx"
_JSON_INSTANT = '("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})'
JSON_FRACTION_TRIMS = (
    (_JSON_INSTANT + '[.](?=[0-9]{6}[+-])([0-9]*[1-9])0+([+-][0-9]{2}")', "$1.$2$3"),
    (_JSON_INSTANT + '[.]000000([+-][0-9]{2}")', "$1$2"),
)


def _to_json_as_duckdb(node: exp.Expression) -> exp.Expression:
    """DuckDB's `to_json` writes a record's null fields, and instants as `JSON_TIMESTAMP`;
    Spark's leaves null fields out unless asked, and writes instants in ISO form."""
    if not (isinstance(node, exp.Anonymous) and node.name.lower() == "to_json"):
        return node
    if len(node.expressions) != 1:
        return node
    keep = exp.Anonymous(
        this="map",
        expressions=[
            exp.Literal.string("ignoreNullFields"),
            exp.Literal.string("false"),
            exp.Literal.string("timestampFormat"),
            exp.Literal.string(JSON_TIMESTAMP),
        ],
    )
    written: exp.Expression = exp.Anonymous(
        this="to_json", expressions=[node.expressions[0].copy(), keep]
    )
    for pattern, replacement in JSON_FRACTION_TRIMS:
        written = exp.Anonymous(
            this="regexp_replace",
            expressions=[
                written,
                exp.Literal.string(pattern),
                exp.Literal.string(replacement),
            ],
        )
    return written


def _error(args: list[exp.Expression]) -> exp.Expression:
    return exp.Anonymous(this="raise_error", expressions=args)


def _zero_based_index(node: exp.ArrayFilter) -> exp.Expression:
    """DuckDB numbers a lambda's second parameter (the element's index) from 1, Spark from 0."""
    function = node.expression
    if not isinstance(function, exp.Lambda) or len(function.expressions) < 2:
        return node
    index = function.expressions[1].name

    def shift(inner: exp.Expression) -> exp.Expression:
        # The body names the parameter as a bare identifier (or a column without a table).
        named = (isinstance(inner, exp.Column) and not inner.table) or (
            isinstance(inner, exp.Identifier) and not isinstance(inner.parent, exp.Column)
        )
        if named and inner.name == index:
            plain = exp.to_identifier(index)
            return exp.Paren(this=exp.Add(this=plain, expression=exp.Literal.number(1)))
        return inner

    node = node.copy()
    node.expression.set("this", node.expression.this.transform(shift))
    return node


def _java_replacement(node: exp.RegexpReplace) -> exp.Expression:
    """DuckDB's `regexp_replace` replaces the first match unless its options say 'g', and
    writes groups as \\1; Spark's replaces every match and writes groups as $1. The two agree
    on a pattern anchored at the start (one match at most) or with 'g'."""
    pattern, replacement = node.expression, node.args.get("replacement")
    options = node.args.get("modifiers")
    every = isinstance(options, exp.Literal) and "g" in options.this
    if options is not None and not isinstance(options, exp.Literal):
        raise NotPortable("regexp_replace with options that are not a constant")
    if not isinstance(pattern, exp.Literal) or not isinstance(replacement, exp.Literal):
        raise NotPortable("regexp_replace with a pattern or replacement that is not a constant")
    if not every and not pattern.this.startswith("^"):
        raise NotPortable("regexp_replace of the first match only (no 'g'), not anchored with ^")
    if options is not None and set(options.this) - {"g"}:
        raise NotPortable(f"regexp_replace options {options.this!r}")
    java = re.sub(r"\\(\d)", r"$\1", replacement.this.replace("$", "\\$"))
    return exp.RegexpReplace(
        this=node.this.copy(), expression=pattern.copy(), replacement=exp.Literal.string(java)
    )


def _ordered_list(node: exp.ArrayAgg) -> exp.Expression:
    """DuckDB's `list(x ORDER BY k, ...)`: Spark collects in no set order, so the values are
    collected beside their sort keys, the pairs sorted, and the values taken out."""
    order = node.this
    keys = list(order.expressions)
    fields = [exp.alias_(k.this.copy(), f"k{i}") for i, k in enumerate(keys)]
    fields.append(exp.alias_(order.this.copy(), "v"))
    pairs = exp.Anonymous(this="collect_list", expressions=[exp.Struct(expressions=fields)])
    if all(k.args.get("desc") == keys[0].args.get("desc") for k in keys):
        ascending = exp.Boolean(this=not keys[0].args.get("desc"))
        ordered = exp.Anonymous(this="sort_array", expressions=[pairs, ascending])
    else:
        ordered = sqlglot.parse_one(f"array_sort(_pairs, {_comparator(keys)})", read="spark")
        ordered.find(exp.Column).replace(pairs)
    value = exp.Dot(this=exp.to_identifier("p"), expression=exp.to_identifier("v"))
    taken = exp.Lambda(this=value, expressions=[exp.to_identifier("p")])
    return exp.Anonymous(this="transform", expressions=[ordered, taken])


def _list_slice(node: exp.Bracket) -> exp.Expression:
    """DuckDB's `x[a:b]` (1-based, both ends included) as Spark's `slice(x, a, b - a + 1)`."""
    bounds = node.expressions[0]
    start, end = bounds.this, bounds.expression
    if not all(isinstance(b, exp.Literal) and b.is_int and int(b.name) >= 1 for b in (start, end)):
        raise NotPortable(f"a list slice with bounds other than positive numbers: {node.sql()}")
    length = max(int(end.name) - int(start.name) + 1, 0)
    return exp.Anonymous(
        this="slice",
        expressions=[node.this, exp.Literal.number(int(start.name)), exp.Literal.number(length)],
    )


def _comparator(keys: list[exp.Ordered]) -> str:
    """A Spark comparator lambda of the (k0, k1, ..., v) pairs for keys in mixed directions,
    NULL keys placed as DuckDB places them (last, unless NULLS FIRST)."""
    compared = "0"
    for index in reversed(range(len(keys))):
        key = keys[index]
        after = -1 if key.args.get("desc") else 1
        null = -1 if key.args.get("nulls_first") else 1
        left, right = f"l.k{index}", f"r.k{index}"
        compared = (
            f"CASE WHEN {left} IS NULL AND {right} IS NULL THEN {compared} "
            f"WHEN {left} IS NULL THEN {null} WHEN {right} IS NULL THEN {-null} "
            f"WHEN {left} < {right} THEN {-after} WHEN {left} > {right} THEN {after} "
            f"ELSE {compared} END"
        )
    return f"(l, r) -> {compared}"


FUNCTIONS: dict[str, Callable[[list[exp.Expression]], exp.Expression]] = {
    "json_valid": _json_valid,
    "error": _error,
    "strlen": lambda args: exp.Anonymous(this="octet_length", expressions=args),
}

_MACRO = re.compile(r"\s*CREATE OR REPLACE TEMP MACRO (\w+)\(([^)]*)\) AS(.*)$", re.S)


@cache
def macros() -> dict[str, tuple[tuple[str, ...], exp.Expression]]:
    """The reading-rule macros: name -> (parameters, parsed body)."""
    found = {}
    for statement in MACROS:
        match = _MACRO.match(statement)
        if match is None:
            raise NotPortable(f"a macro this translation cannot read: {statement[:60]}")
        name, params, body = match.groups()
        found[name] = (
            tuple(p.strip() for p in params.split(",")),
            sqlglot.parse_one(body, read=READ),
        )
    return found


def _spark_form(node: exp.Expression) -> exp.Expression:
    """A DuckDB form Spark writes or reads differently, in Spark's form."""
    if isinstance(node, exp.RegexpFullMatch):
        return _regexp_full_match([node.this, node.expression])
    if isinstance(node, exp.ArrayFilter):
        return _zero_based_index(node)
    if isinstance(node, exp.RegexpReplace):
        return _java_replacement(node)
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
        return _ordered_list(node)
    if isinstance(node, exp.Bracket) and isinstance(node.expressions[0], exp.Slice):
        return _list_slice(node)
    if isinstance(node, exp.Anonymous) and node.name.lower() in FUNCTIONS:
        return FUNCTIONS[node.name.lower()](list(node.expressions))
    return _to_json_as_duckdb(node)


def _expand_macro(node: exp.Expression) -> exp.Expression:
    if not isinstance(node, exp.Anonymous):
        return node
    name = node.name.lower()
    if name in macros():
        params, body = macros()[name]
        given = dict(zip(params, node.expressions, strict=True))

        def bind(inner: exp.Expression) -> exp.Expression:
            if isinstance(inner, exp.Column) and not inner.table and inner.name in given:
                return given[inner.name].copy()
            return inner

        return body.copy().transform(bind).transform(_expand_macro)
    return node


def _output_names(select: exp.Expression) -> list[str]:
    if not isinstance(select, exp.Select):
        raise NotPortable("UNION ALL BY NAME of a branch that is not a plain SELECT")
    names = []
    for projection in select.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            raise NotPortable("UNION ALL BY NAME of a branch that selects *")
        names.append(projection.alias_or_name)
    return names


def _branches(node: exp.Expression) -> list[exp.Expression]:
    """The SELECTs of a chain of UNION ALL BY NAME, in order."""
    if isinstance(node, exp.Union) and node.args.get("by_name"):
        return [*_branches(node.this), *_branches(node.expression)]
    if isinstance(node, exp.Subquery):
        return _branches(node.this)
    return [node]


def _union_by_position(node: exp.Expression) -> exp.Expression:
    if not (isinstance(node, exp.Union) and node.args.get("by_name")):
        return node
    if node.args.get("distinct"):
        raise NotPortable("UNION BY NAME without ALL")
    branches = _branches(node)
    names = [_output_names(b) for b in branches]
    order = list(dict.fromkeys(name for branch in names for name in branch))
    aligned = []
    for select, branch_names in zip(branches, names, strict=True):
        by_name = dict(zip(branch_names, select.expressions, strict=True))
        projections = [
            by_name[name] if name in by_name else exp.alias_(exp.Null(), name) for name in order
        ]
        branch = select.copy()
        branch.set("expressions", projections)
        aligned.append(branch)
    result = aligned[0]
    for select in aligned[1:]:
        result = exp.Union(this=result, expression=select, distinct=False)
    return result


def _plain_cte(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node = node.copy()
        node.set("materialized", None)
    return node


def parse(sql: str) -> exp.Expression:
    """A DuckDB query, parsed."""
    try:
        return sqlglot.parse_one(sql, read=READ)
    except sqlglot.ParseError as exc:
        raise NotPortable(f"not a query SQLGlot can read: {exc}") from exc


def value_literal(value: object) -> exp.Expression:
    """A Python value as a SQL constant: text, number, boolean, instant (UTC), list, NULL."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, datetime):
        instant = value.astimezone(UTC) if value.tzinfo else value
        text = instant.strftime("%Y-%m-%d %H:%M:%S.%f")
        return exp.cast(exp.Literal.string(text), exp.DataType.build("timestamp"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("date"))
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[value_literal(v) for v in value])
    raise NotPortable(f"a parameter of type {type(value).__name__}")


def _bind(params: Mapping[str, object]) -> Callable[[exp.Expression], exp.Expression]:
    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in params:
                raise NotPortable(f"the query's parameter ${node.name} has no value")
            return value_literal(params[node.name])
        return node

    return bind


def portable(tree: exp.Expression, params: Mapping[str, object] | None = None) -> exp.Expression:
    """The query with the project's DuckDB-only constructs replaced by portable ones (still
    valid DuckDB), and its `$name` parameters by the constants `params` gives."""
    return (
        tree.copy()
        .transform(_bind(params or {}))
        .transform(_expand_macro)
        .transform(_union_by_position)
        .transform(_plain_cte)
    )


def _bottom_up(
    node: exp.Expression, fun: Callable[[exp.Expression], exp.Expression]
) -> exp.Expression:
    """`fun` applied to every node, children first, so that a form built from a node's
    children (a sort around a list, options around a record) is built from translated ones."""
    for child in list(node.iter_expressions()):
        translated = _bottom_up(child, fun)
        if translated is not child:
            child.replace(translated)
    return fun(node)


def spark_tree(sql: str, params: Mapping[str, object] | None = None) -> exp.Expression:
    """`sql` (DuckDB), portable and with Spark's forms, ready to be written as Spark SQL."""
    return _bottom_up(portable(parse(sql), params), _spark_form)


def to_spark(sql: str, params: Mapping[str, object] | None = None) -> str:
    """`sql` (DuckDB) as Spark SQL."""
    return spark_tree(sql, params).sql(dialect=WRITE)
