"""Automation: landing-folder sensors, eager propagation, schedules, pools and freshness.

Fast on purpose: the sensors are evaluated directly on small landing folders, the definitions of
the demo are built once, and the automation conditions are evaluated on a few real assets with
`dagster.evaluate_automation_conditions` (no whole-graph materialization).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster
import pytest
import yaml
from dagster import (
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    SkipReason,
)

from b2b_assets import automation
from b2b_assets.automation import landing_sensor, reference_watch, source_watch
from b2b_assets.resources import DuckDBWarehouse, RunSettings
from b2b_assets.settings import INSTANCE_YAML
from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets.sources.config import SourceInstance
from b2b_assets.sources.landing_names import is_temporary
from b2b_assets_tests.conftest import copy_demo, query, set_env


def raw(name: str) -> AssetKey:
    return AssetKey(["raw", name])


def key(path: str) -> AssetKey:
    return AssetKey(path.split("/"))


# --------------------------------------------------------------------------------------------
# The demo's definitions, built once for the module
# --------------------------------------------------------------------------------------------


@dataclass
class Demo:
    data: Path
    warehouse: Path
    defs: dagster.Definitions

    @property
    def graph(self):
        return self.defs.resolve_asset_graph()

    def assets(self) -> list[dagster.AssetsDefinition]:
        return [a for a in self.defs.assets or [] if isinstance(a, dagster.AssetsDefinition)]


def build_demo(root: Path, mp: pytest.MonkeyPatch) -> Demo:
    from b2b_assets.definitions import build_definitions

    data = copy_demo(root / "data")
    warehouse = root / "warehouse.duckdb"
    set_env(mp, data, warehouse, "2026-11-15")
    return Demo(data, warehouse, build_definitions())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo's definitions (read-only for the tests that use it)."""
    with pytest.MonkeyPatch.context() as mp:
        yield build_demo(tmp_path_factory.mktemp("automation_demo"), mp)


# --------------------------------------------------------------------------------------------
# Landing sensors, evaluated tick by tick on a small folder
# --------------------------------------------------------------------------------------------

_clock = itertools.count(1)


