"""The Definitions: they load, every asset is checked by Pandera, and a failed check blocks."""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster
import pandera.polars as pa
import pytest
from dagster import AssetKey, TableSchema, asset

from b2b_assets.checks.specs import CHECK_NAME, schema_check_spec
from b2b_assets.columns import Column, Rule, column_metadata
from b2b_assets.publish import publish_table
from b2b_assets.resources import DuckDBWarehouse, RunSettings
from b2b_assets.tables import TableAsset, build_table_layer
from b2b_assets_tests.conftest import query, set_env


@pytest.fixture
def demo_defs(demo_data: Path, tmp_path: Path, monkeypatch) -> dagster.Definitions:
    from b2b_assets.definitions import build_definitions

    set_env(monkeypatch, demo_data, tmp_path / "w.duckdb", "2026-11-15")
    return build_definitions()


def all_asset_defs(defs: dagster.Definitions) -> list[dagster.AssetsDefinition]:
    return [a for a in defs.assets or [] if isinstance(a, dagster.AssetsDefinition)]


def test_definitions_load_for_the_demo_data(demo_defs):
    dagster.Definitions.validate_loadable(demo_defs)
    keys = {key.to_user_string() for key in demo_defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "raw/fx_rates",
        "raw/crm_1__account",
        "raw/crm_2__opportunity",
        "raw/marketo_1__leads",
        "raw/marketo_2__activities",
        "raw/mdm__account_xref",
        "b2b/account",
        "identity/account",
        "identity/person",
        "profile/account",
        "profile/person",
        "audience/new_product_upsell",
    } <= keys


def test_the_module_definitions_load(monkeypatch, tmp_path):
    """`dagster ... -m b2b_assets.definitions` imports the module with the repository's data."""
    monkeypatch.delenv("B2B_DATA_DIR", raising=False)
    monkeypatch.setenv("B2B_WAREHOUSE", str(tmp_path / "w.duckdb"))
    module = importlib.import_module("b2b_assets.definitions")
    module = importlib.reload(module)
    dagster.Definitions.validate_loadable(module.defs)


def test_every_asset_has_a_blocking_pandera_check(demo_defs):
    assets = all_asset_defs(demo_defs)
    assert sum(len(a.keys) for a in assets) > 40
    for assets_def in assets:
        for key in assets_def.keys:
            checks = {spec.name: spec for spec in assets_def.check_specs if spec.asset_key == key}
            assert CHECK_NAME in checks, key.to_user_string()
            assert checks[CHECK_NAME].blocking, key.to_user_string()


def test_every_asset_has_column_schema_metadata(demo_defs):
    for assets_def in all_asset_defs(demo_defs):
        for key in assets_def.keys:
            metadata = assets_def.specs_by_key[key].metadata
            schema = metadata.get("dagster/column_schema")
            assert isinstance(schema, TableSchema), key.to_user_string()
            assert schema.columns, key.to_user_string()


def test_contract_columns_are_in_the_column_schema(demo_defs):
    specs = {key: a.specs_by_key[key] for a in all_asset_defs(demo_defs) for key in a.keys}

    def columns(path: str) -> set[str]:
        spec = specs[AssetKey(path.split("/"))]
        return {c.name for c in spec.metadata["dagster/column_schema"].columns}

    assert {"account_id", "name", "closed_won_revenue", "source_keys"} <= columns("profile/account")
    assert {"person_id", "email", "account_ids", "can_email"} <= columns("profile/person")
    assert {"person_id", "email"} <= columns("audience/new_product_upsell")


# --------------------------------------------------------------------------------------------
# A failed schema check keeps the previous table and blocks what is downstream
# --------------------------------------------------------------------------------------------

UPSTREAM = AssetKey(["b2b", "test_upstream"])
DOWNSTREAM = AssetKey(["b2b", "test_downstream"])


COLUMNS = [
    Column("id", "text", nullable=False, unique=True),
    Column("amount", "number", checks=(Rule("ge", (0,)),)),
]


def table_schema(name: str) -> pa.DataFrameSchema:
    from b2b_assets.columns import table_schema as of_columns

    return of_columns(name, COLUMNS)


