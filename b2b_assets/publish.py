"""Build a warehouse table in a transaction and publish it only if its schema check passes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    DagsterLogManager,
    MaterializeResult,
    MetadataValue,
)

from b2b_assets.resources import DuckDBWarehouse
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets.sql import markdown_table, scalar

if TYPE_CHECKING:
    import pandera.polars as pa

Builder = Callable[[duckdb.DuckDBPyConnection], Mapping[str, Any] | None]
Checks = Callable[[duckdb.DuckDBPyConnection], Sequence[AssetCheckResult]]
PREVIEW_ROWS = 10


def table_name(key: AssetKey) -> str:
    """`["schema", "table"]` -> `schema.table`."""
    return ".".join(f'"{part}"' for part in key.path)


def markdown_preview(con: duckdb.DuckDBPyConnection, table: str, limit: int = PREVIEW_ROWS) -> str:
    """The first rows of a table as a Markdown table."""
    relation = con.execute(f"SELECT * FROM {table} LIMIT {int(limit)}")
    columns = [description[0] for description in relation.description]
    return markdown_table(columns, relation.fetchall())


def publish_table(
    context: AssetExecutionContext,
    warehouse: DuckDBWarehouse,
    schema: pa.DataFrameSchema,
    build: Builder,
    prepare: Callable[[duckdb.DuckDBPyConnection], Any] | None = None,
    scope: Callable[[duckdb.DuckDBPyConnection], str | None] | None = None,
    cleanup: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    checks: Checks | None = None,
) -> MaterializeResult:
    """`publish_on` a connection of its own, for the asset of `context`."""
    with warehouse.connect() as con:
        install_macros(con)
        return publish_on(
            con, context.asset_key, context.log, schema, build, prepare, scope, cleanup, checks
        )


def publish_on(
    con: duckdb.DuckDBPyConnection,
    key: AssetKey,
    log: DagsterLogManager,
    schema: pa.DataFrameSchema,
    build: Builder,
    prepare: Callable[[duckdb.DuckDBPyConnection], Any] | None = None,
    scope: Callable[[duckdb.DuckDBPyConnection], str | None] | None = None,
    cleanup: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    checks: Checks | None = None,
) -> MaterializeResult:
    """Run `build` in one transaction, validate the table it made, commit only if valid.

    A failed check or an exception rolls everything back, so the last good table stays.
    `prepare` runs first on the same connection, outside the transaction (staging, which a
    failed statement must not abort). `scope`, asked after the build, may limit the
    check to the rows the build added (a SQL predicate; see `validate_table`). `cleanup` runs
    last, committed or not (e.g. to drop what `prepare` staged). The result says whether
    the table was published (`published` metadata).
    """
    table = table_name(key)
    try:
        started = time.perf_counter()
        if prepare is not None:
            prepare(con)
        con.execute("BEGIN TRANSACTION")
        try:
            extra = dict(build(con) or {})
            built = time.perf_counter()
            where = scope(con) if scope is not None else None
            from b2b_assets.checks.pandera_checks import validate_table  # with Pandera

            check = validate_table(con, key, table, schema, where)
            more = list(checks(con)) if checks is not None else []
            validated = time.perf_counter()
            rows = scalar(con, f"SELECT count(*) FROM {table}")
            preview = markdown_preview(con, table)
            blocking = [c.check_name for c in (check, *more) if blocks(c)]
            if not blocking:
                con.execute("COMMIT")
            else:
                con.execute("ROLLBACK")
                log.error(
                    f"{key.to_user_string()}: check {', '.join(blocking)} failed; "
                    "the previous table is kept"
                )
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        if cleanup is not None:
            cleanup(con)
    metadata: dict[str, Any] = {
        "dagster/row_count": rows,
        "build_seconds": round(built - started, 3),
        "validation_seconds": round(validated - built, 3),
        "table": table,
        "published": not blocking,
        "preview": MetadataValue.md(preview),
        **extra,
    }
    return MaterializeResult(asset_key=key, metadata=metadata, check_results=[check, *more])


def is_published(result: MaterializeResult) -> bool:
    """Whether `publish_on` committed the table of this result."""
    value = (result.metadata or {}).get("published", True)
    return bool(getattr(value, "value", value))


def blocks(result: AssetCheckResult) -> bool:
    """Whether a check result stops its table being published."""
    return not result.passed and result.severity == AssetCheckSeverity.ERROR