def put(path: Path, text: str, *, age: float | None = 600.0) -> Path:
    """Write a file; with `age`, date its mtime that many seconds back (distinct every call) so
    it is past the settle time. `age=None` keeps the mtime of now: a file still being written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if age is not None:
        stamp = time.time_ns() - int(age * 1e9) + next(_clock) * 1_000
        os.utime(path, ns=(stamp, stamp))
    return path


def settle(path: Path) -> None:
    """Date a file back past the settle time, as if its writer had finished a while ago."""
    stamp = time.time_ns() - int(2 * automation.SETTLE_SECONDS * 1e9) - next(_clock) * 1_000
    os.utime(path, ns=(stamp, stamp))


@dataclass
class Ticker:
    """One landing sensor, ticked like the daemon does: each tick starts from the last cursor."""

    sensor: dagster.SensorDefinition
    cursor: str | None = None
    run_keys: list[str] = field(default_factory=list)
    definitions: dagster.Definitions | None = None  # to resolve what is downstream of raw
    instance: dagster.DagsterInstance | None = None  # what was materialized

    def tick(self) -> RunRequest | SkipReason:
        context = dagster.build_sensor_context(
            sensor_name=self.sensor.name,
            cursor=self.cursor,
            definitions=self.definitions,
            instance=self.instance,
        )
        result = self.sensor(context)
        assert isinstance(result, RunRequest | SkipReason), result
        if isinstance(result, RunRequest):
            assert result.run_key not in self.run_keys, "a run key came back"
            self.run_keys.append(result.run_key)
        else:
            assert context.cursor == self.cursor, "a skipped tick moved the cursor"
        self.cursor = context.cursor
        return result

    def run(self) -> RunRequest:
        result = self.tick()
        assert isinstance(result, RunRequest), result
        return result

    def skip(self) -> SkipReason:
        result = self.tick()
        assert isinstance(result, SkipReason), result
        return result

    def tracked(self) -> set[str]:
        """The files the cursor holds, relative to their folder."""
        files = json.loads(self.cursor)["files"] if self.cursor else {}
        return {path.split("/", 1)[1] for path in files}


@pytest.fixture
def marketo(tmp_path: Path, monkeypatch) -> tuple[Path, Ticker]:
    """The landing folder of a Marketo instance `mk` and its sensor; files settle after 2 min
    (written now: still young on a slow machine; dated back by `put`: settled)."""
    monkeypatch.setattr(automation, "SETTLE_SECONDS", 120.0)
    folder = tmp_path / "landing" / "mk"
    folder.mkdir(parents=True)
    source = SourceInstance(name="mk", type="marketo")
    return folder, Ticker(landing_sensor([source_watch(source, folder)]))


def selected(request: RunRequest) -> set[str]:
    return {k.to_user_string() for k in request.asset_selection or []}


LEADS = "id,email\n1,a@example.com\n"
ACTIVITIES = "marketoGUID,leadId,activityDate,activityTypeId\n1,1,2026-11-01T00:00:00Z,1\n"


# Every raw asset of the Marketo instance `mk`; all but the leads can be loaded without files.
EVERY_MK = {f"raw/mk__{spec.table}" for spec in OBJECTS_BY_TYPE["marketo"]}


def test_empty_folder_skips(marketo):
    _, ticker = marketo
    assert "no extracts yet" in ticker.skip().skip_message
    assert ticker.cursor is None


def test_first_run_loads_everything_then_only_changed_objects(marketo):
    folder, ticker = marketo
    put(folder / "leads.csv", LEADS)
    request = ticker.run()
    assert selected(request) == EVERY_MK  # the optional objects load empty
    assert request.run_key.startswith("landing:")
    assert request.tags == {"b2b/sources": "mk", "b2b/trigger": "landing"}
    assert ticker.tracked() == {"leads.csv"}
    # A part in an object folder, and an extract of another object: both objects, nothing else.
    put(folder / "activities" / "part-0001.csv", ACTIVITIES)
    put(folder / "Programs.CSV", "id,name\n1,x\n")
    assert selected(ticker.run()) == {"raw/mk__activities", "raw/mk__programs"}
    # Files that are no object of the source are not looked at.
    put(folder / "notes.csv", "a\n1\n")
    put(folder / "readme.txt", "hello")
    ticker.skip()


def test_unchanged_folder_skips_and_keeps_the_cursor(marketo):
    folder, ticker = marketo
    put(folder / "leads.csv", LEADS)
    put(folder / "activities" / "part-0001.csv", ACTIVITIES)
    ticker.run()
    cursor = ticker.cursor
    for _ in range(3):
        ticker.skip()
    assert ticker.cursor == cursor
    assert len(ticker.run_keys) == 1


def test_changed_file_is_a_new_run_with_a_new_run_key(marketo):
    folder, ticker = marketo
    path = put(folder / "leads.csv", LEADS)
    put(folder / "activities" / "part-0001.csv", ACTIVITIES)
    first = ticker.run()
    # Size changes.
    put(path, LEADS + "2,b@example.com\n")
    second = ticker.run()
    assert selected(second) == {"raw/mk__leads"}
    # Same size, new mtime (rewritten in place).
    put(path, LEADS.replace("a@", "z@"), age=300.0)
    third = ticker.run()
    assert selected(third) == {"raw/mk__leads"}
    assert len({first.run_key, second.run_key, third.run_key}) == 3
    ticker.skip()


@pytest.mark.parametrize(
    ("partial", "final"),
    [
        (".leads.csv", "leads.csv"),
        ("_leads.csv", "leads.csv"),
        ("leads.csv.tmp", "leads.csv"),
        ("leads.csv.part", "leads.csv"),
        ("leads.CSV.TMP", "leads.csv"),
        ("leads.parquet.part", "leads.parquet"),
        ("activities/.part-0002.csv", "activities/part-0002.csv"),
        ("activities/_part-0002.csv", "activities/part-0002.csv"),
        ("activities/part-0002.csv.tmp", "activities/part-0002.csv"),
        ("activities/part-0002.csv.part", "activities/part-0002.csv"),
    ],
)
def test_half_written_file_is_not_read_until_renamed(marketo, partial, final):
    folder, ticker = marketo
    put(folder / "programs.csv", "id,name\n1,x\n")
    ticker.run()
    path = put(folder / partial, LEADS)
    ticker.skip()
    assert ticker.tracked() == {"programs.csv"}
    assert is_temporary(path.name)
    # Renamed to its final name (keeping its mtime): read on the next tick.
    path.rename(folder / final)
    assert selected(ticker.run()) == {f"raw/mk__{final.split('/')[0].split('.')[0]}"}
    assert ticker.tracked() == {"programs.csv", final}
    ticker.skip()


def test_file_younger_than_the_settle_time_is_deferred(marketo):
    folder, ticker = marketo
    put(folder / "leads.csv", LEADS)
    ticker.run()
    young = put(folder / "activities" / "part-0001.csv", ACTIVITIES, age=None)
    assert "still being written" in ticker.skip().skip_message
    # With another settled change the young file is still left for a later tick.
    put(folder / "programs.csv", "id,name\n1,x\n")
    assert selected(ticker.run()) == {"raw/mk__programs"}
    assert "activities/part-0001.csv" not in ticker.tracked()
    # Settled: taken.
    settle(young)
    assert selected(ticker.run()) == {"raw/mk__activities"}
    ticker.skip()


def test_a_tick_keeps_watching_until_a_drop_settles(marketo, monkeypatch):
    """Within one tick the sensor looks again until a file lands and settles, so a drop is
    not left for the daemon's next tick."""
    folder, ticker = marketo
    monkeypatch.setattr(automation, "SETTLE_SECONDS", 0.3)
    monkeypatch.setenv("B2B_SENSOR_WATCH_SECONDS", "5")
    timer = threading.Timer(0.5, lambda: put(folder / "leads.csv", LEADS, age=None))
    timer.start()
    started = time.monotonic()
    try:
        assert "raw/mk__leads" in selected(ticker.run())
    finally:
        timer.join()
    assert 0.8 <= time.monotonic() - started < 4.5
    monkeypatch.setenv("B2B_SENSOR_WATCH_SECONDS", "0.6")
    started = time.monotonic()
    assert "no new extracts" in ticker.skip().skip_message  # nothing new: the tick ends
    assert 0.3 <= time.monotonic() - started < 3


