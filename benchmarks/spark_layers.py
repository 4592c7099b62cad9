#!/usr/bin/env python
"""The model, identity and profile tables built whole on DuckDB and on Spark, in one run.

    python benchmarks/spark_layers.py DATA [--master local[2]] [--keep]

DATA is an environment folder (e.g. from `python -m benchmarks.synth --scale 0.1 --out DATA`).
1. Builds its raw layer on DuckDB with `dagster asset materialize --select 'group:raw'` into a
   temporary warehouse (not timed).
2. DuckDB: builds the 22 tables of `b2b`, `identity` and `profile` whole from their one-query
   definitions, in dependency order, on one connection (no checks, no Dagster).
3. Spark (`--master`, default local[2]): copies the raw tables into a Spark warehouse as Parquet
   (timed apart), then builds the same 22 tables from the same definitions (translated) and
   writes each as a Parquet table.

Prints each table's rows and seconds on both engines, the totals and their ratio. Figures
only: nothing is asserted on them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as a file: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb

from b2b_assets.engines.spark import (
    SparkSettings,
    SparkTables,
    duckdb_relations,
    spark_session,
)
from b2b_assets.identity.components import COMPONENTS, find_components
from b2b_assets.identity.tables import identity_tables
from b2b_assets.model.tables import model_tables
from b2b_assets.profiles.tables import profile_tables
from b2b_assets.settings import parse_as_of
from b2b_assets.sources.config import load_sources
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets.tables import TableAsset, in_build_order
from benchmarks.bench import materialize_command, run_environment


def layer_tables(data: Path) -> list[TableAsset]:
    config = load_sources(data / "sources.yaml")
    return in_build_order(
        [*model_tables(config), *identity_tables(config), *profile_tables(config)]
    )


def build_raw(data: Path, as_of: str, folder: Path) -> Path:
    """The raw layer of `data` on DuckDB, in a warehouse in `folder`; returns its path."""
    env, _, warehouse = run_environment(data, as_of, folder)
    with (folder / "raw.log").open("wb") as log:
        subprocess.run(
            materialize_command("group:raw"), env=env, stdout=log, stderr=log, check=True
        )
    return warehouse


def on_duckdb(warehouse: Path, tables: list[TableAsset], as_of) -> dict[str, tuple[int, float]]:
    con = duckdb.connect(str(warehouse))
    con.execute("SET TimeZone = 'UTC'")
    install_macros(con)
    figures = {}
    try:
        for table in tables:
            started = time.perf_counter()
            if table.graph is not None:
                find_components(con, table.graph)
            params = {"as_of": as_of} if "$as_of" in table.select else None
            con.execute(f"CREATE OR REPLACE TABLE {table.name} AS {table.select}", params)
            if table.graph is not None:
                con.execute(f"DROP TABLE IF EXISTS {COMPONENTS}")
            seconds = time.perf_counter() - started
            rows = con.execute(f"SELECT count(*) FROM {table.name}").fetchall()[0][0]
            figures[table.name] = (rows, seconds)
    finally:
        con.close()
    return figures


def copy_raw(warehouse: Path, spark: SparkTables) -> float:
    started = time.perf_counter()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for name in duckdb_relations(con, "raw"):
            spark.copy_from_duckdb(con, name)
    finally:
        con.close()
    return time.perf_counter() - started


def on_spark(spark: SparkTables, tables: list[TableAsset], as_of) -> dict[str, tuple[int, float]]:
    figures = {}
    for table in tables:
        started = time.perf_counter()
        spark.build(table.name, table.select, params={"as_of": as_of}, graph=table.graph)
        seconds = time.perf_counter() - started
        figures[table.name] = (spark.spark.table(table.name).count(), seconds)
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    data = args.data.resolve()
    expected = data / "expected.json"
    as_of_text = json.loads(expected.read_text())["as_of"] if expected.exists() else "2026-11-15"
    as_of = parse_as_of(as_of_text)
    folder = Path(tempfile.mkdtemp(prefix="spark-layers-"))
    try:
        warehouse = build_raw(data, as_of_text, folder)
        tables = layer_tables(data)
        duck = on_duckdb(warehouse, tables, as_of)
        started = time.perf_counter()
        session = spark_session(
            SparkSettings(warehouse=folder / "spark-warehouse", master=args.master)
        )
        startup = time.perf_counter() - started
        spark = SparkTables(session, folder / "spark-warehouse")
        copied = copy_raw(warehouse, spark)
        on_spark_figures = on_spark(spark, tables, as_of)
        session.stop()
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"data: {data}; Spark master {args.master}; {os.cpu_count()} CPUs")
    print(f"Spark start-up {startup:.1f} s; raw copied into the Spark warehouse in {copied:.1f} s")
    print(f"{'table':<30} {'rows':>12} {'DuckDB s':>9} {'Spark s':>9} {'equal rows':>10}")
    for name, (rows, seconds) in duck.items():
        spark_rows, spark_seconds = on_spark_figures[name]
        same = "yes" if rows == spark_rows else f"NO ({spark_rows})"
        print(f"{name:<30} {rows:>12,} {seconds:>9.2f} {spark_seconds:>9.2f} {same:>10}")
    duck_total = sum(s for _, s in duck.values())
    spark_total = sum(s for _, s in on_spark_figures.values())
    print(f"{'total':<30} {'':>12} {duck_total:>9.2f} {spark_total:>9.2f}")
    print(f"Spark / DuckDB: {spark_total / duck_total:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
