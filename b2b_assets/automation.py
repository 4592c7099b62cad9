"""Freshness beside the graph: the landing sensor, declarative automation, schedules.

- One sensor, `landing`, watches every source's landing folder and the reference rates beside
  them, and launches one run of the raw assets whose files changed (in any source) and everything
  downstream of them, so a drop reaches the audiences and the outbox in a single run (cursor:
  path -> size and mtime; run key: a hash of the changed files, so the same drop never triggers
  twice). Its first run builds an empty warehouse whole. Producers drop files by writing under a
  name starting with `.` or `_`, or ending in `.tmp`/`.part`, then renaming; such names are never
  read, and a file younger than the settle time is taken on a later tick.
- Everything downstream of raw also follows on its own (`AutomationCondition.eager()`), evaluated
  by the `automation` sensor: it propagates whatever a landing run did not carry (e.g. a required
  extract that arrived late); assets a run already brought up to date are not requested again.
- Sources with a `pull:` block are pulled by their `pull_<source>` schedule; the landing sensor
  loads the parts a pull lands as it loads dropped files.
- Time moves even when data does not: `audience_refresh` re-evaluates audiences and activations
  every 15 minutes; `nightly_full_refresh` rebuilds everything at 02:00 UTC."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

from b2b_assets.pulls.assets import pull_schedules
from b2b_assets.sources.catalog import FX_RATES, OBJECTS_BY_TYPE
from b2b_assets.sources.config import SourceInstance, SourcesConfig, landing_dir
from b2b_assets.sources.landing_names import (
    FINGERPRINT,
    entry_name,
    fingerprint,
    object_resolver,
    scan_landing,
    top_level,
)
from b2b_assets.sources.reader import raw_table_name

SETTLE_SECONDS = float(os.environ.get("B2B_SETTLE_SECONDS", "1.0"))
# The daemon starts the sensor's tick about every 5 s. The landing sensor keeps watching for
# 4 s of that time (a scan every POLL_SECONDS), so a drop is seen when it settles, not on the
# next tick; the last second leaves the daemon room to start the next tick on time.
# B2B_SENSOR_WATCH_SECONDS=0 looks once per tick.
WATCH_SECONDS_DEFAULT = 4.0
POLL_SECONDS = 0.25
DOWNSTREAM = AutomationCondition.eager()
# The daemon evaluates sensors in a loop of about 5 s; 1 s lets the file sensors tick on every loop.
LANDING_INTERVAL_SECONDS = 1
# The name the reference data beside the landing folders is watched under (never a source's).
REFERENCE = "reference data"
AUTOMATION_INTERVAL_SECONDS = 5


@dataclass(frozen=True)
class Watched:
    """A folder the landing sensor watches: a source's landing folder (its objects, nested
    parts included), or the data folder for the reference rates (files directly in it)."""

    name: str
    folder: Path
    objects: dict[str, AssetKey]  # object name, lower-case -> its raw asset
    nested: bool = True
    required: frozenset[str] = frozenset()  # objects that cannot be loaded without files
    resolve: Callable[[str], str | None] = str.lower  # a top-level name -> the object it holds

    def scan(self) -> dict[str, tuple[int, int]]:
        found = scan_landing(self.folder, list(self.objects), self.resolve)
        return found if self.nested else top_level(found)

    def object_of(self, relative: str) -> str | None:
        """The object a file (its path relative to the folder) belongs to."""
        return self.resolve(entry_name(Path(relative)))


def source_watch(
    source: SourceInstance, folder: Path, config: SourcesConfig | None = None
) -> Watched:
    specs = config.object_specs(source) if config else OBJECTS_BY_TYPE[source.type]
    objects = {
        spec.name.lower(): AssetKey(["raw", raw_table_name(source.name, spec)]) for spec in specs
    }
    required = frozenset(spec.name.lower() for spec in specs if spec.required)
    resolve = object_resolver(source.type, source.format)
    return Watched(source.name, folder, objects, required=required, resolve=resolve)


def reference_watch(data_dir: Path) -> Watched:
    return Watched(
        REFERENCE, data_dir, {FX_RATES.name.lower(): AssetKey(["raw", FX_RATES.table])}, False
    )


def read_cursor(text: str | None) -> tuple[dict[str, list[int]], int]:
    """(files seen: watched name/path -> [size, mtime_ns], runs requested so far)."""
    if not text:
        return {}, 0
    data = json.loads(text)
    return data.get("files", {}), int(data.get("runs", 0))


def with_downstream(context: SensorEvaluationContext, keys: Sequence[AssetKey]) -> list[AssetKey]:
    """The keys and every asset downstream of them, so one run carries a change to the outbox.

    Only the keys when an asset below also reads a table that was never materialized and is not
    in the run (a required extract still missing): the eager conditions then build it once
    every parent exists. Also only the keys for a sensor evaluated without its definitions.
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


