"""The warehouse connection's storage and memory settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from b2b_assets.resources import DuckDBWarehouse, RunSettings, default_resources
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


def test_the_memory_limit_comes_from_the_environment_unless_set(tmp_path, monkeypatch):
    monkeypatch.setenv("B2B_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("B2B_MEMORY_LIMIT", "1GiB")
    warehouse = default_resources()["warehouse"]
    assert warehouse.file == str(tmp_path / "w.duckdb")
    with warehouse.connect() as connection:
        assert setting(connection, "memory_limit") == "1.0 GiB"
    with DuckDBWarehouse(memory_limit="2GiB").connect() as connection:
        assert setting(connection, "memory_limit") == "2.0 GiB"
    assert load_settings({}).memory_limit == DEFAULT_MEMORY_LIMIT


def test_run_settings_take_the_environment_unless_set(tmp_path, monkeypatch):
    monkeypatch.setenv("B2B_AS_OF", "2026-11-15")
    monkeypatch.setenv("B2B_OUTBOX", str(tmp_path / "outbox"))
    settings = RunSettings()
    assert settings.as_of_instant() == datetime(2026, 11, 15, tzinfo=UTC)
    assert settings.outbox_folder() == (tmp_path / "outbox").resolve()
    chosen = RunSettings(as_of="2026-10-01T12:00:00Z", outbox=str(tmp_path / "other"))
    assert chosen.as_of_instant() == datetime(2026, 10, 1, 12, tzinfo=UTC)
    assert chosen.outbox_folder() == (tmp_path / "other").resolve()
    with pytest.raises(SettingsError, match="B2B_AS_OF"):
        RunSettings(as_of="last tuesday").as_of_instant()


@pytest.mark.parametrize("value", ["lots", "8", "8GB; SET threads = 1", "-1GB"])
def test_a_memory_limit_that_is_not_a_size_is_a_clear_error(value):
    with pytest.raises(SettingsError, match="B2B_MEMORY_LIMIT"):
        load_settings({"B2B_MEMORY_LIMIT": value})