SCHEMA = table_schema("b2b.test_upstream")


def checked_graph(state: dict) -> list[dagster.AssetsDefinition]:
    """An asset built with the project's publish_table, and a project table asset below it."""

    @asset(
        key=UPSTREAM,
        metadata={"dagster/column_schema": column_metadata(COLUMNS)},
        check_specs=[schema_check_spec(UPSTREAM, "b2b.test_upstream")],
    )
    def _upstream(context, warehouse: DuckDBWarehouse):
        def build(con):
            con.execute(f"CREATE OR REPLACE TABLE b2b.test_upstream AS {state['select']}")
            return {"version": state["version"]}

        return publish_table(context, warehouse, SCHEMA, build)

    downstream = build_table_layer(
        "b2b_test",
        [
            TableAsset(
                key=DOWNSTREAM,
                description="copies the upstream table",
                columns=COLUMNS,
                select="SELECT * FROM b2b.test_upstream",
            )
        ],
    )
    return [_upstream, downstream]


@pytest.mark.parametrize(
    "bad_select",
    [
        "SELECT * FROM (VALUES ('a', 1.0::DOUBLE), ('a', 2.0::DOUBLE)) t(id, amount)",  # duplicate id
        "SELECT * FROM (VALUES ('a', -5.0::DOUBLE)) t(id, amount)",  # a check fails
        "SELECT CAST(NULL AS VARCHAR) AS id, 1.0::DOUBLE AS amount",  # null key
        "SELECT 1 AS id, 1.0::DOUBLE AS amount",  # wrong type
    ],
    ids=["duplicate", "value_check", "null", "wrong_type"],
)
def test_failed_schema_check_keeps_previous_table_and_blocks_downstream(tmp_path, bad_select):
    warehouse = tmp_path / "w.duckdb"
    resources = {"warehouse": DuckDBWarehouse(path=str(warehouse)), "settings": RunSettings()}
    state = {
        "select": "SELECT * FROM (VALUES ('a', 1.0::DOUBLE), ('b', 2.0::DOUBLE)) t(id, amount)",
        "version": 1,
    }
    assets = checked_graph(state)

    first = dagster.materialize(assets, resources=resources)
    assert first.success
    good = [("a", 1.0), ("b", 2.0)]
    assert query(warehouse, "SELECT * FROM b2b.test_upstream ORDER BY id") == good
    assert query(warehouse, "SELECT * FROM b2b.test_downstream ORDER BY id") == good

    state.update(select=bad_select, version=2)
    second = dagster.materialize(assets, resources=resources, raise_on_error=False)
    evaluations = [
        e.event_specific_data
        for e in second.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    upstream_checks = [e for e in evaluations if e.asset_key == UPSTREAM]
    assert [e.passed for e in upstream_checks] == [False]
    assert upstream_checks[0].check_name == CHECK_NAME
    # The previous table is still there, and nothing downstream ran.
    assert query(warehouse, "SELECT * FROM b2b.test_upstream ORDER BY id") == good
    assert query(warehouse, "SELECT * FROM b2b.test_downstream ORDER BY id") == good
    assert "b2b_test" not in {e.step_key for e in second.all_events if e.is_step_success}
    assert not [e for e in second.get_asset_materialization_events() if e.asset_key == DOWNSTREAM]


def test_build_error_rolls_back_and_keeps_previous_table(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    resources = {"warehouse": DuckDBWarehouse(path=str(warehouse)), "settings": RunSettings()}
    state = {"select": "SELECT 'a' AS id, 1.0::DOUBLE AS amount", "version": 1}
    assets = checked_graph(state)
    assert dagster.materialize(assets, resources=resources).success
    state.update(select="SELECT * FROM no_such_table", version=2)
    second = dagster.materialize(assets, resources=resources, raise_on_error=False)
    assert not second.success
    assert query(warehouse, "SELECT * FROM b2b.test_upstream") == [("a", 1.0)]
    assert not [e for e in second.get_asset_materialization_events() if e.asset_key == DOWNSTREAM]
