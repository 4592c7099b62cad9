"""An audience built on Spark: the segment's compiled query (translated), published as
`audience.<segment>` if its check passes, and who entered and who left added to
`ops.audience_history`, as on DuckDB (`segments.history`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, AssetKey, MaterializeResult

from b2b_assets.engines.spark import SparkTables
from b2b_assets.engines.spark_publish import publish_on_spark
from b2b_assets.segments.assets import audience_metadata, first_members_sql
from b2b_assets.segments.compiler import CompiledSegment
from b2b_assets.segments.schema import ENTITY_KEYS

if TYPE_CHECKING:
    import pandera.polars as pa
    from pyspark.sql import DataFrame

HISTORY = "ops.audience_history"


def build_audience_on_spark(
    tables: SparkTables,
    context: AssetExecutionContext,
    key: AssetKey,
    entity: str,
    schema: pa.DataFrameSchema,
    compiled: CompiledSegment,
    as_of: datetime,
) -> MaterializeResult:
    name = ".".join(key.path)
    segment = key.path[-1]
    member = ENTITY_KEYS[entity]
    previous = _members(tables, name, member)

    def changes() -> dict[str, Any]:
        current = _members(tables, name, member)
        changed = (
            current.subtract(previous)
            .selectExpr("member_id", "'entered' AS change")
            .unionByName(previous.subtract(current).selectExpr("member_id", "'exited' AS change"))
            .localCheckpoint()
        )
        counts = {row[0]: int(row[1]) for row in changed.groupBy("change").count().collect()}
        changed.createOrReplaceTempView("_changes")
        history = tables.sql(
            """SELECT $segment AS segment, member_id, change, now() AS changed_at,
                      $as_of AS as_of, $run_id AS run_id FROM _changes""",
            {"segment": segment, "as_of": as_of, "run_id": context.run_id},
        )
        tables.append(HISTORY, history)
        first = [
            r.asDict(recursive=True) for r in tables.sql(first_members_sql(key, entity)).collect()
        ]
        size = int(current.count())
        return {
            "audience_size": size,
            "entered": counts.get("entered", 0),
            "exited": counts.get("exited", 0),
            **audience_metadata(compiled, first, size),
        }

    return publish_on_spark(
        tables,
        key,
        context.log,
        schema,
        lambda: tables.sql(compiled.sql, compiled.params),
        extra={"as_of": as_of.isoformat()},
        after=changes,
    )


def _members(tables: SparkTables, name: str, member: str) -> DataFrame:
    """The ids the table holds now (kept in the session: the table's files may be replaced)."""
    if not tables.location(name).is_dir():
        return tables.spark.sql("SELECT CAST(NULL AS STRING) AS member_id WHERE FALSE")
    return tables.spark.sql(f"SELECT {member} AS member_id FROM {name}").localCheckpoint()
