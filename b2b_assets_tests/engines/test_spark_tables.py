"""The model, identity and profile tables built on Spark from the same definitions give the
rows DuckDB gives.

The demo and the shared scenario are built on DuckDB; their raw tables are copied into a Spark
warehouse, and every table of the three layers is then built on Spark from its one-query
definition, in dependency order, and compared row by row with DuckDB's (order-insensitive,
numbers to the cent, instants in UTC).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from b2b_assets.engines.spark import SparkTables, duckdb_relations, spark_check
from b2b_assets.identity.tables import identity_tables
from b2b_assets.model.tables import model_tables
from b2b_assets.profiles.tables import profile_tables
from b2b_assets.settings import parse_as_of
from b2b_assets.sources.config import load_sources
from b2b_assets.tables import TableAsset, in_build_order

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark


def comparable(value: Any) -> Any:
    """A value as both engines' rows can be compared: instants in naive UTC, numbers to the
    cent, lists and records as tuples."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, float | Decimal):
        return round(float(value), 2)
    if isinstance(value, list | tuple):
        return tuple(comparable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, comparable(v)) for k, v in value.items()))
    if hasattr(value, "asDict"):
        return comparable(value.asDict())
    return value


def sorted_rows(rows: list[tuple]) -> list[str]:
    return sorted(repr(comparable(row)) for row in rows)


def layer_tables(data_dir: Path) -> list[TableAsset]:
    """The model, identity and profile tables, in the order their steps build them."""
    config = load_sources(data_dir / "sources.yaml")
    return in_build_order(
        [*model_tables(config), *identity_tables(config), *profile_tables(config)]
    )


def build_on_spark(run, tables: SparkTables) -> dict[str, tuple[list[str], list[str]]]:
    """Each one-query table of the run's layers built on Spark: name -> (Spark's rows,
    DuckDB's rows)."""
    con = duckdb.connect(str(run.warehouse), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    try:
        for name in duckdb_relations(con, "raw"):
            tables.copy_from_duckdb(con, name)
        compared = {}
        as_of = parse_as_of(run.as_of)
        for table in layer_tables(run.data_dir):
            assert table.select is not None, f"{table.name} has no one-query form"
            check = spark_check(tables, table.key, table.schema)
            built = tables.build(
                table.name, table.select, check, params={"as_of": as_of}, graph=table.graph
            )
            assert built, f"{table.name}: its Pandera check failed on Spark"
            compared[table.name] = (
                sorted_rows(tables.rows(table.name)),
                sorted_rows(con.execute(f"SELECT * FROM {table.name}").fetchall()),
            )
        return compared
    finally:
        con.close()


@pytest.mark.parametrize("run_name", ["demo_run", "scenario_run"])
def test_one_query_tables_are_equal_on_both_engines(run_name, request, spark, tmp_path):
    run = request.getfixturevalue(run_name)
    compared = build_on_spark(run, SparkTables(spark.spark, tmp_path / "spark-warehouse"))
    assert len(compared) == 22
    differing = {
        name: (set(on_spark) ^ set(on_duckdb))
        for name, (on_spark, on_duckdb) in compared.items()
        if on_spark != on_duckdb
    }
    assert not differing, differing
    assert sum(len(duck) for _, duck in compared.values()) > 100


def test_a_failed_check_keeps_the_last_good_table(spark):
    assert spark.build("b2b.kept", "SELECT 1 AS id")
    assert not spark.build("b2b.kept", "SELECT 2 AS id", check=lambda frame: frame.count() == 0)
    assert spark.rows("b2b.kept") == [(1,)]
    assert not list((spark.location("b2b.kept").parent / "_staging").iterdir())


def test_components_by_label_propagation(spark):
    """A chain, a star and a lone node; links to unknown nodes are ignored."""
    from b2b_assets.identity.components import Graph

    nodes = "SELECT * FROM (VALUES ('a'), ('b'), ('c'), ('d'), ('e'), ('f'), ('g'), ('h')) v(node)"
    edges = """SELECT * FROM (VALUES ('a', 'b'), ('c', 'b'), ('c', 'd'), ('d', 'e'),
                                   ('g', 'f'), ('h', 'f'), ('h', 'zz')) v(left_key, right_key)"""
    rounds = spark.components(Graph(nodes, edges))
    found = dict(spark.spark.sql("SELECT node, component FROM _components").collect())
    groups: dict[str, set[str]] = {}
    for node, component in found.items():
        groups.setdefault(component, set()).add(node)
    assert sorted(map(sorted, groups.values())) == [
        ["a", "b", "c", "d", "e"],
        ["f", "g", "h"],
    ] or sorted(map(sorted, groups.values())) == [["a", "b", "c", "d", "e"], ["f", "g", "h"]]
    assert len(found) == 8 and rounds <= 4


def test_a_pandera_check_blocks_a_bad_table_on_spark(spark):
    from dagster import AssetKey

    from b2b_assets import columns as c
    from b2b_assets.columns import table_schema

    key = AssetKey(["b2b", "checked"])
    schema = table_schema(
        "b2b.checked",
        [
            c.key("id", "the key"),
            c.text("kind", "a kind", one_of=["a", "b"]),
            c.integer("n", "a count", minimum=0),
        ],
        (),
    )
    check = spark_check(spark, key, schema)
    assert spark.build("b2b.checked", "SELECT 'x@crm' AS id, 'a' AS kind, 1::BIGINT AS n", check)
    for bad in (
        "SELECT 'x@crm' AS id, 'a' AS kind, 1::BIGINT AS n UNION ALL SELECT 'x@crm', 'b', 2",  # duplicate
        "SELECT NULL::VARCHAR AS id, 'a' AS kind, 1::BIGINT AS n",  # missing key
        "SELECT 'y@crm' AS id, 'c' AS kind, 1::BIGINT AS n",  # not one of
        "SELECT 'y@crm' AS id, 'a' AS kind, -1::BIGINT AS n",  # below the minimum
    ):
        assert not spark.build("b2b.checked", bad, check), bad
    assert spark.rows("b2b.checked") == [("x@crm", "a", 1)]


def test_a_new_session_finds_the_tables_of_the_last(spark):
    assert spark.build("profile.carried", "SELECT 'a' AS k UNION ALL SELECT 'b'")
    again = SparkTables(spark.spark.newSession(), spark.warehouse)
    assert "profile.carried" in again.register_existing()
    assert sorted(again.rows("profile.carried")) == [("a",), ("b",)]
