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
from b2b_assets.sources.reader import ExtractError, ReadContext, map_columns, staged_rows_select

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


def read_csv_file(
    tables: SparkTables,
    spec: ObjectSpec,
    path: Path,
    header: list[str],
    ctx: ReadContext,
    loaded_at: datetime,
) -> DataFrame:
    """The rows of one CSV landing file as its raw part holds them."""
    positions = map_columns(path, header, spec)
    scan = f"_scan_{abs(hash(str(path)))}"
    try:
        numbered_csv(tables, path, len(header)).createOrReplaceTempView(scan)
    except Exception as exc:  # Spark's errors name the file
        raise ExtractError(f"{path}: cannot be read: {exc}") from exc
    select = staged_rows_select(spec, positions, header, False, ctx, scan)
    params = {
        "instance": ctx.instance,
        "file_name": str(path),
        "loaded_at": loaded_at,
        "currencies": list(ctx.currencies),
        "instances": list(ctx.instances),
        "salesforce": list(ctx.salesforce_instances),
    }
    return tables.sql(select, params)
