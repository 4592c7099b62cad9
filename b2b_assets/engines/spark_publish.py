"""Publish a table built on Spark as `publish.publish_on` does on DuckDB: written, checked, and
swapped in only if no blocking check fails, with the same metadata and check results."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckResult, AssetKey, DagsterLogManager, MaterializeResult, MetadataValue

from b2b_assets.engines.spark import SparkCheck, SparkTables
from b2b_assets.publish import blocks

if TYPE_CHECKING:
    import pandera.polars as pa
    from pyspark.sql import DataFrame


def publish_on_spark(
    tables: SparkTables,
    key: AssetKey,
    log: DagsterLogManager,
    schema: pa.DataFrameSchema,
    build: Callable[[], DataFrame],
    checks: Sequence[AssetCheckResult] = (),
    extra: Mapping[str, Any] | None = None,
    after: Callable[[], Mapping[str, Any]] | None = None,
) -> MaterializeResult:
    """Write the frame `build` gives as table `key`, run its Pandera check on what was written,
    and swap it in unless that check or one of `checks` (decided before) blocks. `extra` is
    more metadata; `after` gives metadata asked of the table once published."""
    name = ".".join(key.path)
    started = time.perf_counter()
    check = SparkCheck(tables, key, schema)
    others_block = any(blocks(result) for result in checks)
    published = tables.publish(name, build(), lambda written: check(written) and not others_block)
    assert check.result is not None
    blocking = [c.check_name for c in (check.result, *checks) if blocks(c)]
    if blocking:
        log.error(
            f"{key.to_user_string()}: check {', '.join(blocking)} failed; the previous table is kept"
        )
    metadata: dict[str, Any] = {
        "dagster/row_count": check.rows,
        "build_seconds": round(time.perf_counter() - started - check.seconds, 3),
        "validation_seconds": round(check.seconds, 3),
        "table": name,
        "location": str(tables.location(name)),
        "engine": "spark",
        "published": published,
        "preview": MetadataValue.md(check.preview),
        **(extra or {}),
        **(after() if published and after is not None else {}),
    }
    return MaterializeResult(
        asset_key=key, metadata=metadata, check_results=[check.result, *checks]
    )
