"""The run's resources: the DuckDB warehouse (one place that opens connections) and the run's
settings. Every field left empty takes the contract's environment variable, so a run launched
from the launchpad can change one (`as_of`, say) and keep the others."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from pydantic import Field

from b2b_assets.settings import load_settings, parse_as_of, parse_memory_limit

SCHEMAS = ("raw", "b2b", "identity", "profile", "audience", "activation", "ops")


class DuckDBWarehouse(ConfigurableResource):
    """The warehouse file; connections are opened per step, never at import time."""

    path: str = Field(default="", description="The DuckDB file (empty: B2B_WAREHOUSE).")
    memory_limit: str = Field(
        default="", description="DuckDB's memory limit, e.g. 4GB (empty: B2B_MEMORY_LIMIT)."
    )
    threads: int = 2
    temp_directory: str = ""
    lock_timeout_seconds: float = 600.0
    # Every asset closes its connection with a checkpoint, where DuckDB by default merges the
    # row groups a parallel build left part-filled: 0.7-1.7 s per rebuilt table at scale 1.
    # Tables here are rebuilt whole or appended load by load, so their row groups are kept as
    # written; True restores the merging.
    merge_row_groups: bool = False

    @property
    def file(self) -> str:
        """The warehouse file: `path`, else the contract's default."""
        return self.path or str(load_settings().warehouse)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with UTC time, no extension downloads and the project's schemas."""
        file = self.file
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        temp_dir = self.temp_directory or f"{file}.tmp"
        config = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": parse_memory_limit(self.memory_limit)
            if self.memory_limit
            else load_settings().memory_limit,
            "threads": self.threads,
            "temp_directory": temp_dir,
            # Tables are sets: not keeping insertion order lets large writes stream and spill.
            "preserve_insertion_order": False,
        }
        con = self._connect_waiting(file, config)
        try:
            con.execute("SET TimeZone = 'UTC'")
            if not self.merge_row_groups:
                con.execute("SET max_vacuum_tasks = 0")
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            yield con
        finally:
            con.close()

    def _connect_waiting(self, file: str, config: dict) -> duckdb.DuckDBPyConnection:
        """Open the file; while another process holds its lock, wait (with backoff) instead of
        failing, so overlapping runs take turns."""
        deadline = time.monotonic() + self.lock_timeout_seconds
        delay = 0.05
        while True:
            try:
                return duckdb.connect(file, config=config)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


class RunSettings(ConfigurableResource):
    """When a run evaluates its windows and where it delivers; empty takes the environment."""

    as_of: str = Field(
        default="",
        description="The instant windows end at: an ISO-8601 date or timestamp "
        "(empty: B2B_AS_OF, else now).",
    )
    outbox: str = Field(default="", description="The outbox folder (empty: B2B_OUTBOX).")
    engine: str = Field(
        default="", description="Where the layers are built: duckdb or spark (empty: B2B_ENGINE)."
    )

    def as_of_instant(self) -> datetime:
        return parse_as_of(self.as_of) if self.as_of.strip() else load_settings().as_of

    def engine_name(self) -> str:
        from b2b_assets.engines.spark import engine_name

        return engine_name({"B2B_ENGINE": self.engine} if self.engine.strip() else None)

    def outbox_folder(self) -> Path:
        return Path(self.outbox).expanduser().resolve() if self.outbox else load_settings().outbox


def default_resources() -> dict[str, ConfigurableResource]:
    """The resources every run gets, each field defaulting to the environment."""
    return {"warehouse": DuckDBWarehouse(), "settings": RunSettings()}
