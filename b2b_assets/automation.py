"""Freshness beside the graph: landing-folder sensors, declarative automation, schedules.

- A sensor per source instance watches its landing folder and launches that source's raw assets
  when a data file appears, changes or disappears (cursor: path -> size and mtime; run key: a hash
  of the changed files, so the same drop never triggers twice). Producers drop files by writing
  under a name starting with `.` or `_`, or ending in `.tmp`/`.part`, then renaming; such names are
  never read, and a file younger than the settle time is taken on a later tick.
- Everything downstream of raw follows on its own (`AutomationCondition.eager()`), evaluated by the
  `automation` sensor; assets whose inputs did not change are not recomputed.
- Time moves even when data does not: `audience_refresh` re-evaluates audiences and activations
  every 15 minutes; `nightly_full_refresh` rebuilds everything at 02:00 UTC.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetKey,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    define_asset_job,
    sensor,
)

from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets.sources.config import SourceInstance, SourcesConfig, landing_dir
from b2b_assets.sources.reader import EXTENSIONS, raw_table_name

IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".crdownload", ".inprogress")
SETTLE_SECONDS = float(os.environ.get("B2B_SETTLE_SECONDS", "1.0"))
DOWNSTREAM = AutomationCondition.eager()


def is_data_file(path: Path) -> bool:
    """A finished extract file: not hidden, not a marker, not being written."""
    name = path.name
    return (
        path.suffix.lower() in EXTENSIONS
        and not name.startswith((".", "_"))
        and not name.lower().endswith(IN_PROGRESS_SUFFIXES)
    )


def scan_landing(folder: Path, objects: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Data files of the objects under a landing folder: relative path -> (size, mtime_ns)."""
    wanted = {name.lower() for name in objects}
    found: dict[str, tuple[int, int]] = {}
    if not folder.is_dir():
        return found
    for path in folder.rglob("*"):
        if not path.is_file() or not is_data_file(path):
            continue
        relative = path.relative_to(folder)
        top = relative.parts[0]
        object_name = (Path(top).stem if len(relative.parts) == 1 else top).lower()
        if object_name in wanted:
            stat = path.stat()
            found[relative.as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def object_of(relative: str) -> str:
    first = relative.split("/")[0]
    return (first if "/" in relative else Path(first).stem).lower()


def landing_sensor(source: SourceInstance, folder: Path) -> SensorDefinition:
    """Launch the source's raw assets for the objects whose files changed since the last tick."""
    specs = OBJECTS_BY_TYPE[source.type]
    keys = {
        spec.name.lower(): AssetKey(["raw", raw_table_name(source.name, spec)]) for spec in specs
    }

    @sensor(
        name=f"landing_{source.name}",
        description=f"New, changed or removed extracts in {folder} launch {source.name}'s raw assets.",
        asset_selection=AssetSelection.assets(*keys.values()),
        minimum_interval_seconds=5,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def _landing(context: SensorEvaluationContext):
        previous: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
        now_ns = time.time_ns()
        current = scan_landing(folder, [spec.name for spec in specs])
        settled = {
            path: state
            for path, state in current.items()
            if now_ns - state[1] >= SETTLE_SECONDS * 1e9 or list(state) == previous.get(path)
        }
        unsettled = set(current) - set(settled)
        changed = {p for p, s in settled.items() if previous.get(p) != list(s)}
        removed = {p for p in previous if p not in current}
        if not changed and not removed:
            return SkipReason(
                f"no new extracts in {folder}"
                + (f" ({len(unsettled)} still being written)" if unsettled else "")
            )
        # Keep unsettled files at their previous state so they are looked at again.
        cursor = {p: list(s) for p, s in settled.items()}
        cursor.update({p: previous[p] for p in unsettled if p in previous})
        context.update_cursor(json.dumps(cursor, sort_keys=True))
        touched = sorted({object_of(p) for p in changed | removed})
        fingerprint = json.dumps(
            {p: cursor.get(p) for p in sorted(changed | removed)}, sort_keys=True
        )
        run_key = f"{source.name}:{hashlib.sha256(fingerprint.encode()).hexdigest()[:24]}"
        return RunRequest(
            run_key=run_key,
            asset_selection=[keys[name] for name in touched if name in keys],
            tags={"b2b/source": source.name, "b2b/trigger": "landing"},
        )

    return _landing


def freshness_checks(data_dir: Path, config: SourcesConfig) -> list:
    """A warning check per raw asset when its source has not delivered within its window."""
    checks = []
    for source in config.sources:
        keys = [
            AssetKey(["raw", raw_table_name(source.name, spec)])
            for spec in OBJECTS_BY_TYPE[source.type]
        ]
        checks.extend(
            build_last_update_freshness_checks(
                assets=keys, lower_bound_delta=timedelta(hours=source.freshness_hours)
            )
        )
    return checks


def automation_definitions(data_dir: Path, config: SourcesConfig, checks: list) -> dict:
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
            AutomationConditionSensorDefinition(
                "automation",
                target=AssetSelection.all(),
                default_status=DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=5,
                description="Evaluates the eager conditions that propagate changes downstream.",
            ),
            build_sensor_for_freshness_checks(
                freshness_checks=checks, default_status=DefaultSensorStatus.RUNNING
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
