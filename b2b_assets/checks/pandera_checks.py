"""How a table's blocking schema check runs: Pandera's schema, pushed down to SQL where it can be."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from typing import Any

import duckdb
import pandera.polars as pa
import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue
from pandera.errors import SchemaError, SchemaErrors

from b2b_assets.checks.specs import CHECK_NAME
from b2b_assets.engines.queries import Queries, queries_of
from b2b_assets.sql import literal, markdown_table

FAILURE_SAMPLE = 10


def _failure_table(frame: pl.DataFrame) -> str:
    sample = frame.head(FAILURE_SAMPLE)
    columns = [
        name
        for name in ("schema_context", "column", "check", "failure_case", "index")
        if name in sample.columns
    ]
    return markdown_table(columns, sample.select(columns).iter_rows())


def validate_frame(
    key: AssetKey, frame: pl.DataFrame, schema: pa.DataFrameSchema
) -> AssetCheckResult:
    """Validate a frame (schema and data) and report the result as a check result."""
    try:
        schema.validate(frame, lazy=True)
    except (SchemaErrors, SchemaError) as exc:
        cases = getattr(exc, "failure_cases", None)
        cases_frame = (
            cases if isinstance(cases, pl.DataFrame) else pl.DataFrame({"check": [str(exc)[:500]]})
        )
        return AssetCheckResult(
            asset_key=key,
            check_name=CHECK_NAME,
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "rows_checked": frame.height,
                "failures": cases_frame.height,
                "failure_sample": MetadataValue.md(_failure_table(cases_frame)),
            },
        )
    return AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=True,
        metadata={"rows_checked": frame.height, "failures": 0},
    )


BATCH_ROWS = 1_000_000


def _without_uniqueness(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The schema's per-row checks: uniqueness is checked in SQL over the whole table."""
    rows = schema.update_columns({name: {"unique": False} for name in schema.columns})
    rows = copy.deepcopy(rows)
    rows.unique = None
    return rows


def _unique_sets(schema: pa.DataFrameSchema) -> list[list[str]]:
    sets = [[name] for name, column in schema.columns.items() if column.unique]
    if schema.unique:
        sets.append(list(schema.unique))
    return sets


def validate_table(
    con: duckdb.DuckDBPyConnection | Queries,
    key: AssetKey,
    table: str,
    schema: pa.DataFrameSchema,
    where: str | None = None,
) -> AssetCheckResult:
    """Validate a warehouse table with its Pandera schema. Uniqueness, nullability and the
    built-in checks run as SQL over the table; columns with other checks are streamed in
    batches from DuckDB into Polars for Pandera (memory stays bounded).

    `where` (SQL, never user input) limits the check to the rows a build just added: their
    values are validated, and their keys must be unique across the whole table. The rows
    already there passed when they were added. `con` may be another engine's `Queries`.
    """
    q = queries_of(con)
    rows_sql = f"(SELECT * FROM {table} WHERE {where})" if where else table
    for names in _unique_sets(schema):
        listed = ", ".join(f'"{name}"' for name in names)
        among = (
            f"{table} SEMI JOIN (SELECT {listed} FROM {rows_sql}) USING ({listed})"
            if where
            else table
        )
        # Equal values have equal hashes: as many distinct hashes as rows proves them unique,
        # at half the cost of grouping the values. Otherwise the values themselves are grouped
        # (a duplicate, or two values that share a hash).
        if not q.scalar(f"SELECT count(*) - count(DISTINCT hash({listed})) FROM {among}"):
            continue
        duplicated = q.frame(
            f"SELECT {listed}, count(*) AS copies FROM {among} GROUP BY ALL HAVING count(*) > 1 "
            f"ORDER BY copies DESC LIMIT {FAILURE_SAMPLE}",
        )
        if duplicated.height:
            cases = _failure_cases(
                ("DataFrameSchema", ", ".join(names), "unique", str(row))
                for row in duplicated.rows()
            )
            rows = q.scalar(f"SELECT count(*) FROM {table}")
            return _failed(key, rows, cases)
    per_row = _without_uniqueness(schema)
    columns = ", ".join(f'"{name}"' for name in schema.columns)
    # Types are a property of the table: checked once, on no rows.
    typed = validate_frame(key, q.frame(f"SELECT {columns} FROM {table} LIMIT 0"), per_row)
    if not typed.passed:
        return typed
    # A value rule runs in SQL where it has a SQL form (not null, and the built-in checks the
    # schemas use); only the columns with another check are read into Polars for Pandera.
    frame_wide = bool(per_row.checks)  # a check on the whole frame may read any column
    in_polars: list[str] = []
    rules: list[tuple[str, str, str]] = []  # (column, check, SQL condition that passes)
    for name, column in per_row.columns.items():
        conditions = [(check, _sql_condition(name, check)) for check in column.checks]
        if frame_wide or any(condition is None for _, condition in conditions):
            in_polars.append(name)
            continue
        if not column.nullable:
            rules.append((name, "not_nullable", f'"{name}" IS NOT NULL'))
        rules.extend((name, check.error or check.name, sql) for check, sql in conditions)
    checked, cases = _sql_rules(q, rows_sql, rules)
    if cases is not None:
        return _failed(key, checked, cases)
    if in_polars:
        values = per_row.select_columns(in_polars)
        listed = ", ".join(f'"{name}"' for name in in_polars)
        for batch in q.batches(f"SELECT {listed} FROM {rows_sql}", BATCH_ROWS):
            result = validate_frame(key, batch, values)
            if not result.passed:
                return result
    return AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=True,
        metadata={"rows_checked": checked, "failures": 0},
    )


