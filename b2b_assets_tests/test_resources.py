"""The warehouse connection's storage settings."""

from __future__ import annotations

import pytest

from b2b_assets.resources import DuckDBWarehouse
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
