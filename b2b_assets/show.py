"""Print warehouse tables: `python -m b2b_assets.show [schema.table ...] [--emails]`.

With no table named, prints every audience. An audience is printed without its `why` column,
then one block per member with each condition it met on its own line. Opens the warehouse
read-only; with `B2B_ENGINE=spark`, reads the Parquet tables of Spark's warehouse instead.
"""

from __future__ import annotations

import argparse
import re
import sys

import duckdb
import polars as pl

from b2b_assets.engines.spark import engine_name
from b2b_assets.segments.explain import audience_text
from b2b_assets.settings import Settings, load_settings
from b2b_assets.sql import frame

TABLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
SHOWN_ROWS = 50


def audience_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'audience' "
        "UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'audience' ORDER BY 1"
    ).fetchall()
    return [f"audience.{row[0]}" for row in rows]


def open_tables(settings: Settings) -> duckdb.DuckDBPyConnection | None:
    """A connection that sees the run's tables: the DuckDB warehouse (read-only), or, on Spark,
    an in-memory database with a view over each table of Spark's warehouse."""
    if engine_name() == "spark":
        from b2b_assets.engines.parquet_views import view_spark_tables
        from b2b_assets.engines.spark import SparkSettings, warehouse_tables

        warehouse = SparkSettings.from_env(settings.data_dir).warehouse
        names = warehouse_tables(warehouse)
        if not names:
            print(f"no tables in {warehouse}; materialize the graph first", file=sys.stderr)
            return None
        con = duckdb.connect()
        view_spark_tables(con, warehouse, names)
        return con
    if not settings.warehouse.exists():
        print(f"no warehouse at {settings.warehouse}; materialize the graph first", file=sys.stderr)
        return None
    return duckdb.connect(str(settings.warehouse), read_only=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tables", nargs="*", help="schema.table, e.g. profile.account")
    parser.add_argument("--emails", action="store_true", help="print only the email column")
    args = parser.parse_args(argv)
    con = open_tables(load_settings())
    if con is None:
        return 1
    with con:
        tables = args.tables or audience_tables(con)
        for table in tables:
            if not TABLE_PATTERN.match(table):
                print(f"{table!r} is not schema.table", file=sys.stderr)
                return 2
            schema, name = table.split(".")
            result = frame(con, f'SELECT * FROM "{schema}"."{name}"')
            if args.emails:
                for email in result.get_column("email").to_list():
                    print(email)
                continue
            print_table(table, result)
    return 0


def print_table(table: str, result: pl.DataFrame) -> None:
    """A table's rows; an audience's `why` as one readable block per member."""
    print(f"{table}: {result.height} row(s)")
    explained = table.startswith("audience.") and "why" in result.columns
    shown = result.drop("why") if explained else result
    with pl.Config(tbl_rows=SHOWN_ROWS, tbl_cols=12, fmt_str_lengths=120, tbl_width_chars=200):
        print(shown)
    if explained and result.height:
        members = result.head(SHOWN_ROWS).to_dicts()
        print(f"why:\n{audience_text(members, result.height)}")


if __name__ == "__main__":
    raise SystemExit(main())
