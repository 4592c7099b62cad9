"""An object of the raw layer loaded on Spark: every landing file read with the reading rules
(`spark_reader`), its rows with problems and its superseded rows quarantined by the same SQL as
on DuckDB (`sources.publishing`), the rest published as `raw.<instance>__<object>`.

Spark reads an object's files whole at every load (DuckDB appends the new files of an
append-only object). After the table is published, the object's quarantine rows replace its
partition of `raw.quarantine` (`raw_table=<name>/`) and its totals are added to
`ops.row_accounting`, so every row read is either kept or quarantined, and counted.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from b2b_assets.engines.spark import SparkQueries, SparkTables
from b2b_assets.engines.spark_reader import read_landing_file
from b2b_assets.sources.catalog import ObjectSpec
from b2b_assets.sources.publishing import (
    RowSql,
    count_malformed_references,
    losers_select,
    malformed_table,
    problems_quarantined,
)
from b2b_assets.sources.reader import (
    PART_META_COLUMNS,
    ExtractError,
    Malformed,
    ReadContext,
    ReadResult,
    empty_staged,
    file_stamp,
    raw_table_name,
    read_headers,
    required_object_files,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

QUARANTINE = "raw.quarantine"
ACCOUNTING = "ops.row_accounting"
PARTITION = "raw_table"


@dataclass
class SparkLoad:
    """An object's load on Spark: what it read, and the rows it keeps and quarantines."""

    result: ReadResult
    kept: DataFrame
    quarantined: DataFrame

    @property
    def name(self) -> str:
        """The raw table's name without its schema (its partition of the quarantine)."""
        return self.result.table.split(".", 1)[1]


def known_currencies(tables: SparkTables) -> tuple[str, ...]:
    """USD and the currencies of `raw.fx_rates` on Spark, if it is built."""
    if not tables.location("raw.fx_rates").is_dir():
        return ("USD",)
    rows = tables.sql("SELECT DISTINCT upper(currency) FROM raw.fx_rates").collect()
    return tuple(sorted({"USD", *(row[0] for row in rows if row[0] is not None)}))


def read_object(tables: SparkTables, folder: Path, spec: ObjectSpec, ctx: ReadContext) -> SparkLoad:
    """Read every file of the object and split its rows into kept and quarantined; raises
    `ExtractError` for what stops the load (a required object or column missing)."""
    result = ReadResult(table=f"raw.{raw_table_name(ctx.instance, spec)}", empty=empty_staged(spec))
    files = required_object_files(folder, spec, ctx)
    result.stamps = {str(path): file_stamp(path) for path in files}
    with duckdb.connect() as con:  # Parquet headers
        result.headers = read_headers(con, spec, files, ctx)
    started = datetime.now(UTC)
    frames, malformed = [], []
    for path, header in result.headers.items():
        if header is None:
            result.skipped_files.append(str(path))
            continue
        frame, bad = read_landing_file(tables, spec, path, header, ctx, result.loaded_at)
        frames.append(frame)
        malformed.extend(bad)
        result.files.append(str(path))
    if spec.required and result.stamps and not result.files:
        raise ExtractError(
            f"{next(iter(result.stamps))}: required object {spec.name} has only empty files"
        )
    staged = reduce(lambda a, b: a.unionByName(b), frames) if frames else tables.sql(result.empty)
    staged.localCheckpoint().createOrReplaceTempView("_staged")
    rows = RowSql(spec, ctx)
    candidates = "SELECT * FROM _staged WHERE _problems IS NULL"
    tables.sql(losers_select(rows, candidates)).localCheckpoint().createOrReplaceTempView("_losers")
    quarantined = tables.sql(problems_quarantined("_staged"), rows.params).unionByName(
        tables.sql(rows.losers_quarantined("_staged"), rows.loser_params)
    )
    if malformed:
        quarantined = quarantined.unionByName(_malformed_rows(tables, rows, malformed))
    quarantined = quarantined.localCheckpoint()
    quarantined.createOrReplaceTempView("_quarantined")
    kept_columns = [f'"{c.field}"' for c in spec.columns] + [
        f"s.{c}" for c in PART_META_COLUMNS if c not in ("_problems", "_record")
    ]
    kept = tables.sql(
        f"""SELECT {", ".join(kept_columns)} FROM _staged AS s
            ANTI JOIN _losers USING (_file_name, _row_number) WHERE s._problems IS NULL"""
    )
    kept.createOrReplaceTempView("_kept")
    result.read_seconds = (datetime.now(UTC) - started).total_seconds()
    _count(tables, spec, ctx, result, malformed)
    return SparkLoad(result, kept, quarantined)


def _malformed_rows(tables: SparkTables, rows: RowSql, malformed: list[Malformed]) -> DataFrame:
    tables.spark.createDataFrame(malformed_table(malformed)).createOrReplaceTempView("_malformed")
    return tables.sql(
        """SELECT $instance AS source_instance, $object AS object, file_name, row_number, reason,
                  problems, record, now() AS loaded_at, $run_id AS run_id FROM _malformed""",
        rows.params,
    )


def _count(
    tables: SparkTables,
    spec: ObjectSpec,
    ctx: ReadContext,
    result: ReadResult,
    malformed: list[Malformed],
) -> None:
    """The load's totals, checked to balance: every row read is kept or quarantined."""
    result.rows_read = int(tables.spark.table("_staged").count()) + len(malformed)
    result.rows_kept = int(tables.spark.table("_kept").count())
    reasons = tables.spark.table("_quarantined").groupBy("reason").count().collect()
    result.reasons = Counter({row[0]: int(row[1]) for row in reasons})
    if result.rows_read != result.rows_kept + result.rows_quarantined:
        raise ExtractError(
            f"{result.table}: row accounting of {spec.name} does not balance: read "
            f"{result.rows_read}, kept {result.rows_kept}, quarantined {result.rows_quarantined}"
        )
    queries = SparkQueries(tables)
    result.malformed_references = count_malformed_references(queries, spec, ctx, "_kept")


def record_load(tables: SparkTables, load: SparkLoad, spec: ObjectSpec, ctx: ReadContext) -> None:
    """After the table is published: its quarantine rows and its totals."""
    from pyspark.sql.types import (
        IntegerType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    tables.replace_partition(QUARANTINE, PARTITION, load.name, load.quarantined)
    result = load.result
    schema = StructType(
        [
            StructField("run_id", StringType()),
            StructField("source_instance", StringType()),
            StructField("object", StringType()),
            StructField("loaded_at", TimestampType()),
            StructField("files", IntegerType()),
            StructField("rows_read", LongType()),
            StructField("rows_kept", LongType()),
            StructField("rows_quarantined", LongType()),
            StructField("reasons", StringType()),
        ]
    )
    row = (
        ctx.run_id,
        ctx.instance,
        spec.name,
        result.loaded_at,
        len(result.files),
        result.rows_read,
        result.rows_kept,
        result.rows_quarantined,
        json.dumps(dict(result.reasons), sort_keys=True),
    )
    tables.append(ACCOUNTING, tables.spark.createDataFrame([row], schema))