_COMPARISONS = {
    "greater_than_or_equal_to": (">=", "min_value"),
    "greater_than": (">", "min_value"),
    "less_than_or_equal_to": ("<=", "max_value"),
    "less_than": ("<", "max_value"),
}


def _sql_condition(column: str, check: pa.Check) -> str | None:
    """A built-in Pandera check as a SQL condition a valid value meets (nulls pass, as in
    Pandera); None for a check without a SQL form here, which Pandera then runs."""
    stats = check.statistics or {}
    ref = f'"{column}"'
    if not check.ignore_na:
        return None
    if check.name == "str_matches":
        pattern = stats["pattern"]
        pattern = pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)
        anchored = pattern if pattern.startswith("^") else f"^{pattern}"  # as Pandera does
        return f"regexp_matches({ref}, {literal(anchored)})"
    if check.name == "isin":
        allowed = list(stats["allowed_values"])
        if not all(isinstance(value, str) for value in allowed):
            return None
        return f"list_contains([{', '.join(map(literal, allowed))}]::VARCHAR[], {ref})"
    if check.name in _COMPARISONS:
        operator, bound_name = _COMPARISONS[check.name]
        bound = stats.get(bound_name)
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            return None
        if not math.isfinite(bound):
            return None
        return f"{ref} {operator} {bound!r}"
    return None


def _sql_rules(
    q: Queries, rows_sql: str, rules: list[tuple[str, str, str]]
) -> tuple[int, pl.DataFrame | None]:
    """Count the rows and each rule's failures in one scan; on failures, a sample of the
    failing values per broken rule, as Pandera reports them."""
    failures = "".join(f", count(*) FILTER (WHERE NOT ({sql}))" for _, _, sql in rules)
    row = q.rows(f"SELECT count(*){failures} FROM {rows_sql}")[0]
    broken = [rule for rule, n in zip(rules, row[1:], strict=True) if n]
    if not broken:
        return row[0], None
    cases = []
    for column, check, sql in broken:
        sample = q.rows(
            f'SELECT DISTINCT "{column}"::VARCHAR FROM {rows_sql} WHERE NOT ({sql}) '
            f"LIMIT {FAILURE_SAMPLE}"
        )
        cases.extend(("Column", column, check, value) for (value,) in sample)
    return row[0], _failure_cases(cases)


def _failure_cases(cases: Iterable[tuple[str, str, str, Any]]) -> pl.DataFrame:
    """Failures found in SQL, in the columns of Pandera's failure cases."""
    return pl.DataFrame(
        list(cases),
        schema=["schema_context", "column", "check", "failure_case"],
        orient="row",
    )


def _failed(key: AssetKey, rows: int, cases: pl.DataFrame) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=False,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "rows_checked": rows,
            "failures": cases.height,
            "failure_sample": MetadataValue.md(_failure_table(cases)),
        },
    )
