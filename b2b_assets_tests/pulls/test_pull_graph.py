"""The whole graph pulling the seed scenario from fake APIs: p2@townsend.com, then a new visit
and a deleted opportunity picked up by the next runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey

from b2b_assets_tests.conftest import materialize_env
from b2b_assets_tests.pulls.served import served_demo

AUDIENCE = "SELECT email FROM audience.new_product_upsell ORDER BY email"
P1_LEAD = 48211
TOWNSEND_900K = "0068d00000TNcsIAAT"


def _metadata(run, source: str) -> dict:
    (event,) = [
        e
        for e in run.result.get_asset_materialization_events()
        if e.asset_key == AssetKey(["pull", source])
    ]
    return event.materialization.metadata


def test_the_seed_scenario_pulled_from_the_apis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with served_demo(tmp_path, monkeypatch) as served:
        warehouse = tmp_path / "warehouse.duckdb"
        first = materialize_env(served.data_dir, warehouse)
        assert first.result.success
        assert first.query(AUDIENCE) == [("p2@townsend.com",)]
        for source in ("crm_1", "crm_2", "marketo_1", "marketo_2"):
            metadata = _metadata(first, source)
            assert metadata["rows_fetched"].value > 0
            assert metadata["api_calls"].value > 0
            assert "rate_limit_wait_seconds" in metadata and "high_water_marks" in metadata
        marks = _metadata(first, "crm_2")["high_water_marks"].value
        assert marks["Opportunity"] is not None
        # Every raw row came through the pulls, and is accounted for.
        assert first.scalar("SELECT count(*) FROM raw.crm_2__opportunity") == len(
            served.crm["crm_2"].records["Opportunity"]
        )

        # Next run: p1 visited the new product page (recorded by Marketo 1).
        served.marketo["marketo_1"].put(
            "activities",
            {
                "leadId": P1_LEAD,
                "activityDate": "2026-11-12T09:00:00Z",
                "activityTypeId": 1,
                "primaryAttributeValue": "www.bodea.com/products/new-software",
                "primaryAttributeValueId": 3301,
            },
        )
        second = materialize_env(served.data_dir, warehouse)
        assert second.result.success
        assert second.query(AUDIENCE) == [("p1@townsend.com",), ("p2@townsend.com",)]
        assert _metadata(second, "marketo_1")["rows_fetched"].value == 1

        # Next run: the $900k opportunity was deleted in CRM 2; Townsend is under $1M.
        served.crm["crm_2"].advance(60)
        served.crm["crm_2"].delete("Opportunity", TOWNSEND_900K)
        third = materialize_env(served.data_dir, warehouse)
        assert third.result.success
        assert third.query(AUDIENCE) == []
        assert _metadata(third, "crm_2")["rows_fetched"].value == 1
        revenue = third.scalar(
            "SELECT closed_won_revenue FROM profile.account WHERE name ILIKE 'Townsend%'"
        )
        assert revenue == 200_000