def test_known_file_being_rewritten_waits_for_its_final_state(marketo):
    folder, ticker = marketo
    path = put(folder / "leads.csv", LEADS)
    ticker.run()
    before = json.loads(ticker.cursor)["files"]["mk/leads.csv"]
    put(path, LEADS + "2,b@example.com\n", age=None)  # being rewritten right now
    put(folder / "programs.csv", "id,name\n1,x\n")
    assert selected(ticker.run()) == {"raw/mk__programs"}
    assert json.loads(ticker.cursor)["files"]["mk/leads.csv"] == before  # kept as it was
    settle(path)
    assert selected(ticker.run()) == {"raw/mk__leads"}


def test_removed_file_triggers(marketo):
    folder, ticker = marketo
    leads = put(folder / "leads.csv", LEADS)
    part1 = put(folder / "activities" / "part-0001.csv", ACTIVITIES)
    put(folder / "activities" / "part-0002.csv", ACTIVITIES)
    ticker.run()
    part1.unlink()
    assert selected(ticker.run()) == {"raw/mk__activities"}
    assert ticker.tracked() == {"leads.csv", "activities/part-0002.csv"}
    leads.unlink()
    assert selected(ticker.run()) == {"raw/mk__leads"}
    ticker.skip()


def test_cursor_carries_across_ticks_and_no_run_key_repeats(marketo):
    """A day of drops: every tick starts from the previous cursor; each change runs once."""
    folder, ticker = marketo
    path = put(folder / "leads.csv", LEADS)
    ticker.run()
    ticker.skip()
    for n in range(2, 6):
        put(folder / "activities" / f"part-{n:04d}.csv", ACTIVITIES * n)
        assert selected(ticker.run()) == {"raw/mk__activities"}
        ticker.skip()
    put(path, LEADS * 2)
    ticker.run()
    (folder / "activities" / "part-0003.csv").unlink()
    ticker.run()
    ticker.skip()
    # A fresh sensor without the cursor would see everything again: the cursor is what remembers.
    fresh = Ticker(ticker.sensor)
    assert selected(fresh.run()) == EVERY_MK
    assert len(set(ticker.run_keys)) == len(ticker.run_keys) == 7


def test_repeated_states_still_get_new_run_keys(marketo):
    folder, ticker = marketo
    path = put(folder / "leads.csv", LEADS)
    put(folder / "programs.csv", "id,name\n1,x\n")
    ticker.run()
    path.unlink()
    ticker.run()  # removal of leads.csv
    put(path, LEADS + "2,b@example.com\n")
    ticker.run()
    path.unlink()
    ticker.run()  # removal of leads.csv again: the same run key as the first removal


