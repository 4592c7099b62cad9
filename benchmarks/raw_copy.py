#!/usr/bin/env python
"""Lower bound of a persisted raw layer: every landing object copied into a DuckDB file as it is.

    python benchmarks/raw_copy.py ENV_DIR DATABASE

Finds each object of each source of ENV_DIR/sources.yaml (and fx_rates.csv) as the raw layer
does, and copies its files into a table of DATABASE (replaced): CSV as text, Parquet as
stored, in one statement per object, on a connection set up like the warehouse's (memory
limit from B2B_MEMORY_LIMIT, threads, insertion order not kept). Nothing else: no typing, cleaning, row numbers,
quarantine, deduplication, checks or Dagster. Prints the objects, rows and seconds.

Whatever the platform does besides copying its input costs more than this; `python -m
benchmarks.bench --lower-bounds` sets the figure beside the floor.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

from b2b_assets.resources import DuckDBWarehouse
from b2b_assets.settings import load_settings
from b2b_assets.sources.catalog import FX_RATES, OBJECTS_BY_TYPE
from b2b_assets.sources.config import landing_dir, load_sources
from b2b_assets.sources.reader import find_object_files, raw_table_name

CSV_TEXT = "header = true, delim = ',', quote = '\"', escape = '\"', all_varchar = true"


def objects(env: Path) -> list[tuple[str, list[Path]]]:
    """(table name, files) of every object with files, the reference rates first."""
    found = [(raw_table_name("", FX_RATES), find_object_files(env, FX_RATES))]
    for source in load_sources(env / "sources.yaml").sources:
        folder = landing_dir(env, source)
        for spec in OBJECTS_BY_TYPE[source.type]:
            found.append((raw_table_name(source.name, spec), find_object_files(folder, spec)))
    return [(name, files) for name, files in found if files]


def copy_object(con: duckdb.DuckDBPyConnection, table: str, files: list[Path]) -> int:
    """Copy one object's files into `table` (its CSV and Parquet parts side by side); returns
    its rows."""
    parquet = [str(path) for path in files if path.suffix.lower() == ".parquet"]
    text = [str(path) for path in files if path.suffix.lower() != ".parquet"]
    scans = [f"SELECT * FROM read_csv($text, {CSV_TEXT})"] if text else []
    scans += ["SELECT * FROM read_parquet($parquet)"] if parquet else []
    params = {name: value for name, value in (("text", text), ("parquet", parquet)) if value}
    con.execute(f'CREATE OR REPLACE TABLE "{table}" AS {" UNION ALL BY NAME ".join(scans)}', params)
    return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("env", type=Path, help="environment folder (sources.yaml, landing/)")
    ap.add_argument("database", type=Path, help="the DuckDB file to write (replaced)")
    args = ap.parse_args(argv)
    for stale in (args.database, args.database.with_name(args.database.name + ".wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    rows = 0
    found = objects(args.env)
    warehouse = DuckDBWarehouse(path=str(args.database), memory_limit=load_settings().memory_limit)
    with warehouse.connect() as con:
        for table, files in found:
            began = time.perf_counter()
            count = copy_object(con, table, files)
            rows += count
            print(f"{table}: {count:,} rows in {time.perf_counter() - began:.2f} s", flush=True)
    print(f"copied {len(found)} objects, {rows:,} rows in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
