"""Layers as steps: each table its own asset in one step per layer, dependencies read from the
SQL, subsets, a failed table inside a step, and settings chosen at launch."""

from __future__ import annotations

from pathlib import Path

import dagster
import pytest
from dagster import AssetKey, AssetSelection

from b2b_assets.columns import Column, Rule
from b2b_assets.identity.tables import identity_tables
from b2b_assets.model.tables import model_tables
from b2b_assets.profiles.tables import profile_tables
from b2b_assets.resources import DuckDBWarehouse, RunSettings
from b2b_assets.sources.config import load_sources
from b2b_assets.sql_deps import UnknownTableError, asset_deps
from b2b_assets.tables import TableAsset, build_table_layer
from b2b_assets_tests.conftest import copy_demo, materialize_env, query, set_env

# How Pandera names the Polars type each DuckDB type is read as.
POLARS_OF_DUCKDB = {
    "VARCHAR": "String",
    "BOOLEAN": "Boolean",
    "BIGINT": "Int64",
    "DOUBLE": "Float64",
    "DATE": "Date",
    "TIMESTAMP WITH TIME ZONE": "Datetime(time_unit='us', time_zone='UTC')",
    "VARCHAR[]": "List(String)",
}


def all_tables(data_dir: Path) -> list[TableAsset]:
    config = load_sources(data_dir / "sources.yaml")
    return [*model_tables(config), *identity_tables(config), *profile_tables(config)]


# --------------------------------------------------------------------------------------------
# Dependencies are what the SQL reads
# --------------------------------------------------------------------------------------------


def test_dependencies_are_the_tables_the_query_reads():
    query_text = """
        WITH recent AS (SELECT * FROM b2b.experience_event WHERE occurred_at > now())
        SELECT * FROM recent r JOIN identity.person p USING (person_key)
        LEFT JOIN raw."crm_1__account" a ON TRUE
        WHERE r.person_key NOT IN (SELECT key FROM raw.quarantine)
          AND EXISTS (SELECT 1 FROM ops.loaded_files)"""
    assert asset_deps(query_text) == [
        AssetKey(["b2b", "experience_event"]),
        AssetKey(["identity", "person"]),
        AssetKey(["raw", "crm_1__account"]),
    ]
    assert asset_deps("SELECT * FROM profile.person", own=AssetKey(["profile", "person"])) == []


def test_a_query_naming_an_unknown_schema_fails_when_the_graph_is_built():
    with pytest.raises(UnknownTableError, match="main.accounts"):
        asset_deps("SELECT * FROM main.accounts")


def test_every_table_depends_on_exactly_what_its_sql_reads(demo_data: Path):
    by_key = {table.key: table for table in all_tables(demo_data)}
    assert by_key[AssetKey(["profile", "person"])].deps == [
        AssetKey(["profile", "person_activity"]),
        AssetKey(["profile", "person_traits"]),
    ]
    assert by_key[AssetKey(["identity", "account"])].deps == [
        AssetKey(["b2b", "account"]),
        AssetKey(["identity", "account_link"]),
        AssetKey(["raw", "mdm__account_xref"]),
    ]
    assert AssetKey(["raw", "fx_rates"]) in by_key[AssetKey(["b2b", "opportunity"])].deps
    for table in by_key.values():
        assert table.deps, table.key


# --------------------------------------------------------------------------------------------
# The definitions agree with the tables built
# --------------------------------------------------------------------------------------------


def test_each_schema_describes_the_table_built_column_for_column(demo_run):
    differences = []
    for table in all_tables(demo_run.data_dir):
        schema, name = table.key.path
        built = query(
            demo_run.warehouse,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        )
        declared = list(table.schema.columns)
        if [column for column, _ in built] != declared:
            differences.append(f"{table.key.to_user_string()}: built {built}, declared {declared}")
            continue
        for column, sql_type in built:
            declared_type = str(table.schema.columns[column].dtype)
            if POLARS_OF_DUCKDB.get(sql_type, declared_type) != declared_type:
                differences.append(f"{table.key.to_user_string()}.{column}: {sql_type}")
    assert not differences, "\n".join(differences)


def test_every_table_asset_links_to_its_definition(demo_run):
    for assets_def in demo_run.defs.assets or []:
        for key, spec in assets_def.specs_by_key.items():
            references = spec.metadata.get("dagster/code_references")
            assert references is not None, key.to_user_string()
            (reference,) = references.code_references
            path = Path(reference.file_path)
            assert path.is_file(), key.to_user_string()
            lines = path.read_text(encoding="utf-8").splitlines()
            assert 1 <= reference.line_number <= len(lines)
            if key.path[0] in ("b2b", "identity"):
                assert lines[reference.line_number - 1].startswith("def "), key