def test_one_landing_sensor_builds_the_demo_in_one_run(demo: Demo):
    """One sensor, RUNNING by default, targeting every raw asset of the sources and the rates
    and what is downstream of them; on the demo's folders its first tick requests the whole
    graph in one run (an empty warehouse is built at once, not source by source)."""
    sensor = demo.defs.get_sensor_def("landing")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == automation.LANDING_INTERVAL_SECONDS
    every = set(demo.graph.get_all_asset_keys())
    raw_keys = {k for k in every if k.path[0] == "raw"}
    assert sensor.asset_selection.resolve(demo.graph) >= raw_keys | {
        key("audience/new_product_upsell")
    }
    context = dagster.build_sensor_context(definitions=demo.defs, sensor_name=sensor.name)
    data = sensor.evaluate_tick(context)
    assert len(data.run_requests) == 1
    assert set(data.run_requests[0].asset_selection) == every
    landed = list((demo.data / "landing").rglob("*.csv"))
    assert data.cursor and len(json.loads(data.cursor)["files"]) == len(landed) + 1  # + rates
    assert "landing_marketo_1" not in {s.name for s in demo.defs.sensors or []}


def test_a_required_extract_still_missing_leaves_the_first_run_to_raw(tmp_path: Path):
    """A first look with a required extract missing loads what can be loaded; the eager
    conditions build the rest once it arrives."""
    folder = tmp_path / "landing" / "crm"
    put(folder / "Account.csv", "Id,Name\n001,Acme\n")
    sensor = landing_sensor([source_watch(SourceInstance(name="crm", type="salesforce"), folder)])
    request = Ticker(sensor).run()
    assert "raw/crm__account" in selected(request)
    assert "raw/crm__contact" not in selected(request)  # required, no files yet


# --------------------------------------------------------------------------------------------
# Schedules, sensors, conditions, pools, freshness
# --------------------------------------------------------------------------------------------


def job_keys(demo: Demo, job_name: str) -> set[AssetKey]:
    return set(demo.defs.resolve_job_def(job_name).asset_layer.executable_asset_keys)


def test_schedules_target_and_run_by_default(demo: Demo):
    every = set(demo.graph.get_all_asset_keys())
    groups = {k: demo.graph.get(k).group_name for k in every}

    refresh = demo.defs.get_schedule_def("audience_refresh")
    assert refresh.default_status == DefaultScheduleStatus.RUNNING
    assert refresh.cron_schedule == "*/15 * * * *"
    assert job_keys(demo, refresh.job_name) == {
        k for k, g in groups.items() if g in ("audience", "activation")
    }
    assert {key("audience/new_product_upsell")} < job_keys(demo, refresh.job_name)

    nightly = demo.defs.get_schedule_def("nightly_full_refresh")
    assert nightly.default_status == DefaultScheduleStatus.RUNNING
    assert nightly.execution_timezone == "UTC"
    assert job_keys(demo, nightly.job_name) == every


def test_automation_sensor_runs_by_default_and_freshness_is_a_policy_of_raw_assets(demo: Demo):
    auto = demo.defs.get_sensor_def("automation")
    assert isinstance(auto, dagster.AutomationConditionSensorDefinition)
    assert auto.default_status == DefaultSensorStatus.RUNNING
    assert auto.asset_selection.resolve(demo.graph) == set(demo.graph.get_all_asset_keys())
    for k in demo.graph.get_all_asset_keys():
        policy = demo.graph.get(k).freshness_policy
        assert (policy is not None) == (k.path[0] == "raw"), k
    sensors = {s.name for s in demo.defs.sensors or []}
    assert not any("freshness" in name for name in sensors)
    assert "landing" in sensors


def test_every_non_raw_asset_is_eager_and_every_asset_in_the_duckdb_pool(demo: Demo):
    eager = dagster.AutomationCondition.eager()
    for assets_def in demo.assets():
        assert assets_def.op.pool == "duckdb", assets_def.key
        for k in assets_def.keys:
            condition = assets_def.specs_by_key[k].automation_condition
            upstream = demo.graph.get(k).parent_keys
            if k.path[0] == "raw" and not upstream:
                assert condition is None, k  # launched by the landing and reference sensors
            elif k.path[0] == "raw":  # follows the rates; pulled parts come by the sensor
                assert condition == eager.ignore(dagster.AssetSelection.groups("pull")), k
            else:
                assert condition == eager, k  # follows its parents


def test_every_raw_asset_is_launched_by_a_sensor_or_a_condition(demo: Demo):
    launched = set()
    for sensor in demo.defs.sensors or []:
        if sensor.name == "landing":
            launched |= sensor.asset_selection.resolve(demo.graph)
    for k in demo.graph.get_all_asset_keys():
        if k.path[0] == "raw":
            assert k in launched or demo.graph.get(k).automation_condition is not None, k


