"""The warehouse connection's storage and memory settings."""

from __future__ import annotations

import pytest

from b2b_assets.resources import DuckDBWarehouse, default_warehouse
from b2b_assets.settings import DEFAULT_MEMORY_LIMIT, SettingsError, load_settings
from b2b_assets.tables import write_keys_plainly


def setting(connection, name: str) -> str:
    return connection.execute(f"SELECT current_setting('{name}')::VARCHAR").fetchall()[0][0]


@pytest.mark.parametrize(("merge", "tasks"), [(False, "0"), (True, "100")])
def test_row_groups_are_merged_at_checkpoints_only_when_asked(tmp_path, merge, tasks):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"), merge_row_groups=merge)
    with warehouse.connect() as connection:
        assert setting(connection, "max_vacuum_tasks") == tasks


def test_tables_of_keys_are_written_without_dictionary_fsst(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    with warehouse.connect() as connection:
        assert "DICT_FSST" not in setting(connection, "disabled_compression_methods").upper()
        write_keys_plainly(connection)
        assert "DICT_FSST" in setting(connection, "disabled_compression_methods").upper()


def test_the_memory_limit_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("B2B_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.delenv("B2B_MEMORY_LIMIT", raising=False)
    assert default_warehouse().memory_limit == DEFAULT_MEMORY_LIMIT
    monkeypatch.setenv("B2B_MEMORY_LIMIT", "1GiB")
    warehouse = default_warehouse()
    with warehouse.connect() as connection:
        assert setting(connection, "memory_limit") == "1.0 GiB"


@pytest.mark.parametrize("value", ["lots", "8", "8GB; SET threads = 1", "-1GB"])
def test_a_memory_limit_that_is_not_a_size_is_a_clear_error(value):
    with pytest.raises(SettingsError, match="B2B_MEMORY_LIMIT"):
        load_settings({"B2B_MEMORY_LIMIT": value})
