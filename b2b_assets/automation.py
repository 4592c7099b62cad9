"""Freshness beside the graph: landing-folder sensors, declarative automation, schedules.

- A sensor per source instance watches its landing folder and launches one run of the source's raw
  assets it touched and everything downstream of them, so a drop reaches the audiences and the
  outbox in a single run (cursor: path -> size and mtime; run key: a hash of the changed files, so
  the same drop never triggers twice). Producers drop files by writing under a name starting with
  `.` or `_`, or ending in `.tmp`/`.part`, then renaming; such names are never read, and a file
  younger than the settle time is taken on a later tick.
- Everything downstream of raw also follows on its own (`AutomationCondition.eager()`), evaluated
  by the `automation` sensor: it builds the graph the first time (while some raw table is still
  missing the landing runs carry raw assets only) and propagates whatever a landing run did not
  carry; assets that a run already brought up to date are not requested again.
- Time moves even when data does not: `audience_refresh` re-evaluates audiences and activations
  every 15 minutes; `nightly_full_refresh` rebuilds everything at 02:00 UTC.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dagster import (
    AssetKey,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DagsterInvariantViolationError,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from b2b_assets.sources.catalog import FX_RATES, OBJECTS_BY_TYPE
from b2b_assets.sources.config import SourceInstance, SourcesConfig, landing_dir
from b2b_assets.sources.landing_names import FINGERPRINT, fingerprint, scan_landing, top_level
from b2b_assets.sources.reader import raw_table_name

SETTLE_SECONDS = float(os.environ.get("B2B_SETTLE_SECONDS", "1.0"))
# The daemon starts a sensor's tick about every 5 s. A file sensor keeps watching for half of
# that time (a scan every POLL_SECONDS), so a drop is mostly seen when it settles, not on the
# next tick; the other half leaves the code server's threads to the UI and run launches.
# B2B_SENSOR_WATCH_SECONDS=0 looks once per tick.
WATCH_SECONDS_DEFAULT = 2.5
POLL_SECONDS = 0.25
DOWNSTREAM = AutomationCondition.eager()
# The daemon evaluates sensors in a loop of about 5 s; 1 s lets the file sensors tick on every loop.
LANDING_INTERVAL_SECONDS = 1
AUTOMATION_INTERVAL_SECONDS = 5


def object_of(relative: str) -> str:
    first = relative.split("/")[0]
    return (first if "/" in relative else Path(first).stem).lower()


def read_cursor(text: str | None) -> tuple[dict[str, list[int]], int]:
    """(files seen: path -> [size, mtime_ns], runs requested so far) from a sensor cursor."""
    if not text:
        return {}, 0
    data = json.loads(text)
    return data.get("files", {}), int(data.get("runs", 0))


def with_downstream(context: SensorEvaluationContext, keys: Sequence[AssetKey]) -> list[AssetKey]:
    """The keys and every asset downstream of them, so one run carries a change to the outbox.

    Only the keys when an asset below also reads a table that was never materialized (a first
    start, while other sources are still loading): the eager conditions then build it once every
    parent exists. Also only the keys for a sensor evaluated without its definitions.
    """
    repository = context.repository_def
    if repository is None or not keys:
        return list(keys)
    graph = repository.asset_graph
    selected = set(keys)
    below = AssetSelection.assets(*keys).downstream().resolve(graph) - selected
    others = {parent for k in below for parent in graph.get(k).parent_keys} - selected - below
    if others:
        latest = context.instance.get_latest_materialization_events(sorted(others))
        if any(latest.get(k) is None for k in others):
            return list(keys)
    return [*keys, *sorted(below, key=lambda k: k.to_user_string())]


def already_loaded(
    context: SensorEvaluationContext, key: AssetKey, files: dict[str, tuple[int, int]]
) -> bool:
    """Whether the asset's last materialization read exactly these files (same fingerprint).
    False for a sensor evaluated without an instance."""
    try:
        instance = context.instance
    except DagsterInvariantViolationError:
        return False
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return False
    recorded = materialization.metadata.get(FINGERPRINT)
    return recorded is not None and recorded.value == fingerprint(files)


def watch_files(
    context: SensorEvaluationContext,
    name: str,
    current: dict[str, tuple[int, int]],
    selection: Callable[[set[str]], dict[AssetKey, str]],
    where: str,
) -> RunRequest | SkipReason:
    """One tick: compare the files with the cursor, ask for a run of what changed.

    The run carries the raw assets of the changed objects and everything downstream of them (see
    `with_downstream`). The sensor's first run, which catches up with whatever is already there,
    carries raw assets only: the eager conditions then build what follows once, rather than once
    per source. The cursor keeps each settled file's (size, mtime) and how many runs were
    requested; the run key is the source, that count and a hash of the changes, so one drop runs
    once, and a file that returns to an earlier state still gets a run of its own. An object
    whose raw asset last loaded exactly these files (a new cursor over a warehouse already
    built, e.g. `dagster dev` started after the demo) is not loaded again.
    """
    previous, runs = read_cursor(context.cursor)
    now_ns = time.time_ns()
    settled = {
        path: state
        for path, state in current.items()
        if now_ns - state[1] >= SETTLE_SECONDS * 1e9 or list(state) == previous.get(path)
    }
    unsettled = set(current) - set(settled)
    changed = {p for p, state in settled.items() if previous.get(p) != list(state)}
    removed = {p for p in previous if p not in current}
    if not changed and not removed:
        return SkipReason(
            f"no new extracts in {where}"
            + (f" ({len(unsettled)} still being written)" if unsettled else "")
        )
    # Unsettled files keep their previous state, so they are looked at again.
    files = {p: list(state) for p, state in settled.items()}
    files.update({p: previous[p] for p in unsettled if p in previous})
    first = runs == 0
    runs += 1
    context.update_cursor(json.dumps({"files": files, "runs": runs}, sort_keys=True))
    objects = selection(changed | removed)
    keys = [
        key
        for key, name in objects.items()
        if not already_loaded(
            context, key, {p: s for p, s in current.items() if object_of(p) == name}
        )
    ]
    if not keys:
        return SkipReason(f"the extracts in {where} are already loaded")
    changes = json.dumps({p: files.get(p) for p in sorted(changed | removed)}, sort_keys=True)
    digest = hashlib.sha256(changes.encode()).hexdigest()[:16]
    return RunRequest(
        run_key=f"{name}:{runs}:{digest}",
        asset_selection=keys if first else with_downstream(context, keys),
        tags={"b2b/source": name, "b2b/trigger": "landing"},
    )


def watch_seconds() -> float:
    return float(os.environ.get("B2B_SENSOR_WATCH_SECONDS", WATCH_SECONDS_DEFAULT))


def keep_watching(
    context: SensorEvaluationContext, tick: Callable[[], RunRequest | SkipReason]
) -> RunRequest | SkipReason:
    """Run `tick` until it asks for a run, changes the cursor, or the watch time is over."""
    deadline = time.monotonic() + watch_seconds()
    cursor = context.cursor
    while True:
        result = tick()
        if isinstance(result, RunRequest) or context.cursor != cursor:
            return result
        if time.monotonic() + POLL_SECONDS > deadline:
            return result
        time.sleep(POLL_SECONDS)


def landing_sensor(source: SourceInstance, folder: Path) -> SensorDefinition:
    """Launch the source's raw assets for the objects whose files changed since the last tick, and
    everything downstream of them."""
    specs = OBJECTS_BY_TYPE[source.type]
    keys = {
        spec.name.lower(): AssetKey(["raw", raw_table_name(source.name, spec)]) for spec in specs
    }

    def selection(paths: set[str]) -> dict[AssetKey, str]:
        touched = sorted({object_of(p) for p in paths})
        return {keys[name]: name for name in touched if name in keys}

    @sensor(
        name=f"landing_{source.name}",
        description=(
            f"New, changed or removed extracts in {folder} launch {source.name}'s raw assets "
            "and everything downstream of them."
        ),
        asset_selection=AssetSelection.assets(*keys.values()).downstream(),
        minimum_interval_seconds=LANDING_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def _landing(context: SensorEvaluationContext):
        def tick() -> RunRequest | SkipReason:
            current = scan_landing(folder, [spec.name for spec in specs])
            return watch_files(context, source.name, current, selection, str(folder))

        return keep_watching(context, tick)

    return _landing


def reference_sensor(data_dir: Path) -> SensorDefinition:
    """`fx_rates.csv` (reference data beside the landing folders) launches `raw.fx_rates` and
    everything downstream of it (the raw opportunities checked against it and what they feed)."""
    key = AssetKey(["raw", FX_RATES.table])

    @sensor(
        name="reference_data",
        description=(
            f"A new or changed {data_dir / 'fx_rates.csv'} launches raw/fx_rates and everything "
            "downstream of it."
        ),
        asset_selection=AssetSelection.assets(key).downstream(),
        minimum_interval_seconds=LANDING_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def _reference(context: SensorEvaluationContext):
        current = top_level(scan_landing(data_dir, [FX_RATES.name]))
        if not current and not read_cursor(context.cursor)[0]:
            # No rates file: USD only. Load the empty reference once so that nothing waits on it.
            if context.cursor:
                return SkipReason("no fx_rates.csv")
            context.update_cursor(json.dumps({"files": {}, "runs": 1}))
            if already_loaded(context, key, {}):
                return SkipReason("no fx_rates.csv; raw/fx_rates is already loaded without it")
            return RunRequest(run_key="reference:1:none", asset_selection=[key])
        return watch_files(
            context, "reference", current, lambda _: {key: FX_RATES.name}, str(data_dir)
        )

    return _reference


def automation_definitions(data_dir: Path, config: SourcesConfig) -> dict:
    """Sensors and schedules, all on by default in `dagster dev`."""
    refresh = define_asset_job(
        "audience_refresh_job",
        selection=AssetSelection.groups("audience", "activation"),
        description="Re-evaluate time-window audiences and deliver their changes.",
    )
    full = define_asset_job(
        "full_refresh_job",
        selection=AssetSelection.all(),
        description="Rebuild the whole graph from the landing folders.",
    )
    return {
        "sensors": [
            *(landing_sensor(source, landing_dir(data_dir, source)) for source in config.sources),
            reference_sensor(data_dir),
            AutomationConditionSensorDefinition(
                "automation",
                target=AssetSelection.all(),
                default_status=DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=AUTOMATION_INTERVAL_SECONDS,
                description="Evaluates the eager conditions that propagate changes downstream.",
            ),
        ],
        "schedules": [
            ScheduleDefinition(
                name="audience_refresh",
                job=refresh,
                cron_schedule="*/15 * * * *",
                execution_timezone="UTC",
                default_status=DefaultScheduleStatus.RUNNING,
                description="Windows move with time: members whose events age out leave.",
            ),
            ScheduleDefinition(
                name="nightly_full_refresh",
                job=full,
                cron_schedule="0 2 * * *",
                execution_timezone="UTC",
                default_status=DefaultScheduleStatus.RUNNING,
                description="Nightly rebuild of every asset.",
            ),
        ],
        "jobs": [refresh, full],
    }
