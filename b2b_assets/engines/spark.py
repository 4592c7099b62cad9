"""Spark: the session the contract's settings describe, and its tables.

Each table is a Parquet table of Spark's catalog at `<warehouse>/<schema>.db/<table>/`
(Spark's own layout, contract section 6). The catalog of a new session is filled from that
layout (`SparkTables.register_existing`), so a table built by one run is read by the next.

A table is written whole to a staging folder beside it and checked there; only then does it
replace the table's folder, so a failed build or check keeps the last good table, as the
DuckDB warehouse's transactions do. The swap is two renames on the warehouse's file system
(a local or mounted folder).

PySpark is imported when a session is made, not with this module.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
from dagster import AssetCheckResult, AssetKey

from b2b_assets.engines.dialect import to_spark
from b2b_assets.identity.components import COMPONENTS, Graph
from b2b_assets.settings import SettingsError, load_settings
from b2b_assets.sql import literal, markdown_table, quoted, utc_frame

if TYPE_CHECKING:
    import pandera.polars as pa
    from pyspark.sql import DataFrame, SparkSession

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[*]"
STAGING = "_staging"
PREVIEW_ROWS = 10
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def engine_name(environ: Mapping[str, str] | None = None) -> str:
    """`B2B_ENGINE`: duckdb (the default) or spark."""
    env = os.environ if environ is None else environ
    name = (env.get("B2B_ENGINE") or "duckdb").strip().lower()
    if name not in ENGINES:
        raise SettingsError(f"B2B_ENGINE={name!r} is not one of {', '.join(ENGINES)}")
    return name


@dataclass(frozen=True)
class SparkSettings:
    """Where Spark runs and keeps its tables (contract section 6)."""

    warehouse: Path
    master: str = DEFAULT_MASTER
    remote: str | None = None

    @classmethod
    def from_env(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> SparkSettings:
        env = os.environ if environ is None else environ
        warehouse = env.get("B2B_SPARK_WAREHOUSE") or str(data_dir / "spark-warehouse")
        remote = (env.get("B2B_SPARK_REMOTE") or "").strip() or None
        if remote is not None and not remote.startswith("sc://"):
            raise SettingsError(f"B2B_SPARK_REMOTE={remote!r} is not a Spark Connect URL (sc://)")
        master = (env.get("B2B_SPARK_MASTER") or "").strip() or DEFAULT_MASTER
        return cls(warehouse=Path(warehouse).resolve(), master=master, remote=remote)


def spark_session(settings: SparkSettings, app_name: str = "b2b_assets") -> SparkSession:
    """The session: Spark Connect when `remote` is set, else the master; UTC; the warehouse."""
    if settings.remote:
        # Spark Connect's own builder: a client session, whatever else the process runs. The
        # server owns its static settings; tables are read and written by their location.
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        return (
            ConnectSession.builder.remote(settings.remote)
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.appName(app_name)
        .master(settings.master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(settings.warehouse))
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


_shared: dict[str, SparkTables] = {}


def shared_tables(settings: SparkSettings | None = None) -> SparkTables:
    """The process's session and the tables of the warehouse `settings` (default: the
    environment's) names, made on first use; a warehouse used for the first time, or again
    after another, has its tables put in the session's catalog."""
    settings = settings or SparkSettings.from_env(load_settings().data_dir)
    current = _shared.get("current")
    if current is not None and current.warehouse == settings.warehouse:
        return current
    tables = SparkTables(spark_session(settings), settings.warehouse)
    tables.register_existing()
    _shared["current"] = tables
    return tables


def table_parts(name: str) -> tuple[str, str]:
    """`schema.table` -> (schema, table), each a plain lower-case SQL name."""
    parts = name.split(".")
    if len(parts) != 2 or not all(_NAME.fullmatch(p) for p in parts):
        raise ValueError(f"{name!r} is not a table name of the form schema.table")
    return parts[0], parts[1]


Check = Callable[["DataFrame"], bool]


@contextmanager
def staging_folder(schema_folder: Path, stem: str) -> Iterator[Path]:
    """A new folder path under the schema's `_staging/`, removed afterwards if still there."""
    staging = schema_folder / STAGING / f"{stem}-{uuid.uuid4().hex[:12]}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def swap_in(staging: Path, target: Path) -> None:
    """Replace folder `target` by `staging`: two renames, then the old folder is removed."""
    retired = staging.with_name(f"{staging.name}-retired")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def warehouse_tables(warehouse: Path) -> list[str]:
    """`schema.table` of each table folder in a Spark warehouse (not the staging folders)."""
    found = []
    if not warehouse.is_dir():
        return found
    for schema_dir in sorted(warehouse.glob("*.db")):
        for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
            if table_dir.name != STAGING and _NAME.fullmatch(table_dir.name):
                found.append(f"{schema_dir.stem}.{table_dir.name}")
    return found