def test_a_layer_is_one_step(demo_run):
    steps = {e.step_key for e in demo_run.result.all_events if e.is_step_success}
    assert {"b2b", "identity", "profile", "raw", "raw__fx_rates"} <= steps
    assert not [s for s in steps if s.startswith(("b2b__", "identity__", "profile__"))]
    assert not [s for s in steps if s.startswith("raw__") and s != "raw__fx_rates"]


# --------------------------------------------------------------------------------------------
# Subsets, and a failed table inside a step
# --------------------------------------------------------------------------------------------


def test_selecting_one_table_builds_just_that_table(demo_run, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    import shutil

    shutil.copy(demo_run.warehouse, warehouse)
    run = materialize_env(
        demo_run.data_dir, warehouse, selection=AssetSelection.keys(AssetKey(["b2b", "campaign"]))
    )
    assert run.result.success
    built = {e.asset_key for e in run.result.get_asset_materialization_events()}
    assert built == {AssetKey(["b2b", "campaign"])}
    checks = {e.asset_key for e in run.result.get_asset_check_evaluations()}
    assert checks == {AssetKey(["b2b", "campaign"])}


SHORT_ID = [Column("id", "text", nullable=False, unique=True, checks=(Rule("str_length", (1, 5)),))]


def _layer(bad_value: str) -> dagster.AssetsDefinition:
    """t.first (valid or not), t.second reading it, t.other on its own."""
    return build_table_layer(
        "b2b",
        [
            TableAsset(
                key=AssetKey(["b2b", "first"]),
                description="the value given",
                columns=SHORT_ID,
                select=f"SELECT '{bad_value}' AS id",
            ),
            TableAsset(
                key=AssetKey(["b2b", "second"]),
                description="what first holds",
                columns=SHORT_ID,
                select="SELECT id FROM b2b.first",
            ),
            TableAsset(
                key=AssetKey(["b2b", "other"]),
                description="independent",
                columns=SHORT_ID,
                select=f"SELECT '{bad_value[:3]}' AS id",
            ),
        ],
    )


def test_a_failed_check_inside_a_layer_stops_only_what_reads_that_table(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    resources = {"warehouse": DuckDBWarehouse(path=str(warehouse)), "settings": RunSettings()}
    assert dagster.materialize([_layer("good")], resources=resources).success

    run = dagster.materialize([_layer("far too long")], resources=resources, raise_on_error=False)
    assert not run.success
    published = {
        e.asset_key.path[-1]: e.materialization.metadata["published"].value
        for e in run.get_asset_materialization_events()
    }
    # first failed its check (kept as it was), second was not built, other was built.
    assert published == {"first": False, "other": True}
    checks = {e.asset_key.path[-1]: e.passed for e in run.get_asset_check_evaluations()}
    assert checks == {"first": False, "other": True}
    assert query(warehouse, "SELECT id FROM b2b.first") == [("good",)]
    assert query(warehouse, "SELECT id FROM b2b.second") == [("good",)]
    assert query(warehouse, "SELECT id FROM b2b.other") == [("far",)]


# --------------------------------------------------------------------------------------------
# Settings at launch
# --------------------------------------------------------------------------------------------


def test_a_run_can_choose_another_as_of_than_the_environment(tmp_path, monkeypatch):
    """What the launchpad does: the run config sets `as_of`; the audience follows it."""
    from b2b_assets.definitions import build_definitions

    data_dir = copy_demo(tmp_path / "data")
    warehouse = tmp_path / "w.duckdb"
    set_env(monkeypatch, data_dir, warehouse, "2026-11-15")
    defs = build_definitions()
    job = defs.resolve_implicit_global_asset_job_def()

    def audience(as_of: str | None) -> list[tuple]:
        config = {"resources": {"settings": {"config": {"as_of": as_of}}}} if as_of else {}
        result = job.execute_in_process(run_config=config, raise_on_error=False)
        metadata = {
            e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()
        }
        expected = as_of or "2026-11-15"
        assert metadata["audience/new_product_upsell"]["as_of"].value.startswith(expected)
        assert metadata["profile/person"]["as_of"].value.startswith(expected)
        return query(warehouse, "SELECT email FROM audience.new_product_upsell")

    assert audience(None) == [("p2@townsend.com",)]
    # A year later, last month's visit is outside the segment's window.
    assert audience("2027-11-15") == []
