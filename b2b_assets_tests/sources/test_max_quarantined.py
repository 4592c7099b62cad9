"""Data problems: `max_quarantined` in sources.yaml; above it the load is not published and
nothing below it is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetCheckSeverity, AssetKey, AssetSelection

from b2b_assets.sources.config import SourceInstance, SourcesConfigError, load_sources
from b2b_assets_tests.conftest import Landing, materialize_env
from b2b_assets_tests.scenario import sf18
from b2b_assets_tests.sources.data_problems import AMOUNT_REASON, metadata_value


def test_misspelled_object_in_sources_yaml_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    env = Landing(tmp_path / "env")
    path = env.sources(
        [
            {
                "name": "crm_1",
                "type": "salesforce",
                "objects": {"Opportunites": {"max_quarantined": 0}},
            }
        ]
    )
    with pytest.raises(SourcesConfigError) as error:
        load_sources(path)
    assert str(path) in str(error.value)
    assert "did you mean Opportunity?" in str(error.value)


@pytest.mark.parametrize("entry", [{"max_quarantined": 1.5}, {"max_quarantined": -0.1}])
def test_max_quarantined_outside_0_to_1_is_refused(tmp_path: Path, entry: dict) -> None:
    env = Landing(tmp_path / "env")
    path = env.sources([{"name": "crm_1", "type": "salesforce", **entry}])
    with pytest.raises(SourcesConfigError) as error:
        load_sources(path)
    assert "max_quarantined" in str(error.value)
    nested = env.sources(
        [{"name": "crm_1", "type": "salesforce", "objects": {"Opportunity": entry}}]
    )
    with pytest.raises(SourcesConfigError, match="max_quarantined"):
        load_sources(nested)


def test_per_object_max_quarantined_overrides_the_source(tmp_path: Path) -> None:
    env = Landing(tmp_path / "env")
    path = env.sources(
        [
            {
                "name": "crm_1",
                "type": "salesforce",
                "max_quarantined": 0.1,
                "objects": {"Opportunity": {"max_quarantined": 0.5}, "Contact": {}},
            },
            {"name": "crm_2", "type": "salesforce"},
        ]
    )
    config = load_sources(path)
    crm_1, crm_2 = config.sources
    assert crm_1.max_quarantined_of("Opportunity") == 0.5
    assert crm_1.max_quarantined_of("Contact") == 0.1  # no own value: the source's
    assert crm_1.max_quarantined_of("Account") == 0.1
    assert crm_2.max_quarantined_of("Opportunity") is None
    zero = SourceInstance(
        name="crm_3",
        type="salesforce",
        max_quarantined=0.2,
        objects={"Account": {"max_quarantined": 0}},
    )
    assert zero.max_quarantined_of("Account") == 0  # 0 is a value, not "unset"


# --------------------------------------------------------------------------------------------
# max_quarantined: above it the load is not published and nothing below is built
# --------------------------------------------------------------------------------------------

ACC_A, ACC_B = "001Mq00000AcctA", "001Mq00000AcctB"
OPP_IDS = [f"006Mq0000000{n:03d}" for n in range(1, 11)]
GOOD_AMOUNTS = [str(1000 * n) for n in range(1, 11)]  # 55,000 in all
BAD_AMOUNTS = [str(2000 * n) for n in range(1, 9)] + ["n/a", "12,5 EUR"]
OPP_KEY = AssetKey(["raw", "crm_1__opportunity"])


def _opportunity(id_: str, amount: str) -> dict[str, str]:
    return {
        "Id": id_,
        "AccountId": ACC_A,
        "Name": f"Deal {id_}",
        "Amount": amount,
        "StageName": "Closed Won",
        "IsClosed": "true",
        "IsWon": "true",
        "CloseDate": "2026-06-30",
        "CurrencyIsoCode": "USD",
    }


def _limit_sources(env: Landing, objects: Mapping[str, Any] | None = None) -> None:
    entry: dict[str, Any] = {"name": "crm_1", "type": "salesforce", "max_quarantined": 0.1}
    if objects:
        entry["objects"] = dict(objects)
    env.sources([entry])


@pytest.fixture(scope="module")
def limit_runs(tmp_path_factory: pytest.TempPathFactory):
    """Good data, then 2 of 10 amounts unparsable (above 0.1), then the same with the
    Opportunity's own limit at 0.5: three runs on one warehouse."""
    root = tmp_path_factory.mktemp("max_quarantined")
    env = Landing(root / "env")
    _limit_sources(env)
    env.fx({"USD": 1})
    env.csv(
        "crm_1",
        "Account",
        [
            {"Id": ACC_A, "Name": "Limit A", "IsDeleted": "false"},
            {"Id": ACC_B, "Name": "Limit B", "IsDeleted": "false"},
        ],
    )
    env.csv(
        "crm_1",
        "Contact",
        [{"Id": "003Mq00000Cont1", "AccountId": ACC_A, "Email": "a@limit.example"}],
    )
    env.segment(
        "paying_accounts",
        {
            "name": "paying_accounts",
            "entity": "account",
            "where": {"closed_won_revenue": {"gt": 0}},
        },
    )
    warehouse = root / "warehouse.duckdb"

    def run_with(amounts: list[str]):
        """Land the opportunities with these amounts and materialize: (run, rows, revenue)."""
        rows = [_opportunity(i, a) for i, a in zip(OPP_IDS, amounts, strict=True)]
        env.csv("crm_1", "Opportunity", rows)
        run = materialize_env(env.root, warehouse, "2026-11-15", raise_on_error=False)
        return (
            run,
            sorted(run.query("SELECT id, amount FROM raw.crm_1__opportunity")),
            run.query("SELECT name, closed_won_revenue FROM profile.account ORDER BY 1"),
        )

    good, good_rows, good_revenue = run_with(GOOD_AMOUNTS)
    blocked, blocked_rows, blocked_revenue = run_with(BAD_AMOUNTS)
    blocked_quarantine = blocked.scalar(
        """SELECT count(*) FROM raw.quarantine
           WHERE source_instance = 'crm_1' AND object = 'Opportunity' AND reason = ?""",
        [AMOUNT_REASON],
    )
    _limit_sources(env, {"Opportunity": {"max_quarantined": 0.5}})
    allowed = materialize_env(env.root, warehouse, "2026-11-15", raise_on_error=False)
    return {
        "good": good,
        "good_rows": good_rows,
        "good_revenue": good_revenue,
        "blocked": blocked,
        "blocked_rows": blocked_rows,
        "blocked_revenue": blocked_revenue,
        "blocked_quarantine": blocked_quarantine,
        "allowed": allowed,
    }


