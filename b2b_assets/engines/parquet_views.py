"""Tables built on Spark, read by DuckDB: a view over each table's Parquet folder.

Activation keeps its delivery ledger in the DuckDB warehouse whichever engine built the
audiences; with `B2B_ENGINE=spark` the tables it reads (the audience, the profiles and the
source people) are these views, so it reads what Spark published."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from b2b_assets.engines.spark import table_parts
from b2b_assets.sql import literal, quoted, relation_kind

ACTIVATION_READS = ("profile.person", "profile.account", "identity.person", "b2b.person")


def view_spark_tables(
    con: duckdb.DuckDBPyConnection, warehouse: Path, names: Iterable[str]
) -> list[str]:
    """Make each of `names` that the Spark `warehouse` holds a view over its Parquet files
    (replacing a DuckDB table of that name); returns the names viewed."""
    viewed = []
    for name in names:
        schema, table = table_parts(name)
        folder = warehouse / f"{schema}.db" / table
        if not folder.is_dir():
            continue
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        if relation_kind(con, schema, table) == "table":
            con.execute(f"DROP TABLE {quoted(name)}")
        files = literal(str(folder / "**" / "*.parquet"))
        con.execute(f"CREATE OR REPLACE VIEW {quoted(name)} AS SELECT * FROM read_parquet({files})")
        viewed.append(name)
    return viewed