def test_the_instance_limits_the_duckdb_pool_to_one_step():
    from dagster._core.instance.config import dagster_instance_config

    settings, _ = dagster_instance_config(
        str(INSTANCE_YAML.parent)
    )  # validated as `dagster dev` does
    assert settings["concurrency"]["pools"]["default_limit"] == 1
    assert settings["concurrency"]["pools"]["granularity"] == "op"
    assert settings["run_monitoring"]["enabled"]
    # A sensor's run is launched as it is created (no queue); sensors are evaluated side by side.
    assert settings["run_coordinator"]["class"] == "DefaultRunCoordinator"
    assert settings["sensors"]["use_threads"]


def test_raw_assets_of_sources_carry_a_freshness_policy_and_check(demo: Demo):
    checked = {c.asset_key for c in demo.graph.asset_check_keys}
    sources = {
        s["name"] for s in yaml.safe_load((demo.data / "sources.yaml").read_text())["sources"]
    }
    raw_of_sources = [
        k
        for k in demo.graph.get_all_asset_keys()
        if k.path[0] == "raw" and k.path[-1].split("__")[0] in sources
    ]
    assert len(raw_of_sources) > 30
    for k in raw_of_sources:
        policy = demo.graph.get(k).freshness_policy
        assert isinstance(policy, dagster.FreshnessPolicy), k
        assert k in checked, k


# --------------------------------------------------------------------------------------------
# Eager propagation on a few real assets
# --------------------------------------------------------------------------------------------

EVENT = key("b2b/experience_event")
ACCOUNT = key("b2b/account")
PARENTS = {
    EVENT: [raw("marketo_1__activities"), raw("marketo_2__activities")],
    ACCOUNT: [
        raw("crm_1__account"),
        raw("crm_2__account"),
        raw("marketo_1__companies"),
        raw("marketo_2__companies"),
    ],
}
VISIT = (
    "990001,48211,2026-11-14T09:00:00Z,1,,4102,www.bodea.com/products/new-software,"
    '"{""Webpage URL"": ""/products/new-software""}"\n'
)


def test_eager_conditions_follow_the_landing_sensor(tmp_path: Path, monkeypatch):
    demo = build_demo(tmp_path, monkeypatch)
    targets = AssetSelection.assets(EVENT, ACCOUNT)
    assert {p for k in PARENTS for p in demo.graph.get(k).parent_keys} == {
        p for ps in PARENTS.values() for p in ps
    }
    instance = dagster.DagsterInstance.ephemeral()
    resources = {"warehouse": DuckDBWarehouse(path=str(demo.warehouse)), "settings": RunSettings()}
    assets = demo.assets()

    def materialize(keys) -> None:
        result = dagster.materialize(
            assets, selection=list(keys), instance=instance, resources=resources
        )
        assert result.success

    def requested(cursor=None):
        result = dagster.evaluate_automation_conditions(
            defs=demo.defs, instance=instance, asset_selection=targets, cursor=cursor
        )
        keys = {k for k in (EVENT, ACCOUNT) if result.get_num_requested(k)}
        return keys, result.cursor

    # Nothing upstream exists yet: nothing is requested.
    keys, cursor = requested()
    assert keys == set()

    # The raw parents are loaded: both b2b tables follow.
    materialize(p for ps in PARENTS.values() for p in ps)
    keys, cursor = requested(cursor)
    assert keys == {EVENT, ACCOUNT}
    materialize([EVENT, ACCOUNT])
    keys, cursor = requested(cursor)
    assert keys == set()  # handled: not requested again

    # A visit lands in Marketo 1: its sensor launches raw activities only; then only the events
    # follow, not the accounts, whose parents did not change.
    landing = demo.defs.get_sensor_def("landing")
    ticker = Ticker(landing)
    ticker.run()
    activities = demo.data / "landing" / "marketo_1" / "activities.csv"
    put(activities, activities.read_text(encoding="utf-8") + VISIT)
    request = ticker.run()
    assert set(request.asset_selection) == {raw("marketo_1__activities")}
    materialize(request.asset_selection)
    keys, cursor = requested(cursor)
    assert keys == {EVENT}
    materialize([EVENT])
    keys, cursor = requested(cursor)
    assert keys == set()
    visits = query(
        demo.warehouse,
        "SELECT count(*) FROM b2b.experience_event WHERE event_key = '990001@marketo_1'",
    )
    assert visits[0][0] == 1

    # Every table below known to the instance: the next visit's landing run carries the events
    # too. Built in one run (here: the part of it this test builds), nothing is left for the
    # automation to ask for: no second run.
    built = {EVENT, ACCOUNT, *(p for ps in PARENTS.values() for p in ps)}
    report_materialized(instance, sorted(set(demo.graph.get_all_asset_keys()) - built, key=str))
    put(activities, activities.read_text(encoding="utf-8") + VISIT.replace("990001", "990003"))
    ticker.definitions, ticker.instance = demo.defs, instance
    request = ticker.run()
    assert EVENT in request.asset_selection
    assert ACCOUNT not in request.asset_selection
    materialize([raw("marketo_1__activities"), EVENT])
    keys, cursor = requested(cursor)
    assert keys == set()
    visits = query(
        demo.warehouse,
        "SELECT count(*) FROM b2b.experience_event WHERE event_key = '990003@marketo_1'",
    )
    assert visits[0][0] == 1