def _check(run, name: str = "quarantine", key: AssetKey = OPP_KEY):
    (evaluation,) = [
        e
        for e in run.result.get_asset_check_evaluations()
        if e.asset_key == key and e.check_name == name
    ]
    return evaluation


def _materialized(run) -> set[AssetKey]:
    return {event.asset_key for event in run.result.get_asset_materialization_events()}


def test_first_run_is_clean(limit_runs) -> None:
    good = limit_runs["good"]
    assert good.failed_steps() == set()
    assert _check(good).passed
    assert len(limit_runs["good_rows"]) == 10
    assert dict(limit_runs["good_revenue"]) == {"Limit A": 55000.0, "Limit B": 0.0}


def test_above_max_quarantined_the_check_fails_with_error_and_the_step_fails(limit_runs) -> None:
    blocked = limit_runs["blocked"]
    evaluation = _check(blocked)
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.ERROR
    metadata = {name: metadata_value(value) for name, value in evaluation.metadata.items()}
    assert metadata["quarantined_share"] == pytest.approx(0.2)
    assert metadata["max_quarantined"] == pytest.approx(0.1)
    assert metadata["reasons"] == {AMOUNT_REASON: 2}
    assert "above max_quarantined" in (evaluation.description or "")
    assert blocked.failed_steps() == {"raw"}


def test_above_max_quarantined_nothing_downstream_is_built(limit_runs) -> None:
    blocked = limit_runs["blocked"]
    graph = blocked.defs.resolve_asset_graph()
    below = AssetSelection.assets(OPP_KEY).downstream(include_self=False).resolve(graph)
    assert {AssetKey(["profile", "account"]), AssetKey(["audience", "paying_accounts"])} <= below
    assert _materialized(blocked) & below == set()
    # What does not depend on the opportunities is built as usual.
    assert AssetKey(["raw", "crm_1__account"]) in _materialized(blocked)


def test_above_max_quarantined_the_last_good_table_stays(limit_runs) -> None:
    assert limit_runs["blocked_rows"] == limit_runs["good_rows"]
    assert limit_runs["blocked_revenue"] == limit_runs["good_revenue"]


def test_the_objects_own_limit_publishes_the_load_with_a_warning(limit_runs) -> None:
    allowed = limit_runs["allowed"]
    evaluation = _check(allowed)
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert metadata_value(evaluation.metadata["max_quarantined"]) == pytest.approx(0.5)
    assert allowed.failed_steps() == set()
    rows = sorted(allowed.query("SELECT id, amount FROM raw.crm_1__opportunity"))
    assert rows == sorted(
        (sf18(i), float(a)) for i, a in zip(OPP_IDS[:8], BAD_AMOUNTS[:8], strict=True)
    )
    assert allowed.scalar(
        "SELECT closed_won_revenue FROM profile.account WHERE name = 'Limit A'"
    ) == pytest.approx(sum(2000 * n for n in range(1, 9)))
    assert AssetKey(["audience", "paying_accounts"]) in _materialized(allowed)


def test_the_summary_of_a_blocked_load_does_not_point_to_rows_that_are_not_there(
    limit_runs,
) -> None:
    from b2b_assets.run_summary import RunReport, summary

    blocked = limit_runs["blocked"]
    events = blocked.result.all_events
    graph = blocked.defs.resolve_asset_graph()
    report = RunReport(planned={key.to_user_string(): "" for key in graph.get_all_asset_keys()})
    for event in events:
        report.take(event)
    _, warnings, errors = summary(report)
    assert any("failed raw/crm_1__opportunity" in line for line in errors), errors
    held = limit_runs["blocked_quarantine"]  # raw.quarantine right after the blocked run
    claims = [
        line
        for line in warnings
        if "raw/crm_1__opportunity" in line and "the rows are in raw.quarantine" in line
    ]
    for line in claims:
        assert held == 2, f"{line!r}, but raw.quarantine holds {held} of its rows"