def settled_changes(
    previous: dict[str, list[int]], current: dict[str, tuple[int, int]]
) -> tuple[set[str], set[str], dict[str, list[int]], int]:
    """(changed, removed, the cursor's next files, how many are still being written): a file is
    taken once it is older than the settle time or unchanged since the last look; a file still
    being written keeps its previous state in the cursor, so it is looked at again."""
    now_ns = time.time_ns()
    settled = {
        path: state
        for path, state in current.items()
        if now_ns - state[1] >= SETTLE_SECONDS * 1e9 or list(state) == previous.get(path)
    }
    unsettled = set(current) - set(settled)
    changed = {p for p, state in settled.items() if previous.get(p) != list(state)}
    removed = {p for p in previous if p not in current}
    files = {p: list(state) for p, state in settled.items()}
    files.update({p: previous[p] for p in unsettled if p in previous})
    return changed, removed, files, len(unsettled)


def watch_files(
    context: SensorEvaluationContext, watched: Sequence[Watched]
) -> RunRequest | SkipReason:
    """One look at every watched folder: compare the files with the cursor, ask for one run of
    what changed.

    The run carries the raw assets of the changed objects, of every source, and everything
    downstream of them (see `with_downstream`). The first run (no cursor yet) carries every raw
    asset that can be loaded (a required object needs its files): an empty warehouse is built
    whole in that one run. The cursor keeps each settled file's (size, mtime) under
    `<folder name>/<path>` and how many runs were requested; the run key is that count and a
    hash of the changes, so one drop runs once, and a file that returns to an earlier state
    still gets a run of its own. An object whose raw asset last loaded exactly these files (a
    new cursor over a warehouse already built, e.g. `dagster dev` started after the demo) is
    not loaded again.
    """
    previous, runs = read_cursor(context.cursor)
    scans = {w.name: w.scan() for w in watched}
    current = {
        f"{name}/{path}": state for name, found in scans.items() for path, state in found.items()
    }
    changed, removed, files, unsettled = settled_changes(previous, current)
    first = runs == 0
    if first and (unsettled or not current):
        # The first run builds everything: it waits for a landing that has settled.
        return SkipReason(
            f"waiting for {unsettled} files still being written" if unsettled else "no extracts yet"
        )
    if not changed and not removed and not first:
        return SkipReason(
            "no new extracts" + (f" ({unsettled} still being written)" if unsettled else "")
        )
    touched = changed | removed
    touched_objects: dict[str, set[str | None]] = {}  # watched folder -> objects changed
    by_name = {w.name: w for w in watched}
    for path in touched:
        folder, relative = path.split("/", 1)
        if folder in by_name:  # a source no longer in sources.yaml has nothing to load
            touched_objects.setdefault(folder, set()).add(by_name[folder].object_of(relative))
    keys = []
    for w in watched:
        mine = touched_objects.get(w.name, set())
        for name, key in w.objects.items():
            object_files = {p: s for p, s in scans[w.name].items() if w.object_of(p) == name}
            if name not in mine and not (first and (object_files or name not in w.required)):
                continue
            if not already_loaded(context, key, object_files):
                keys.append(key)
    context.update_cursor(json.dumps({"files": files, "runs": runs + 1}, sort_keys=True))
    if not keys:
        return SkipReason("the extracts are already loaded")
    changes = json.dumps({p: files.get(p) for p in sorted(touched)}, sort_keys=True)
    digest = hashlib.sha256(changes.encode()).hexdigest()[:16]
    names = {w.name for w in watched} if first else set(touched_objects)
    return RunRequest(
        run_key=f"landing:{runs + 1}:{digest}",
        asset_selection=with_downstream(context, keys),
        tags={"b2b/sources": ",".join(sorted(names)), "b2b/trigger": "landing"},
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


def landing_sensor(watched: Sequence[Watched]) -> SensorDefinition:
    """Launch, in one run, the raw assets whose files changed since the last look, in any
    watched folder, and everything downstream of them."""
    keys = [key for w in watched for key in w.objects.values()]
    folders = ", ".join(str(w.folder) for w in watched)

    @sensor(
        name="landing",
        description=(
            f"New, changed or removed extracts in {folders} launch one run of their raw assets "
            "and everything downstream of them; the first run builds everything."
        ),
        asset_selection=AssetSelection.assets(*keys).downstream(),
        minimum_interval_seconds=LANDING_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def _landing(context: SensorEvaluationContext):
        return keep_watching(context, lambda: watch_files(context, watched))

    return _landing


def environment_watch(data_dir: Path, config: SourcesConfig) -> list[Watched]:
    """Every folder of the environment the landing sensor watches."""
    return [
        *(source_watch(source, landing_dir(data_dir, source), config) for source in config.sources),
        reference_watch(data_dir),
    ]


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
    pulls = pull_schedules(config)
    return {
        "sensors": [
            landing_sensor(environment_watch(data_dir, config)),
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
            *pulls,
        ],
        "jobs": [refresh, full, *(schedule.job for schedule in pulls)],
    }