def report_materialized(instance: dagster.DagsterInstance, keys) -> None:
    """Record materializations without building anything: the instance then knows the tables."""
    for k in keys:
        instance.report_runless_asset_event(dagster.AssetMaterialization(k))


def test_a_drop_is_one_run_down_to_the_outbox(tmp_path: Path, monkeypatch):
    """After its first run (the whole graph), the landing sensor's run carries the touched raw
    assets and everything downstream of them (the audiences, the activations), and nothing
    unrelated; as long as a table below was never materialized, raw assets only (the eager
    conditions wait for every parent)."""
    demo = build_demo(tmp_path, monkeypatch)
    graph = demo.graph
    every = set(graph.get_all_asset_keys())
    instance = dagster.DagsterInstance.ephemeral()
    sensor = demo.defs.get_sensor_def("landing")
    ticker = Ticker(sensor, definitions=demo.defs, instance=instance)
    activities = demo.data / "landing" / "marketo_1" / "activities.csv"
    original = activities.read_text(encoding="utf-8")
    assert set(ticker.run().asset_selection) == every  # the first build, in one run
    put(activities, original + VISIT)
    assert ticker.run().asset_selection == [raw("marketo_1__activities")]  # nothing built yet

    report_materialized(instance, sorted(every, key=str))
    put(activities, original + VISIT + VISIT.replace("990001", "990002"))
    request = ticker.run()
    below = AssetSelection.assets(raw("marketo_1__activities")).downstream().resolve(graph)
    assert set(request.asset_selection) == below
    assert request.asset_selection[0] == raw("marketo_1__activities")
    assert {EVENT, key("audience/new_product_upsell")} < below
    assert any(k.path[0] == "activation" for k in below)
    assert ACCOUNT not in below  # its parents did not change
    assert [k for k in below if k.path[0] == "raw"] == [raw("marketo_1__activities")]
    assert below <= sensor.asset_selection.resolve(graph)  # within the sensor's target
    assert request.tags == {"b2b/sources": "marketo_1", "b2b/trigger": "landing"}
    ticker.skip()

    # Drops into two sources seen in one look: one run for both.
    crm_account = demo.data / "landing" / "crm_2" / "Account.csv"
    put(activities, original)
    put(crm_account, crm_account.read_text(encoding="utf-8"))
    request = ticker.run()
    assert {raw("marketo_1__activities"), raw("crm_2__account")} <= set(request.asset_selection)
    assert request.tags["b2b/sources"] == "crm_2,marketo_1"

    # The reference rates beside the landing folders are watched by the same sensor.
    rates = raw("fx_rates")
    put(demo.data / "fx_rates.csv", "currency,rate_to_usd\nEUR,1.08\nJPY,0.0067\n")
    selection = set(ticker.run().asset_selection)
    assert {rates, raw("crm_1__opportunity"), key("b2b/opportunity")} < selection
    assert selection == AssetSelection.assets(rates).downstream().resolve(graph)
    ticker.skip()


def test_the_rates_load_once_per_change(tmp_path):
    rates = dagster.AssetKey(["raw", "fx_rates"])
    ticker = Ticker(landing_sensor([reference_watch(tmp_path)]))
    assert "no extracts yet" in ticker.skip().skip_message
    put(tmp_path / "fx_rates.csv", "currency,rate_to_usd\nEUR,1.08\n")
    assert ticker.run().asset_selection == [rates]
    ticker.skip()
    put(tmp_path / "fx_rates.csv", "currency,rate_to_usd\nEUR,1.09\n")
    assert ticker.run().asset_selection == [rates]
