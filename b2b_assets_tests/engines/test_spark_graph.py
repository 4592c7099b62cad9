"""The whole graph with `B2B_ENGINE=spark` gives what it gives on DuckDB.

The demo and the shared scenario, already built on DuckDB, are built again by the same
definitions on Spark (`local[2]`), from their landing files to their audiences and deliveries.
Every table of the raw, model, identity, profile and audience layers, and every quarantined
row, is then compared row by row with DuckDB's, read from the Parquet tables the contract
names (order-insensitive, numbers to the cent, instants in UTC).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from b2b_assets.engines.spark import duckdb_relations
from b2b_assets_tests.conftest import Run, materialize_env
from b2b_assets_tests.engines.test_spark_tables import sorted_rows

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

COMPARED_SCHEMAS = ("raw", "b2b", "identity", "profile", "audience")
QUARANTINE_KEY = "source_instance, object, file_name, row_number, reason, problems"


def on_spark(run: Run, root: Path, remote: str | None = None) -> tuple[Run, Path]:
    """The run's environment built again on Spark (local, or the Spark Connect server
    `remote`); its run and its Spark warehouse."""
    warehouse = root / "spark-warehouse"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("B2B_ENGINE", "spark")
        mp.setenv("B2B_SPARK_MASTER", "local[2]")
        mp.setenv("B2B_SPARK_WAREHOUSE", str(warehouse))
        if remote is not None:
            mp.setenv("B2B_SPARK_REMOTE", remote)
        spark_run = materialize_env(
            run.data_dir, root / "warehouse.duckdb", run.as_of, raise_on_error=False
        )
    return spark_run, warehouse


def compared_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables DuckDB built that Spark builds too (not its bookkeeping of superseded rows)."""
    names = [name for schema in COMPARED_SCHEMAS for name in duckdb_relations(con, schema)]
    return [n for n in names if n != "raw.quarantine" and "._superseded__" not in n]


def compared_columns(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A table's columns, listed for a select, without the instant of its load."""
    described = con.execute(f"DESCRIBE SELECT * FROM {name}").fetchall()
    return ", ".join(f'"{row[0]}"' for row in described if row[0] != "_loaded_at")


def parquet(warehouse: Path, name: str) -> str:
    schema, table = name.split(".")
    return f"read_parquet('{warehouse / f'{schema}.db' / table}/**/*.parquet')"


def differing_tables(run: Run, warehouse: Path) -> tuple[dict[str, set[str]], list[str]]:
    """The tables whose rows differ between DuckDB's warehouse and Spark's (name -> the rows
    only one side has), and the names compared; the quarantine is compared by its key."""
    con = duckdb.connect(str(run.warehouse), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    differing: dict[str, set[str]] = {}
    try:
        names = compared_tables(con)
        for name in [*names, "raw.quarantine"]:
            listed = QUARANTINE_KEY if name == "raw.quarantine" else compared_columns(con, name)
            on_duckdb = sorted_rows(con.execute(f"SELECT {listed} FROM {name}").fetchall())
            spark_rows = con.execute(f"SELECT {listed} FROM {parquet(warehouse, name)}").fetchall()
            on_spark = sorted_rows(spark_rows)
            if on_spark != on_duckdb:
                differing[name] = set(on_spark) ^ set(on_duckdb)
    finally:
        con.close()
    return differing, names


def assert_same_on_spark(run: Run, root: Path, remote: str | None = None) -> Path:
    """Build the run again on Spark and compare every table; Spark's warehouse."""
    spark_run, warehouse = on_spark(run, root, remote)
    assert spark_run.failed_steps() == run.failed_steps()
    differing, names = differing_tables(run, warehouse)
    assert not differing, {name: sorted(rows)[:10] for name, rows in differing.items()}
    assert len(names) >= 40 and any(name.startswith("audience.") for name in names)
    return warehouse


def person_audience(run: Run) -> str:
    """The first audience of people (with an email column) the run built."""
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        (name,) = con.execute(
            "SELECT table_name FROM duckdb_columns() WHERE schema_name = 'audience' "
            "AND column_name = 'email' ORDER BY 1 LIMIT 1"
        ).fetchone()
    return f"audience.{name}"


def shown_emails(monkeypatch, capsys, run: Run, engine: str, warehouse: Path) -> str:
    """What `python -m b2b_assets.show <an audience> --emails` prints for the engine."""
    from b2b_assets import show

    monkeypatch.setenv("B2B_DATA_DIR", str(run.data_dir))
    monkeypatch.setenv("B2B_WAREHOUSE", str(run.warehouse))
    monkeypatch.setenv("B2B_ENGINE", engine)
    monkeypatch.setenv("B2B_SPARK_WAREHOUSE", str(warehouse))
    capsys.readouterr()
    assert show.main([person_audience(run), "--emails"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "run_name", [pytest.param("demo_run", marks=pytest.mark.slow), "scenario_run"]
)
def test_the_graph_gives_the_same_tables_on_spark(
    run_name, request, spark, tmp_path, monkeypatch, capsys
):
    run = request.getfixturevalue(run_name)
    warehouse = assert_same_on_spark(run, tmp_path)
    on_spark_shown = shown_emails(monkeypatch, capsys, run, "spark", warehouse)
    assert on_spark_shown == shown_emails(monkeypatch, capsys, run, "duckdb", warehouse)
    assert "@" in on_spark_shown


@pytest.mark.slow
def test_the_synthetic_data_gives_the_same_tables_on_spark(spark, tmp_path):
    """The synthetic environment at `B2B_COMPARE_SCALE` (default 0.1: 1M activities)."""
    from benchmarks.synth.__main__ import main as synthesize

    data = tmp_path / "data"
    scale = os.environ.get("B2B_COMPARE_SCALE", "0.1")
    assert synthesize(["--scale", scale, "--out", str(data), "--quiet"]) == 0
    as_of = json.loads((data / "expected.json").read_text())["as_of"]
    run = materialize_env(data, tmp_path / "warehouse.duckdb", as_of)
    (tmp_path / "spark").mkdir()
    assert_same_on_spark(run, tmp_path / "spark")


@pytest.mark.slow
def test_the_graph_through_spark_connect_gives_the_same_tables(scenario_run, connect_url, tmp_path):
    """`B2B_SPARK_REMOTE`: the whole graph driven through a Spark Connect server."""
    assert_same_on_spark(scenario_run, tmp_path, connect_url)
