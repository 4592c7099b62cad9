"""What a check asks of an engine: one value, rows, a frame, or a frame in batches.

The checks are written once, in DuckDB's SQL, against this interface; `DuckDBQueries` runs them
on a connection and `engines.spark.SparkQueries` translates and runs them on Spark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import duckdb
import polars as pl

from b2b_assets.sql import frame as read_frame
from b2b_assets.sql import scalar, utc_frame


@runtime_checkable
class Queries(Protocol):
    def scalar(self, sql: str) -> Any: ...

    def rows(self, sql: str) -> list[tuple]: ...

    def frame(self, sql: str) -> pl.DataFrame: ...

    def batches(self, sql: str, size: int) -> Iterator[pl.DataFrame]: ...


class DuckDBQueries:
    """The queries on a DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def scalar(self, sql: str) -> Any:
        return scalar(self.con, sql)

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def frame(self, sql: str) -> pl.DataFrame:
        return read_frame(self.con, sql)

    def batches(self, sql: str, size: int) -> Iterator[pl.DataFrame]:
        reader = self.con.sql(sql).to_arrow_reader(size)
        try:
            for batch in reader:
                yield utc_frame(pl.from_arrow(batch))  # type: ignore[arg-type]
        finally:
            reader.close()


def queries_of(con: duckdb.DuckDBPyConnection | Queries) -> Queries:
    """`con` as queries: a DuckDB connection is wrapped."""
    return con if isinstance(con, Queries) else DuckDBQueries(con)
