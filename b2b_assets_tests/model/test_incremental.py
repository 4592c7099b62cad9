"""New activity files are taken in on their own, and give the tables a full build gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, AssetSelection

from b2b_assets_tests.conftest import Run, copy_demo, materialize_env, write_csv

VISIT = "/products/new-software"


def visit(guid: str, lead: str, when: str) -> dict[str, str]:
    return {
        "marketoGUID": guid,
        "leadId": lead,
        "activityDate": when,
        "activityTypeId": "1",
        "primaryAttributeValue": f"www.bodea.com{VISIT}",
        "attributes": f'{{"Webpage URL": "{VISIT}"}}',
    }


def metadata_of(run: Run, asset: str) -> dict:
    (event,) = [
        e
        for e in run.result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def events(run: Run) -> list[tuple]:
    return run.query("SELECT * FROM b2b.experience_event ORDER BY event_key")


def audience(run: Run) -> list[str]:
    return [row[0] for row in run.query("SELECT email FROM audience.new_product_upsell ORDER BY 1")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run, Run, list[str]]:
    """The demo materialized, then again after new activity files landed; a clean run of the
    final files; and the audience after the first run."""
    root = tmp_path_factory.mktemp("incremental")
    data = copy_demo(root / "data")
    first = materialize_env(data, root / "warehouse.duckdb")
    first_audience = audience(first)
    # p3@townsend.com (lead 51008 of Marketo 2) visits the page; Marketo 1 re-exports one
    # activity with a new date.
    write_csv(
        data / "landing" / "marketo_2" / "activities" / "part-0002.csv",
        [visit("209001", "51008", "2026-11-12T09:00:00Z")],
    )
    write_csv(
        data / "landing" / "marketo_1" / "activities" / "part-0002.csv",
        [visit("102988", "48212", "2026-11-03T10:15:00Z")],
    )
    # The run the landing sensor starts: the changed raw objects and what reads them.
    landed = AssetSelection.assets(
        *(AssetKey(["raw", f"{m}__activities"]) for m in ("marketo_1", "marketo_2"))
    )
    second = materialize_env(data, root / "warehouse.duckdb", selection=landed.downstream())
    clean = materialize_env(data, root / "clean.duckdb")
    return first, second, clean, first_audience


def test_new_files_are_appended(runs) -> None:
    first, second, _, _ = runs
    assert metadata_of(first, "raw/marketo_2__activities")["load"] == "full"
    raw = metadata_of(second, "raw/marketo_2__activities")
    assert raw["load"] == "append"
    assert [Path(f).name for f in raw["files"]] == ["part-0002.csv"]
    built = metadata_of(second, "b2b/experience_event")
    assert (built["build"], built["loads_taken_in"], built["rows_added"]) == ("append", 2, 2)
    # p3 joins with a visit, p2's re-dated visit: both people are counted again, in place.
    activity = metadata_of(second, "profile/person_activity")
    assert (activity["build"], activity["people_recounted"]) == ("in place", 2)
    assert metadata_of(second, "profile/person")["build"] == "in place"
    assert metadata_of(second, "profile/account")["build"] == "in place"
    assert metadata_of(first, "profile/person_activity")["build"] == "whole"


def test_appended_tables_equal_a_clean_build(runs) -> None:
    _, second, clean, _ = runs
    assert events(second) == events(clean)
    for table in ("raw.marketo_1__activities", "raw.marketo_2__activities"):
        sql = f"SELECT * EXCLUDE (_loaded_at) FROM {table} ORDER BY marketo_guid"
        assert second.query(sql) == clean.query(sql)
    for table in ("profile.person_activity", "profile.person", "profile.account"):
        assert second.query(f"SELECT * FROM {table} ORDER BY ALL") == clean.query(
            f"SELECT * FROM {table} ORDER BY ALL"
        )
    quarantined = "SELECT object, row_number, reason FROM raw.quarantine ORDER BY ALL"
    assert second.query(quarantined) == clean.query(quarantined)


def test_a_repeated_activity_replaces_its_event(runs) -> None:
    _, second, _, _ = runs
    assert second.query(
        "SELECT occurred_at::VARCHAR FROM b2b.experience_event WHERE event_key = '102988@marketo_1'"
    ) == [("2026-11-03 10:15:00+00",)]


def test_the_new_visitor_joins_the_audience(runs) -> None:
    _, second, _, first_audience = runs
    assert first_audience == ["p2@townsend.com"]
    assert audience(second) == ["p2@townsend.com", "p3@townsend.com"]


def test_row_accounting_covers_every_file(runs) -> None:
    _, second, _, _ = runs
    for instance in ("marketo_1", "marketo_2"):
        read, kept, quarantined = second.query(
            """SELECT rows_read, rows_kept, rows_quarantined FROM ops.row_accounting
               WHERE source_instance = $i AND object = 'activities'
               ORDER BY loaded_at DESC LIMIT 1""",
            {"i": instance},
        )[0]
        assert read == kept + quarantined
        assert read == second.scalar(
            "SELECT sum(rows_read) FROM ops.loaded_files WHERE raw_table = $t",
            {"t": f"raw.{instance}__activities"},
        )
