"""A landing file read by Spark with the raw layer's own reading rules.

The rules are SQL (`sources.reader.staged_rows_select`): cleaning, typing, the problems of a row
and the row as read. Spark's CSV reader gives the file's fields as text in positional columns
`c0, c1, ...`; each record gets its 1-based number in the file (`with_row_numbers`, which
counts the partitions' records on the executors first); the rules, translated, then run as column
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
    file_columns,
    read_rows_with_python,
    staged_rows_select,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def with_row_numbers(frame: DataFrame) -> DataFrame:
    """`frame` (a file's scan) with each record's 1-based `_row_number` in the file.

    Spark numbers a scan's records within each partition (`monotonically_increasing_id` is the
    partition's index shifted left by 33 bits plus the record's position in it), and a file's
    partitions follow the file; each partition's count, summed over the partitions before it,
    is its offset. Only the counts reach the driver, and SQL expressions alone do this, so a
    Spark Connect session can too."""
    tagged = frame.selectExpr(
        "*", "spark_partition_id() AS _partition", "monotonically_increasing_id() AS _record"
    ).localCheckpoint()
    offsets: list[str] = []
    before = 0
    for partition, count in sorted(tagged.groupBy("_partition").count().collect()):
        offsets.append(f"{int(partition)}, {before}")
        before += int(count)
    offset = f"map({', '.join(offsets)})[_partition]" if offsets else "0"
    position = "_record - shiftleft(CAST(_partition AS BIGINT), 33)"
    kept = ["`" + name.replace("`", "``") + "`" for name in frame.columns]
    return tagged.selectExpr(*kept, f"CAST({offset} + {position} + 1 AS BIGINT) AS _row_number")


def numbered_csv(tables: SparkTables, path: Path, width: int) -> DataFrame:
    """A CSV file's records (header skipped) as text columns c0.. and `_row_number`."""
    from pyspark.sql.types import StringType, StructField, StructType

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
    return with_row_numbers(records)


def numbered_parquet(tables: SparkTables, path: Path) -> DataFrame:
    """A Parquet file's rows with their 1-based `_row_number`."""
    return with_row_numbers(tables.spark.read.parquet(path.as_uri()))


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
    positions = file_columns(path, header, spec, ctx)
    scan = f"_scan_{abs(hash(str(path)))}"
    parquet = path.suffix.lower() == ".parquet"
    malformed: list[Malformed] = []
    try:
        scanned = (
            numbered_parquet(tables, path) if parquet else numbered_csv(tables, path, len(header))
        )
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
