"""The DuckDB warehouse resource: one place that opens connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from b2b_assets.settings import load_settings

SCHEMAS = ("raw", "b2b", "identity", "profile", "audience", "activation", "ops")


class DuckDBWarehouse(ConfigurableResource):
    """The warehouse file; connections are opened per asset, never at import time."""

    path: str
    memory_limit: str = "4GB"
    threads: int = 2
    temp_directory: str = ""

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with UTC time, no extension downloads and the project's schemas."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        temp_dir = self.temp_directory or f"{self.path}.tmp"
        con = duckdb.connect(
            self.path,
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "memory_limit": self.memory_limit,
                "threads": self.threads,
                "temp_directory": temp_dir,
            },
        )
        try:
            con.execute("SET TimeZone = 'UTC'")
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            yield con
        finally:
            con.close()


def default_warehouse() -> DuckDBWarehouse:
    """The warehouse named by `B2B_WAREHOUSE` (or the data folder's default)."""
    return DuckDBWarehouse(path=str(load_settings().warehouse))
