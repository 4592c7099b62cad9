"""Shared fixtures: tiny landing folders in the contract's format, whole-graph runs, queries."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster
import duckdb
import polars as pl
import pytest
import yaml

from b2b_assets.resources import DuckDBWarehouse, RunSettings

# A file sensor evaluated here looks once per tick (see b2b_assets.automation.keep_watching);
# the tests of watching set their own time.
os.environ.setdefault("B2B_SENSOR_WATCH_SECONDS", "0")
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets.sql import frame as sql_frame

# Helper modules whose functions assert for the tests: their failures are explained as in a test.
pytest.register_assert_rewrite(
    "b2b_assets_tests.segments.segment_world",
    "b2b_assets_tests.sources.bad_input_cases",
    "b2b_assets_tests.sources.data_problems",
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO_ROOT / "data"

# --------------------------------------------------------------------------------------------
# Landing folders
# --------------------------------------------------------------------------------------------


def write_csv(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    bom: bool = False,
    newline: str = "\n",
) -> Path:
    """Write rows (dicts) as an RFC 4180 CSV; `None` is written as an empty cell."""
    if columns is None:
        columns = []
        for row in rows:
            for name in row:
                if name not in columns:
                    columns.append(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=newline)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return path


@dataclass
class Landing:
    """An environment folder (`B2B_DATA_DIR`) built up by a test."""

    root: Path

    def sources(self, entries: Iterable[Mapping[str, Any]]) -> Path:
        path = self.root / "sources.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"sources": [dict(e) for e in entries]}), encoding="utf-8")
        return path

    def folder(self, instance: str) -> Path:
        path = self.root / "landing" / instance
        path.mkdir(parents=True, exist_ok=True)
        return path

    def csv(
        self,
        instance: str,
        obj: str,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Path:
        return write_csv(self.folder(instance) / f"{obj}.csv", rows, columns, **kwargs)

    def text(self, instance: str, file_name: str, content: str | bytes) -> Path:
        path = self.folder(instance) / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
        return path

    def fx(self, rates: Mapping[str, float]) -> Path:
        return write_csv(
            self.root / "fx_rates.csv",
            [{"currency": c, "rate_to_usd": r} for c, r in rates.items()],
            ["currency", "rate_to_usd"],
        )

    def segment(self, file_stem: str, document: Mapping[str, Any] | str) -> Path:
        path = self.root / "segments" / f"{file_stem}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = document if isinstance(document, str) else yaml.safe_dump(dict(document))
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture
def con():
    """An in-memory warehouse as the resource prepares it: UTC, the raw and ops schemas, the macros."""
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE SCHEMA raw")
    connection.execute("CREATE SCHEMA ops")
    install_macros(connection)
    yield connection
    connection.close()


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    """An empty environment folder in tmp."""
    return Landing(tmp_path / "env")


def copy_demo(target: Path) -> Path:
    """A copy of the demo `data/` (without any warehouse or outbox it may hold)."""
    shutil.copytree(
        DEMO_DATA,
        target,
        ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.*", "*.wal", "outbox", "*.tmp"),
    )
    return target


@pytest.fixture
def demo_data(tmp_path: Path) -> Path:
    """The demo data folder copied to tmp."""
    return copy_demo(tmp_path / "demo")


# --------------------------------------------------------------------------------------------
# Whole-graph runs and queries
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """A materialization of the graph and the warehouse it wrote."""

    data_dir: Path
    warehouse: Path
    as_of: str
    result: dagster.ExecuteInProcessResult
    defs: dagster.Definitions

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        return query(self.warehouse, sql, params)

    def frame(self, sql: str, params: Any = None) -> pl.DataFrame:
        return frame(self.warehouse, sql, params)

    def scalar(self, sql: str, params: Any = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def failed_steps(self) -> set[str]:
        return {e.step_key for e in self.result.all_events if e.is_step_failure}

    def succeeded_steps(self) -> set[str]:
        return {e.step_key for e in self.result.all_events if e.is_step_success}


def env_vars(data_dir: Path, warehouse: Path, as_of: str | None) -> dict[str, str]:
    values = {"B2B_DATA_DIR": str(data_dir), "B2B_WAREHOUSE": str(warehouse)}
    if as_of is not None:
        values["B2B_AS_OF"] = as_of
    return values


def set_env(mp: pytest.MonkeyPatch, data_dir: Path, warehouse: Path, as_of: str | None) -> None:
    for name, value in env_vars(data_dir, warehouse, as_of).items():
        mp.setenv(name, value)
    if as_of is None:
        mp.delenv("B2B_AS_OF", raising=False)
    mp.setenv("B2B_OUTBOX", str(warehouse.parent / "outbox"))


def materialize_env(
    data_dir: Path,
    warehouse: Path,
    as_of: str = "2026-11-15",
    *,
    selection: Any = None,
    raise_on_error: bool = True,
) -> Run:
    """Build the definitions of an environment and materialize it (or a selection of it).

    The settings are read both when the definitions are built and when assets run, so the
    environment variables are set around both.
    """
    from b2b_assets.definitions import build_definitions

    with pytest.MonkeyPatch.context() as mp:
        set_env(mp, data_dir, warehouse, as_of)
        defs = build_definitions()
        assets = list(defs.assets or [])
        result = dagster.materialize(
            assets,
            resources={
                "warehouse": DuckDBWarehouse(path=str(warehouse)),
                "settings": RunSettings(),
            },
            selection=selection,
            raise_on_error=raise_on_error,
        )
    return Run(data_dir, warehouse, as_of, result, defs)


def query(warehouse: Path, sql: str, params: Any = None) -> list[tuple]:
    """Run a query on a read-only connection to the warehouse, opened and closed here."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()
    finally:
        con.close()


def frame(warehouse: Path, sql: str, params: Any = None) -> pl.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return sql_frame(con, sql, params)
    finally:
        con.close()


def table_names(warehouse: Path, schemas: Sequence[str]) -> list[str]:
    listed = ", ".join(f"'{s}'" for s in schemas)
    return [
        f'{schema}."{table}"'
        for schema, table in query(
            warehouse,
            f"SELECT schema_name, table_name FROM duckdb_tables() "
            f"WHERE schema_name IN ({listed}) ORDER BY 1, 2",
        )
    ]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The demo data, copied to tmp and materialized as of 2026-11-15 (once per session)."""
    root = tmp_path_factory.mktemp("demo_run")
    data_dir = copy_demo(root / "data")
    return materialize_env(data_dir, root / "warehouse.duckdb", "2026-11-15")


@pytest.fixture(scope="session")
def fivetran_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The demo with its Salesforce and Marketo sources in Fivetran's shapes, materialized
    as of 2026-11-15 (once per session)."""
    from b2b_assets_tests.sources.fivetran_landing import fivetran_demo

    root = tmp_path_factory.mktemp("fivetran")
    return materialize_env(fivetran_demo(root), root / "warehouse.duckdb", "2026-11-15")


@pytest.fixture(scope="session")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The shared tiny scenario (scenario.py), materialized once; its broken segment fails."""
    from b2b_assets_tests import scenario

    root = tmp_path_factory.mktemp("scenario")
    env = Landing(root / "env")
    scenario.build(env)
    warehouse = root / "warehouse.duckdb"
    scenario.prepare_warehouse(warehouse)
    return materialize_env(env.root, warehouse, scenario.AS_OF, raise_on_error=False)
