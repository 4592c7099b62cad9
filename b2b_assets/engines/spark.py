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
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from b2b_assets.engines.dialect import parse, portable
from b2b_assets.settings import SettingsError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[*]"
STAGING = "_staging"
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
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    builder = builder.remote(settings.remote) if settings.remote else builder.master(settings.master)
    session = (
        builder.config("spark.sql.warehouse.dir", str(settings.warehouse))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    return session


def table_parts(name: str) -> tuple[str, str]:
    """`schema.table` -> (schema, table), each a plain lower-case SQL name."""
    parts = name.split(".")
    if len(parts) != 2 or not all(_NAME.fullmatch(p) for p in parts):
        raise ValueError(f"{name!r} is not a table name of the form schema.table")
    return parts[0], parts[1]


Check = Callable[["DataFrame"], bool]


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
        found = []
        if not self.warehouse.is_dir():
            return found
        for schema_dir in sorted(self.warehouse.glob("*.db")):
            for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
                name = f"{schema_dir.stem}.{table_dir.name}"
                if table_dir.name == STAGING or not _NAME.fullmatch(table_dir.name):
                    continue
                self.register(name)
                found.append(name)
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

    def sql(self, duckdb_sql: str) -> DataFrame:
        """A DuckDB query of the project, run on Spark."""
        return self.spark.sql(portable(parse(duckdb_sql)).sql(dialect="spark"))

    def publish(self, name: str, frame: DataFrame, check: Check | None = None) -> bool:
        """Write `frame` as table `name` if `check` passes on what was written; True if
        published. Otherwise the table stays as it was."""
        target = self.location(name)
        staging = target.parent / STAGING / f"{target.name}-{uuid.uuid4().hex[:12]}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        try:
            frame.write.mode("error").parquet(staging.as_uri())
            written = self.spark.read.parquet(staging.as_uri())
            if check is not None and not check(written):
                return False
            retired = target.parent / STAGING / f"{target.name}-retired-{uuid.uuid4().hex[:12]}"
            if target.exists():
                target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.register(name)
        return True

    def build(self, name: str, duckdb_select: str, check: Check | None = None) -> bool:
        """Build table `name` from a DuckDB query of the project (translated); see `publish`."""
        return self.publish(name, self.sql(duckdb_select), check)

    def rows(self, name: str) -> list[tuple]:
        schema, table = table_parts(name)
        return [tuple(row) for row in self.spark.table(f"{schema}.{table}").collect()]
