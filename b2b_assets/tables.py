"""One factory for every asset that is a warehouse table built by SQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    AutomationCondition,
    Failure,
    MaterializeResult,
)

from b2b_assets import generations
from b2b_assets.checks.specs import schema_check_spec
from b2b_assets.columns import Column, column_metadata, table_schema
from b2b_assets.identity.components import COMPONENTS, Graph, find_components
from b2b_assets.layers import (
    POOL,
    LayerMember,
    build_layer_asset,
    code_reference,
    in_dependency_order,
)
from b2b_assets.publish import publish_on, table_name
from b2b_assets.sql import scalar
from b2b_assets.sql_deps import asset_deps

if TYPE_CHECKING:
    import pandera.polars as pa

    from b2b_assets.engines.spark import SparkTables

__all__ = ["POOL", "DOWNSTREAM", "TableAsset", "build_table_layer", "table_key"]

DOWNSTREAM = AutomationCondition.eager()  # follow upstream changes on their own

Statements = Callable[[duckdb.DuckDBPyConnection, AssetExecutionContext], Mapping[str, Any] | None]
# A table built on Spark by code rather than one query: the frame and its metadata.
SparkBuild = Callable[["SparkTables", AssetExecutionContext], tuple[Any, Mapping[str, Any]]]


def table_key(table: str) -> AssetKey:
    """The asset key of a warehouse table, spelled as in SQL: `b2b.person` -> b2b/person."""
    return AssetKey(table.split("."))


@dataclass(frozen=True)
class TableAsset:
    """A table of a layer, defined in one place: its key, what one row is, its columns, how it
    is built. Its Pandera schema comes from the columns (`unique`: column sets unique
    together); what it depends on is read from its SQL.

    `select` is the whole table as one query (DuckDB's dialect; every engine runs it; `$as_of`
    is the run's instant). It may read `_components`, the connected components of `graph`.
    `build` is DuckDB's own way to build it, where it has a cheaper one (in place, say); the
    queries it runs besides `select` are listed in `reads`. A table with no one-query form has
    `build` and `build_on_spark` (its frame and metadata on Spark). `facts` are queries of one
    value each, run on the built table, for its metadata."""

    key: AssetKey
    description: str
    columns: Sequence[Column]
    unique: Sequence[str] = ()
    select: str | None = None
    build: Statements | None = None
    build_on_spark: SparkBuild | None = None
    reads: Sequence[str] = ()
    graph: Graph | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Limits the schema check to the rows a build added (see publish_table).
    scope: Callable[[duckdb.DuckDBPyConnection], str | None] | None = None
    # Its strings are mostly distinct keys: see `write_keys_plainly`.
    mostly_keys: bool = False
    # Where it is defined (a function or a file), linked from the UI.
    origin: Any = None

    @property
    def name(self) -> str:
        """`schema.table`, as SQL and the bookkeeping name it."""
        return ".".join(self.key.path)

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        return table_schema(self.name, self.columns, self.unique)

    @property
    def deps(self) -> list[AssetKey]:
        """The assets its SQL reads."""
        graph = [self.graph.nodes, self.graph.edges] if self.graph else []
        queries = [*([self.select] if self.select else []), *self.reads, *graph]
        return asset_deps(*queries, own=self.key)

    def run(self, con: duckdb.DuckDBPyConnection, context: AssetExecutionContext):
        """Build the table; a build that did not record its generation built it whole."""
        generations.ensure_state(con)
        before = generations.current(con, self.name)
        result: dict[str, Any] = {}
        if self.build is not None:
            result.update(self.build(con, context) or {})
        else:
            if self.graph is not None:
                find_components(con, self.graph)
            con.execute(f"CREATE OR REPLACE TABLE {table_name(self.key)} AS {self.select}")
            if self.graph is not None:
                con.execute(f"DROP TABLE IF EXISTS {COMPONENTS}")
        for fact, query in self.facts.items():
            result[fact] = scalar(con, query)
        if generations.current(con, self.name) == before:
            generations.record(con, self.name)
        return result


def run_table_on_spark(
    spec: TableAsset, tables: SparkTables, context: AssetExecutionContext
) -> MaterializeResult:
    """Build the table's one query on Spark (translated; the components of its graph found
    there first) and publish it if its check passes; its facts are asked of the new table."""
    from b2b_assets.engines.spark_publish import publish_on_spark

    if spec.build_on_spark is not None:
        frame, metadata = spec.build_on_spark(tables, context)
        return publish_on_spark(
            tables, spec.key, context.log, spec.schema, lambda: frame, extra=metadata
        )
    if spec.select is None:
        raise Failure(description=f"{spec.name} has no one-query form to run on Spark")
    params: dict[str, Any] = {}
    if "$as_of" in spec.select:
        params["as_of"] = context.resources.settings.as_of_instant()

    def build():
        if spec.graph is not None:
            tables.components(spec.graph)
        return tables.sql(spec.select, params)

    def facts() -> dict[str, Any]:
        return {name: tables.sql(query).first()[0] for name, query in spec.facts.items()}

    as_of = {"as_of": params["as_of"].isoformat()} if params else {}
    return publish_on_spark(
        tables, spec.key, context.log, spec.schema, build, extra=as_of, after=facts
    )


def write_keys_plainly(con: duckdb.DuckDBPyConnection) -> None:
    """Write without DuckDB's dictionary-FSST string encoding, which finds little to share
    in distinct keys and nearly doubles the cost of writing them (b2b.person at scale 1:
    8.7 s with it, 6.0 s without, for 2.8 times the disk). Other tables keep it: the raw
    event JSON takes a quarter of the space with it."""
    con.execute("SET disabled_compression_methods = 'dict_fsst'")


def write_keys_as_usual(con: duckdb.DuckDBPyConnection) -> None:
    """Undo `write_keys_plainly` for the next table on the connection."""
    con.execute("RESET disabled_compression_methods")


def table_member(spec: TableAsset, group: str) -> LayerMember:
    """The asset of one table in its layer's step: built in a transaction, published only if
    its Pandera check passes."""
    asset_spec = AssetSpec(
        key=spec.key,
        deps=list(spec.deps),
        description=spec.description,
        group_name=group,
        kinds={"duckdb"},
        metadata={
            "dagster/column_schema": column_metadata(spec.columns),
            **(code_reference(spec.origin) if spec.origin is not None else {}),
            **spec.metadata,
        },
        automation_condition=DOWNSTREAM,
        skippable=True,
    )

    def run(con: duckdb.DuckDBPyConnection, context: AssetExecutionContext) -> MaterializeResult:
        return publish_on(
            con,
            spec.key,
            context.log,
            spec.schema,
            lambda c: spec.run(c, context),
            prepare=write_keys_plainly if spec.mostly_keys else None,
            cleanup=write_keys_as_usual if spec.mostly_keys else None,
            scope=spec.scope,
        )

    return LayerMember(
        asset_spec,
        [schema_check_spec(spec.key, spec.name)],
        run,
        run_on_spark=lambda tables, context: run_table_on_spark(spec, tables, context),
    )


def in_build_order(tables: Sequence[TableAsset]) -> list[TableAsset]:
    """The tables, each after the tables it reads, as their layer steps build them."""
    by_key = {table.key: table for table in tables}
    members = [table_member(table, "order") for table in tables]
    return [by_key[member.key] for member in in_dependency_order(members)]


def build_table_layer(name: str, tables: Sequence[TableAsset]) -> AssetsDefinition:
    """The step of a layer of SQL tables; the group (and step) is the layer's name."""
    return build_layer_asset(name, [table_member(table, name) for table in tables])
