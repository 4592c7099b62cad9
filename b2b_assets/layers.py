"""A layer run as one step: every table stays its own asset, one connection builds them all.

Like `dagster-dbt` runs a dbt project, the layer's multi-asset builds the selected tables in
dependency order on one warehouse connection, so a step's fixed costs (events, connection,
checkpoint) are paid once per layer. Each table keeps its key, materialization, metadata,
column schema, blocking check and lineage, and selecting one table builds just that table.
A table that fails (its blocking check, or an error) keeps its last good version; the tables
of the layer that read it are not built, the others are, and the step then fails, which stops
the steps below it.
"""

import inspect
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from graphlib import TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BetaWarning,
    CodeReferencesMetadataValue,
    Failure,
    LocalFileCodeReference,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from b2b_assets.publish import is_published
from b2b_assets.resources import DuckDBWarehouse, RunSettings
from b2b_assets.sources.sql_macros import install_macros

if TYPE_CHECKING:
    from b2b_assets.engines.spark import SparkTables

FAILED_ASSETS = "failed_assets"  # metadata of a failed layer step: asset -> cause
POOL = "duckdb"  # one writer at a time on the warehouse, across runs (see dagster.yaml)

Run = Callable[[duckdb.DuckDBPyConnection, AssetExecutionContext], MaterializeResult]
SparkRun = Callable[["SparkTables", AssetExecutionContext], MaterializeResult]


@dataclass(frozen=True)
class LayerMember:
    """One asset of a layer step: its spec, its checks and how it is built on a DuckDB
    connection (`run`) and on Spark (`run_on_spark`)."""

    spec: AssetSpec
    check_specs: Sequence[AssetCheckSpec]
    run: Run
    run_on_spark: SparkRun | None = None

    @property
    def key(self) -> AssetKey:
        return self.spec.key

    @property
    def inputs(self) -> list[AssetKey]:
        return [dep.asset_key for dep in self.spec.deps]


def code_reference(definition: Any) -> dict[str, CodeReferencesMetadataValue]:
    """`dagster/code_references` metadata pointing at where a table is defined: a file (a SQL
    file, say) or the function that defines it."""
    if isinstance(definition, Path):
        path, line = definition, 1
    else:
        function = inspect.unwrap(definition)
        path = Path(inspect.getsourcefile(function) or "")
        # The line `inspect.getsourcelines` gives (the first decorator's, if any), read from
        # the code object instead of tokenizing the file once per asset at every load.
        code = getattr(function, "__code__", None)
        line = code.co_firstlineno if code is not None else inspect.getsourcelines(function)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        reference = LocalFileCodeReference(file_path=str(path.resolve()), line_number=line)
        value = CodeReferencesMetadataValue(code_references=[reference])
    return {"dagster/code_references": value}


def in_dependency_order(members: Sequence[LayerMember]) -> list[LayerMember]:
    """The members, each after the members it reads (stable for independent ones)."""
    by_key = {member.key: member for member in members}
    graph = {m.key: [d for d in m.inputs if d in by_key] for m in members}
    position = {key: index for index, key in enumerate(by_key)}
    sorter = TopologicalSorter(graph)
    sorter.prepare()  # raises CycleError on a cycle
    ordered: list[AssetKey] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        ordered.extend(ready)
        sorter.done(*ready)
    return [by_key[key] for key in ordered]


Prepare = Callable[[duckdb.DuckDBPyConnection, AssetExecutionContext], None]


def build_layer_asset(
    name: str, members: Sequence[LayerMember], prepare: Prepare | None = None
) -> AssetsDefinition:
    """One subsettable step building `members` (see the module docstring); `prepare` runs
    first, on the step's connection, for work the selected members share. What stops one
    member should be kept for that member to report when it runs, so the others still build."""
    ordered = in_dependency_order(members)

    @multi_asset(
        name=name,
        specs=[member.spec for member in ordered],
        check_specs=[check for member in ordered for check in member.check_specs],
        can_subset=True,
        pool=POOL,
    )
    def _layer(context: AssetExecutionContext, warehouse: DuckDBWarehouse, settings: RunSettings):
        # `settings` is read by the members through `context.resources`.
        if settings.engine_name() == "spark":
            from b2b_assets.engines.spark import shared_tables

            tables = shared_tables()
            yield from run_members(context, ordered, partial(_run_on_spark, tables, context))
            return
        with warehouse.connect() as con:
            install_macros(con)
            if prepare is not None:
                prepare(con, context)
            yield from run_members(context, ordered, lambda member: member.run(con, context))

    return _layer


def _run_on_spark(
    tables: "SparkTables", context: AssetExecutionContext, member: LayerMember
) -> MaterializeResult:
    if member.run_on_spark is None:
        raise Failure(description=f"{member.key.to_user_string()} has no form that runs on Spark")
    return member.run_on_spark(tables, context)


def run_members(
    context: AssetExecutionContext,
    ordered: Sequence[LayerMember],
    build: Callable[[LayerMember], MaterializeResult],
) -> Iterator[MaterializeResult]:
    """Build the selected members in order; what reads a failed member is not built."""
    selected = context.selected_asset_keys
    stopped: dict[AssetKey, str] = {}
    errors: dict[str, str] = {}
    for member in ordered:
        if member.key not in selected:
            continue
        cause = next((key for key in member.inputs if key in stopped), None)
        if cause is not None:
            stopped[member.key] = f"its input {cause.to_user_string()} was not published"
            context.log.warning(f"{member.key.to_user_string()}: not built, {stopped[member.key]}")
            continue
        try:
            result = build(member)
        except Failure as exc:
            stopped[member.key] = exc.description or str(exc)
            errors[member.key.to_user_string()] = stopped[member.key]
            continue
        except Exception as exc:
            stopped[member.key] = f"{type(exc).__name__}: {exc}"
            errors[member.key.to_user_string()] = stopped[member.key]
            context.log.error(f"{member.key.to_user_string()}: {stopped[member.key]}")
            continue
        if not is_published(result):
            stopped[member.key] = "its check failed"
        yield result
    if errors:
        raise Failure(
            description="\n".join(f"{asset}: {cause}" for asset, cause in errors.items()),
            metadata={FAILED_ASSETS: MetadataValue.json(errors)},
            allow_retries=False,
        )
