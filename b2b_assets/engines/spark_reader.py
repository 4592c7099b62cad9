"""A landing file read by Spark with the raw layer's own reading rules.

The rules are SQL (`sources.reader.staged_rows_select`): cleaning, typing, the problems of a row
and the row as read. Spark's CSV reader gives the file's fields as text in positional columns
`c0, c1, ...`; each record gets its 1-based number in the file (`zipWithIndex`, which counts
the partitions' records on the executors first); the rules, translated, then run as column
expressions on the executors, exactly as DuckDB runs them on its scan.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from b2b_assets.engines.spark import SparkTables
from b2b_assets.sources.catalog import ObjectSpec
from b2b_assets.sources.reader import (
    ExtractError,
    Malformed,
    ReadContext,
    map_columns,
    read_rows_with_python,
    staged_rows_select,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def numbered_csv(tables: SparkTables, path: Path, width: int) -> DataFrame:
    """A CSV file's records (header skipped) as text columns c0.. and `_row_number`."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    fields = [StructField(f"c{i}", StringType()) for i in range(width)]
    records = tables.spark.read.csv(
        path.as_uri(),
        schema=StructType(fields),
        header=True,
        quote='"',
        escape='"',
        multiLine=True,
        mode="FAILFAST",
    )
    numbered = records.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1] + 1))
    return tables.spark.createDataFrame(
        numbered, StructType([*fields, StructField("_row_number", LongType())])
    )


def numbered_parquet(tables: SparkTables, path: Path) -> DataFrame:
    """A Parquet file's rows with their 1-based `_row_number`."""
    from pyspark.sql.types import LongType, StructField, StructType

    rows = tables.spark.read.parquet(path.as_uri())
    numbered = rows.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1] + 1))
    schema = StructType([*rows.schema.fields, StructField("_row_number", LongType())])
    return tables.spark.createDataFrame(numbered, schema)


def read_landing_file(
    tables: SparkTables,
    spec: ObjectSpec,
    path: Path,
    header: list[str],
    ctx: ReadContext,
    loaded_at: datetime,
) -> tuple[DataFrame, list[Malformed]]:
    """The rows of one landing file (CSV or Parquet) as its raw part holds them, and the rows
    that do not parse. A CSV file Spark's reader rejects (a row with too many or too few
    fields, say) is read again row by row by Python's csv module, as DuckDB's reader does,
    which quarantines the rows that do not parse; only such a file passes through the
    driver."""
    positions = map_columns(path, header, spec)
    scan = f"_scan_{abs(hash(str(path)))}"
    parquet = path.suffix.lower() == ".parquet"
    malformed: list[Malformed] = []
    try:
        scanned = (
            numbered_parquet(tables, path) if parquet else numbered_csv(tables, path, len(header))
        ).localCheckpoint()
    except Exception as exc:  # Spark's errors name the file
        if parquet:
            raise ExtractError(f"{path}: cannot be read: {exc}") from exc
        rows, malformed = read_rows_with_python(path, header)
        scanned = tables.spark.createDataFrame(rows)
    scanned.createOrReplaceTempView(scan)
    select = staged_rows_select(spec, positions, header, parquet, ctx, scan)
    params = {
        "instance": ctx.instance,
        "file_name": str(path),
        "loaded_at": loaded_at,
        "currencies": list(ctx.currencies),
        "instances": list(ctx.instances),
        "salesforce": list(ctx.salesforce_instances),
    }
    return tables.sql(select, params), malformed
