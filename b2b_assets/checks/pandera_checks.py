"""One factory that turns a Pandera schema into a blocking asset check and column metadata."""

from __future__ import annotations

import copy

import duckdb
import pandera.polars as pa
import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    TableColumn,
    TableSchema,
)
from pandera.errors import SchemaError, SchemaErrors

from b2b_assets.sql import frame as read_frame
from b2b_assets.sql import markdown_table, scalar, utc_frame

CHECK_NAME = "pandera_schema"
FAILURE_SAMPLE = 10


def schema_check_spec(key: AssetKey, schema: pa.DataFrameSchema) -> AssetCheckSpec:
    """A blocking check: if the table breaks its schema, nothing downstream runs."""
    return AssetCheckSpec(
        name=CHECK_NAME,
        asset=key,
        blocking=True,
        description=f"Pandera schema {schema.name or key.to_user_string()}: "
        "column types, nullability, uniqueness and value checks.",
    )


def column_schema(schema: pa.DataFrameSchema) -> TableSchema:
    """The schema's columns as Dagster column metadata, so the UI shows them."""
    return TableSchema(
        columns=[
            TableColumn(
                name=name,
                type=str(column.dtype),
                description=column.description,
                constraints=None,
            )
            for name, column in schema.columns.items()
        ]
    )


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
    con: duckdb.DuckDBPyConnection,
    key: AssetKey,
    table: str,
    schema: pa.DataFrameSchema,
    where: str | None = None,
) -> AssetCheckResult:
    """Validate a warehouse table with its Pandera schema, streamed in batches of rows from
    DuckDB into Polars (memory stays bounded); uniqueness is counted in SQL over the table.

    `where` (SQL, never user input) limits the check to the rows a build just added: their
    values are validated, and their keys must be unique across the whole table. The rows
    already there passed when they were added.
    """
    rows_sql = f"(SELECT * FROM {table} WHERE {where})" if where else table
    for names in _unique_sets(schema):
        listed = ", ".join(f'"{name}"' for name in names)
        among = (
            f"{table} SEMI JOIN (SELECT {listed} FROM {rows_sql}) USING ({listed})"
            if where
            else table
        )
        duplicated = read_frame(
            con,
            f"SELECT {listed}, count(*) AS copies FROM {among} GROUP BY ALL HAVING count(*) > 1 "
            f"ORDER BY copies DESC LIMIT {FAILURE_SAMPLE}",
        )
        if duplicated.height:
            cases = pl.DataFrame(
                {
                    "schema_context": ["DataFrameSchema"] * duplicated.height,
                    "column": [", ".join(names)] * duplicated.height,
                    "check": ["unique"] * duplicated.height,
                    "failure_case": [str(row) for row in duplicated.rows()],
                }
            )
            rows = scalar(con, f"SELECT count(*) FROM {table}")
            return _failed(key, rows, cases)
    per_row = _without_uniqueness(schema)
    columns = ", ".join(f'"{name}"' for name in schema.columns)
    # Types are a property of the table: checked once, on no rows.
    typed = validate_frame(key, read_frame(con, f"SELECT {columns} FROM {table} LIMIT 0"), per_row)
    if not typed.passed:
        return typed
    # Values are checked only in the columns that have a rule about them; a nullable column
    # without checks cannot fail on any value, so its data is not read.
    ruled = [
        name
        for name, column in per_row.columns.items()
        if column.checks or not column.nullable or per_row.checks
    ]
    if not ruled:
        checked = scalar(con, f"SELECT count(*) FROM {rows_sql}")
    else:
        values = per_row.select_columns(ruled)
        listed = ", ".join(f'"{name}"' for name in ruled)
        reader = con.sql(f"SELECT {listed} FROM {rows_sql}").to_arrow_reader(BATCH_ROWS)
        checked = 0
        try:
            for batch in reader:
                frame = utc_frame(pl.from_arrow(batch))
                result = validate_frame(key, frame, values)
                checked += frame.height
                if not result.passed:
                    return result
        finally:
            reader.close()
    return AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=True,
        metadata={"rows_checked": checked, "failures": 0},
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
