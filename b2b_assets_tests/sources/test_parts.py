"""Where raw rows live: Parquet parts of each load, a view over the current ones."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from b2b_assets.sources import parts, publishing, reader
from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets.sources.publishing import load_object, publish_object
from b2b_assets.sources.reader import (
    ExtractError,
    ReadContext,
    remove_unread_parts,
    stage_object,
)
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets.sql import relation_kind
from b2b_assets_tests.conftest import write_csv

ACCOUNT = next(spec for spec in OBJECTS_BY_TYPE["salesforce"] if spec.name == "Account")
ACTIVITIES = next(spec for spec in OBJECTS_BY_TYPE["marketo"] if spec.name == "activities")
CTX = ReadContext(instance="crm_1", normalize_sf_ids=True, run_id="test")
MARKETO = ReadContext(instance="mk", normalize_sf_ids=True, run_id="test")


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE SCHEMA ops")
    install_macros(con)
    yield con
    con.close()


def accounts(folder: Path, *names: str) -> None:
    rows = [{"Id": f"0015g00000J1U{i:02d}", "Name": name} for i, name in enumerate(names)]
    write_csv(folder / "Account.csv", rows)


def loads_of(root: Path, table: str) -> list[str]:
    return sorted(p.name for p in (root / table).iterdir())


def published(con: duckdb.DuckDBPyConnection, spec, ctx: ReadContext, folder: Path):
    """A load as the raw asset runs it: staged, published in a transaction, cleaned up."""
    result = stage_object(con, folder, spec, ctx)
    try:
        con.execute("BEGIN TRANSACTION")
        publish_object(con, spec, ctx, result)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        remove_unread_parts(con, result)
    return result


def test_rows_live_in_parts_beside_the_warehouse_and_the_table_is_a_view(warehouse, tmp_path):
    folder = tmp_path / "landing"
    accounts(folder, "Townsend", "Globex")
    result = load_object(warehouse, folder, ACCOUNT, CTX)
    assert result.read_seconds > 0
    root = tmp_path / "warehouse.duckdb.raw"
    assert parts.parts_root(warehouse) == root
    assert relation_kind(warehouse, "raw", "crm_1__account") == "view"
    (load,) = loads_of(root, "crm_1__account")
    assert [p.name for p in (root / "crm_1__account" / load).iterdir()] == ["part-00000.parquet"]
    names = warehouse.execute("SELECT name FROM raw.crm_1__account ORDER BY 1").fetchall()
    assert names == [("Globex",), ("Townsend",)]
    part = warehouse.execute("SELECT part FROM ops.loaded_files").fetchall()
    assert part == [(str(root / "crm_1__account" / load / "part-00000.parquet"),)]


def test_a_new_load_replaces_the_parts_and_removes_the_old_ones(warehouse, tmp_path):
    folder = tmp_path / "landing"
    root = tmp_path / "warehouse.duckdb.raw"
    accounts(folder, "Townsend")
    published(warehouse, ACCOUNT, CTX, folder)
    (first,) = loads_of(root, "crm_1__account")
    accounts(folder, "Townsend", "Initech")
    published(warehouse, ACCOUNT, CTX, folder)
    (second,) = loads_of(root, "crm_1__account")
    assert second != first
    assert warehouse.execute("SELECT count(*) FROM raw.crm_1__account").fetchone() == (2,)


def test_a_load_that_fails_keeps_the_last_good_view_and_its_parts(warehouse, tmp_path, monkeypatch):
    folder = tmp_path / "landing"
    root = tmp_path / "warehouse.duckdb.raw"
    accounts(folder, "Townsend")
    published(warehouse, ACCOUNT, CTX, folder)
    before = loads_of(root, "crm_1__account")
    accounts(folder, "Townsend", "Initech")

    def fail(*args, **kwargs):
        raise RuntimeError("the publishing transaction fails")

    monkeypatch.setattr(publishing, "_account", fail)
    with pytest.raises(RuntimeError):
        published(warehouse, ACCOUNT, CTX, folder)
    assert loads_of(root, "crm_1__account") == before  # the failed load's parts are gone
    assert warehouse.execute("SELECT name FROM raw.crm_1__account").fetchall() == [("Townsend",)]


def test_a_file_changed_while_it_is_read_fails_the_load(warehouse, tmp_path, monkeypatch):
    folder = tmp_path / "landing"
    root = tmp_path / "warehouse.duckdb.raw"
    accounts(folder, "Townsend")
    published(warehouse, ACCOUNT, CTX, folder)
    accounts(folder, "Townsend", "Initech")
    read_file = reader._load_file

    def read_then_rewrite(*args, **kwargs):
        written = read_file(*args, **kwargs)
        with (folder / "Account.csv").open("a", encoding="utf-8") as handle:
            handle.write("0015g00000J1U99,Half read\n")
        return written

    monkeypatch.setattr(reader, "_load_file", read_then_rewrite)
    with pytest.raises(ExtractError, match="Account.csv: changed while it was read"):
        published(warehouse, ACCOUNT, CTX, folder)
    assert warehouse.execute("SELECT name FROM raw.crm_1__account").fetchall() == [("Townsend",)]
    assert len(loads_of(root, "crm_1__account")) == 1


def test_an_append_adds_a_part_and_a_later_row_supersedes_an_earlier_one(warehouse, tmp_path):
    folder = tmp_path / "landing" / "activities"
    columns = ["marketoGUID", "leadId", "activityDate", "activityTypeId"]
    write_csv(
        folder / "part-0.csv",
        [
            {"marketoGUID": "1", "leadId": "7", "activityDate": "2026-11-01T00:00:00Z"},
            {"marketoGUID": "2", "leadId": "7", "activityDate": "2026-11-02T00:00:00Z"},
        ],
        columns,
    )
    first = published(warehouse, ACTIVITIES, MARKETO, folder.parent)
    assert first.mode == "full"
    write_csv(
        folder / "part-1.csv",
        [{"marketoGUID": "2", "leadId": "8", "activityDate": "2026-11-03T00:00:00Z"}],
        columns,
    )
    second = published(warehouse, ACTIVITIES, MARKETO, folder.parent)
    assert second.mode == "append"
    root = tmp_path / "warehouse.duckdb.raw"
    assert len(loads_of(root, "mk__activities")) == 2  # the first load's part is still read
    kept = warehouse.execute(
        "SELECT marketo_guid, lead_id FROM raw.mk__activities ORDER BY 1"
    ).fetchall()
    assert kept == [("1", "7"), ("2", "8")]
    superseded = warehouse.execute(
        "SELECT reason, file_name FROM raw.quarantine WHERE object = 'activities'"
    ).fetchall()
    assert superseded == [(reader.SUPERSEDED, str(folder / "part-0.csv"))]
    assert second.rows_read == second.rows_kept + second.rows_quarantined == 3


def test_an_in_memory_warehouse_keeps_its_parts_in_one_temporary_folder(con, tmp_path):
    root = parts.parts_root(con)
    assert root.is_dir()
    assert parts.parts_root(con.cursor()) == root  # every connection to it finds the same


def test_the_objects_of_a_step_are_read_together_and_fail_on_their_own(
    warehouse, tmp_path, monkeypatch
):
    from types import SimpleNamespace

    from b2b_assets.sources import assets

    folder = tmp_path / "landing"
    accounts(folder, "Townsend")
    write_csv(folder / "Contact.csv", [{"Id": "0035g00000J1U01", "FirstName": "Pat"}])
    contact = next(spec for spec in OBJECTS_BY_TYPE["salesforce"] if spec.name == "Contact")
    loads = [assets.RawLoad(folder, spec, "crm_1", True) for spec in (ACCOUNT, contact)]
    together = assets.ReadTogether({load.key: load for load in loads})
    calls = []
    read_all = assets.read_planned

    def counted(con, planned):
        calls.append(sorted(plan.result.table for plan in planned))
        return read_all(con, planned)

    monkeypatch.setattr(assets, "read_planned", counted)
    context = SimpleNamespace(selected_asset_keys={load.key for load in loads}, run_id="r")
    together.prepare(warehouse, context)
    assert calls == [["raw.crm_1__account"]]  # one pool; Contact stopped at its header
    ctx, result = together.take(loads[0].key)
    assert result.rows_by_file == {str(folder / "Account.csv"): 1}
    with pytest.raises(ExtractError, match="missing required column"):
        together.take(loads[1].key)
    assert together.take(loads[0].key) is None  # taken once; read again if asked


def test_an_append_only_object_whose_parts_are_gone_is_read_again_in_full(warehouse, tmp_path):
    folder = tmp_path / "landing" / "activities"
    columns = ["marketoGUID", "leadId", "activityDate", "activityTypeId"]
    row = {"marketoGUID": "1", "leadId": "7", "activityDate": "2026-11-01T00:00:00Z"}
    write_csv(folder / "part-0.csv", [row], columns)
    published(warehouse, ACTIVITIES, MARKETO, folder.parent)
    root = tmp_path / "warehouse.duckdb.raw"
    for load in (root / "mk__activities").iterdir():  # e.g. the warehouse file was moved alone
        for part in load.iterdir():
            part.unlink()
    write_csv(folder / "part-1.csv", [{**row, "marketoGUID": "2"}], columns)
    again = published(warehouse, ACTIVITIES, MARKETO, folder.parent)
    assert again.mode == "full"
    assert warehouse.execute("SELECT count(*) FROM raw.mk__activities").fetchone() == (2,)


def test_an_object_without_superseded_rows_has_no_table_of_them(warehouse, tmp_path):
    folder = tmp_path / "landing"
    accounts(folder, "Townsend", "Globex")
    load_object(warehouse, folder, ACCOUNT, CTX)
    tables = warehouse.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'"
    ).fetchall()
    assert tables == [("quarantine",)]