def duckdb_relations(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """The tables and views of a DuckDB warehouse's `schema`, as `schema.table`, sorted."""
    rows = con.execute(
        """SELECT table_name FROM duckdb_tables() WHERE schema_name = $schema
           UNION SELECT view_name FROM duckdb_views() WHERE schema_name = $schema
                                                       AND NOT internal""",
        {"schema": schema},
    ).fetchall()
    return sorted(f"{schema}.{name}" for (name,) in rows)


class SparkTables:
    """The warehouse's tables on a Spark session."""

    def __init__(self, spark: SparkSession, warehouse: Path):
        self.spark = spark
        self.warehouse = warehouse

    def location(self, name: str) -> Path:
        schema, table = table_parts(name)
        return self.warehouse / f"{schema}.db" / table

    def register_existing(self) -> list[str]:
        """Put every table folder of the warehouse in the session's catalog; their names."""
        found = warehouse_tables(self.warehouse)
        for name in found:
            self.register(name)
        return found

    def register(self, name: str) -> None:
        """Put the table folder of `name` in the session's catalog."""
        schema, table = table_parts(name)
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
        self.spark.sql(f"DROP TABLE IF EXISTS {schema}.{table}")
        location = self.location(name).as_uri()
        if "'" in location or "\\" in location:
            raise SettingsError(f"the Spark warehouse path {location} has a quote or backslash")
        self.spark.sql(f"CREATE TABLE {schema}.{table} USING parquet LOCATION '{location}'")
        if any("=" in p.name for p in self.location(name).iterdir() if p.is_dir()):
            self.spark.sql(f"MSCK REPAIR TABLE {schema}.{table}")  # its partitions

    def sql(self, duckdb_sql: str, params: Mapping[str, object] | None = None) -> DataFrame:
        """A DuckDB query of the project, run on Spark (`params`: its `$name` values)."""
        return self.spark.sql(to_spark(duckdb_sql, params))

    def components(self, graph: Graph) -> int:
        """The temp view `_components` of `graph` (see `identity.components`), found by label
        propagation: every node starts with its own key as label and takes the smallest label
        among itself and its neighbours, then the label of its label (pointer jumping), until
        no label changes. Each round is a join and an aggregation on the executors; only a
        count of changed labels reaches the driver. Returns the rounds taken."""
        self.sql(graph.nodes).where("node IS NOT NULL").createOrReplaceTempView("_cc_nodes")
        links = self.sql(
            f"""SELECT e.left_key AS a, e.right_key AS b FROM ({graph.edges}) e
                JOIN _cc_nodes l ON l.node = e.left_key JOIN _cc_nodes r ON r.node = e.right_key
                WHERE e.left_key <> e.right_key"""
        )
        links.union(
            links.selectExpr("b AS a", "a AS b")
        ).distinct().localCheckpoint().createOrReplaceTempView("_cc_links")
        labels = self.spark.sql("SELECT node, node AS label FROM _cc_nodes").localCheckpoint()
        rounds = 0
        while True:
            rounds += 1
            labels.createOrReplaceTempView("_cc_labels")
            nearest = self.spark.sql(
                """SELECT l.node, least(l.label, coalesce(min(n.label), l.label)) AS label
                   FROM _cc_labels l LEFT JOIN _cc_links k ON k.a = l.node
                   LEFT JOIN _cc_labels n ON n.node = k.b
                   GROUP BY l.node, l.label"""
            )
            nearest.createOrReplaceTempView("_cc_nearest")
            jumped = self.spark.sql(
                """SELECT l.node, least(l.label, j.label) AS label
                   FROM _cc_nearest l JOIN _cc_nearest j ON j.node = l.label"""
            ).localCheckpoint()
            jumped.createOrReplaceTempView("_cc_next")
            changed = self.spark.sql(
                """SELECT count(*) AS n FROM _cc_next x JOIN _cc_labels l USING (node)
                   WHERE x.label <> l.label"""
            ).first()[0]
            labels = jumped
            if changed == 0:
                break
        labels.createOrReplaceTempView("_cc_labels")
        self.spark.sql(
            """SELECT n.*, l.label AS component FROM _cc_nodes n JOIN _cc_labels l USING (node)"""
        ).createOrReplaceTempView(COMPONENTS)
        return rounds

    def publish(self, name: str, frame: DataFrame, check: Check | None = None) -> bool:
        """Write `frame` as table `name` if `check` passes on what was written; True if
        published. Otherwise the table stays as it was."""
        target = self.location(name)
        with staging_folder(target.parent, target.name) as staging:
            frame.write.mode("error").parquet(staging.as_uri())
            written = self.spark.read.parquet(staging.as_uri())
            if check is not None and not check(written):
                return False
            swap_in(staging, target)
        self.register(name)
        return True

    def replace_partition(self, name: str, column: str, value: str, frame: DataFrame) -> None:
        """Replace one partition (`<column>=<value>/`) of table `name` with `frame`'s rows,
        swapped in as `publish` swaps a table; the other partitions stay."""
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a partition value of {name}")
        target = self.location(name) / f"{column}={value}"
        with staging_folder(self.location(name).parent, value) as staging:
            frame.write.mode("error").parquet(staging.as_uri())
            swap_in(staging, target)
        self.register(name)

    def append(self, name: str, frame: DataFrame) -> None:
        """Add `frame`'s rows to table `name` (a log: new files beside the old)."""
        frame.write.mode("append").parquet(self.location(name).as_uri())
        self.register(name)

    def build(
        self,
        name: str,
        duckdb_select: str,
        check: Check | None = None,
        params: Mapping[str, object] | None = None,
        graph: Graph | None = None,
    ) -> bool:
        """Build table `name` from a DuckDB query of the project (translated), which may read
        the components of `graph`; see `publish`."""
        if graph is not None:
            self.components(graph)
        return self.publish(name, self.sql(duckdb_select, params), check)

    def copy_from_duckdb(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        """A table (or view) of a DuckDB warehouse, as the same table of this warehouse."""
        folder = self.location(name)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        con.execute(
            f"COPY (SELECT * FROM {quoted(name)}) TO {literal(str(folder / 'part-0.parquet'))}"
        )
        self.register(name)

    def rows(self, name: str) -> list[tuple]:
        schema, table = table_parts(name)
        return [tuple(row) for row in self.spark.table(f"{schema}.{table}").collect()]


class SparkQueries:
    """The checks' queries (`engines.queries.Queries`), translated and run on Spark. Only
    results reach the driver: counts, samples, and the batches of the columns Pandera itself
    checks, streamed a partition at a time."""

    def __init__(self, tables: SparkTables):
        self.tables = tables

    def scalar(self, sql: str) -> Any:
        row = self.tables.sql(sql).first()
        return None if row is None else row[0]

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self.tables.sql(sql).collect()]

    def frame(self, sql: str) -> pl.DataFrame:
        return utc_frame(pl.from_arrow(self.tables.sql(sql).toArrow()))  # type: ignore[arg-type]

    def batches(self, sql: str, size: int) -> Iterator[pl.DataFrame]:
        query = self.tables.sql(sql)
        schema = self.frame(f"SELECT * FROM ({sql}) LIMIT 0").schema
        chunk: list[tuple] = []
        for row in query.toLocalIterator():
            chunk.append(tuple(row))
            if len(chunk) == size:
                yield pl.DataFrame(chunk, schema=schema, orient="row")
                chunk = []
        if chunk:
            yield pl.DataFrame(chunk, schema=schema, orient="row")


class SparkCheck:
    """A table's blocking Pandera check on what a Spark build wrote (a `Check`); after the
    call it holds the result, the rows written and a preview of the first of them."""

    def __init__(self, tables: SparkTables, key: AssetKey, schema: pa.DataFrameSchema):
        self.tables, self.key, self.schema = tables, key, schema
        self.result: AssetCheckResult | None = None
        self.rows = 0
        self.preview = ""
        self.seconds = 0.0

    def __call__(self, written: DataFrame) -> bool:
        from b2b_assets.checks.pandera_checks import validate_table

        started = time.perf_counter()
        view = f"_checked_{'_'.join(self.key.path)}"
        written.createOrReplaceTempView(view)
        self.result = validate_table(SparkQueries(self.tables), self.key, view, self.schema)
        self.rows = int(written.count())
        first = written.limit(PREVIEW_ROWS).collect()
        self.preview = markdown_table(written.columns, [tuple(row) for row in first])
        self.seconds = time.perf_counter() - started
        return self.result.passed


def spark_check(tables: SparkTables, key: AssetKey, schema: pa.DataFrameSchema) -> SparkCheck:
    """The table's blocking Pandera check, run on what a Spark build wrote."""
    return SparkCheck(tables, key, schema)
