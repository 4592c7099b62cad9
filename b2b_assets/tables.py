"""One factory for every asset that is a warehouse table built by SQL."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandera.polars as pa
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, AutomationCondition, asset

from b2b_assets.checks.pandera_checks import column_schema, schema_check_spec
from b2b_assets.publish import publish_table, table_name
from b2b_assets.resources import DuckDBWarehouse

POOL = "duckdb"  # one writer at a time on the warehouse, across runs (see dagster.yaml)
DOWNSTREAM = AutomationCondition.eager()  # follow upstream changes on their own

Statements = Callable[[duckdb.DuckDBPyConnection, AssetExecutionContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class TableAsset:
    """A table of a layer: its key, what one row is, what it reads, how it is built, its schema."""

    key: AssetKey
    description: str
    deps: Sequence[AssetKey]
    schema: pa.DataFrameSchema
    select: str | None = None
    build: Statements | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Limits the schema check to the rows a build added (see publish_table).
    scope: Callable[[duckdb.DuckDBPyConnection], str | None] | None = None
    # Its strings are mostly distinct keys: see `write_keys_plainly`.
    mostly_keys: bool = False

    def run(self, con: duckdb.DuckDBPyConnection, context: AssetExecutionContext):
        if self.build is not None:
            return self.build(con, context)
        con.execute(f"CREATE OR REPLACE TABLE {table_name(self.key)} AS {self.select}")
        return None


def write_keys_plainly(con: duckdb.DuckDBPyConnection) -> None:
    """Write without DuckDB's dictionary-FSST string encoding, which finds little to share
    in distinct keys and nearly doubles the cost of writing them (b2b.person at scale 1:
    8.7 s with it, 6.0 s without, for 2.8 times the disk). Other tables keep it: the raw
    event JSON takes a quarter of the space with it."""
    con.execute("SET disabled_compression_methods = 'dict_fsst'")


def build_table_asset(spec: TableAsset, group: str) -> AssetsDefinition:
    """The asset of one table: built in a transaction, published only if its Pandera check passes."""

    @asset(
        key=spec.key,
        group_name=group,
        kinds={"duckdb"},
        deps=list(spec.deps),
        description=spec.description,
        metadata={"dagster/column_schema": column_schema(spec.schema), **spec.metadata},
        check_specs=[schema_check_spec(spec.key, spec.schema)],
        pool=POOL,
        automation_condition=DOWNSTREAM,
    )
    def _table(context: AssetExecutionContext, warehouse: DuckDBWarehouse):
        return publish_table(
            context,
            warehouse,
            spec.schema,
            lambda con: spec.run(con, context),
            prepare=write_keys_plainly if spec.mostly_keys else None,
            scope=spec.scope,
        )

    return _table
