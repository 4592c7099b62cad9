"""What an update of 1% new events costs against a full refresh, in one run of this script.

    python benchmarks/incremental.py [--scale 1] [--data DIR] [--fraction 0.01] [--keep]

1. Uses (or generates) the synthetic environment of `python -m benchmarks.bench --scale S`,
   linked file by file into a fresh folder (hard links: the cached data is never changed).
2. Full refresh: `dagster asset materialize --select '*'` on a fresh warehouse.
3. Drops one new activities part into Marketo 1's landing folder holding `fraction` of all
   activities (copies of existing rows with new ids, dated in the last week before as-of),
   written under a hidden name and renamed, as producers do.
4. Update: `dagster asset materialize --select 'raw/<marketo>__activities*'`, i.e. the run the
   landing sensor launches (the changed raw asset and everything downstream of it).
5. Prints wall times, the update/full ratio, the same ratio for the event stage alone (raw
   activities + b2b.experience_event, from the runs' build and check times), and how each
   activities table was loaded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

if not __package__:  # run as a file (`python benchmarks/incremental.py`): import from the root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import (  # noqa: E402
    cache_folder,
    ensure_data,
    loadavg,
    machine,
    materialize_command,
    measure,
    run_breakdown,
    run_environment,
)

EVENT_STAGE = ("activities", "experience_event")


def link_environment(source: Path, target: Path) -> None:
    """The environment's folders recreated under `target`, every file a hard link."""
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)


def drop_new_events(landing: Path, instance: str, fraction: float, as_of: str) -> int:
    """Write `fraction` of all activities as one new part of `instance`; returns its rows."""
    parts = sorted((landing / instance / "activities").glob("part-*.csv"))
    everything = sorted(landing.glob("*/activities/part-*.csv"))
    con = duckdb.connect()
    total = con.execute(
        "SELECT count(*) FROM read_csv($files, all_varchar = true)",
        {"files": [str(p) for p in everything]},
    ).fetchall()[0][0]
    rows = max(1, int(total * fraction))
    hidden = landing / instance / "activities" / ".part-update.csv.tmp"
    con.execute(
        f"""COPY (
               SELECT 'u' || marketoGUID AS marketoGUID, leadId,
                      strftime(TIMESTAMP '{as_of}' - INTERVAL (1 + (hash(marketoGUID) % 6)) DAY,
                               '%Y-%m-%dT%H:%M:%SZ') AS activityDate,
                      activityTypeId, campaignId, primaryAttributeValueId,
                      primaryAttributeValue, attributes
               FROM read_csv($file, all_varchar = true) LIMIT {rows}
           ) TO '{hidden}' (HEADER, DELIMITER ',')""",
        {"file": str(parts[0])},
    )
    con.close()
    hidden.rename(hidden.parent / "part-update.csv")
    return rows


def event_stage_seconds(breakdown: dict) -> float:
    """Build and check time of the event assets (raw activities and b2b.experience_event)."""
    return sum(
        seconds
        for asset, seconds in breakdown.get("assets", {}).items()
        if any(asset.endswith(name) for name in EVENT_STAGE)
    )


def activity_loads(warehouse: Path) -> list[str]:
    """How many files each activities table holds, read in how many loads."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        loads = con.execute(
            """SELECT raw_table, count(DISTINCT load_id), count(*) FROM ops.loaded_files
               WHERE raw_table LIKE '%activities' GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
    finally:
        con.close()
    return [f"{table}: {files} files in {n} loads" for table, n, files in loads]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--data", type=Path, default=None, help="environment (default: bench cache)")
    ap.add_argument("--fraction", type=float, default=0.01, help="new events, share of all")
    ap.add_argument("--instance", default="marketo_1", help="Marketo instance the drop lands in")
    ap.add_argument("--keep", action="store_true", help="keep the run folder")
    args = ap.parse_args(argv)

    data = args.data or cache_folder(args.scale, 1, "csv")
    expected, _ = ensure_data(data, args.scale, 1, "csv")
    as_of = expected["as_of"]
    run_dir = Path(tempfile.mkdtemp(prefix="b2b_incremental_"))
    env_dir = run_dir / "data"
    link_environment(data, env_dir)
    env, home, warehouse = run_environment(env_dir, as_of, run_dir)
    print(f"run folder: {run_dir}; load average before: {loadavg()}", flush=True)
    try:
        full = measure("full", materialize_command("*"), run_dir, env=env)
        full_steps = run_breakdown(home)
        t0 = time.perf_counter()
        rows = drop_new_events(env_dir / "landing", args.instance, args.fraction, as_of)
        print(f"  dropped {rows} new activities in {time.perf_counter() - t0:.1f} s", flush=True)
        selection = f"raw/{args.instance}__activities*"
        update = measure("update", materialize_command(selection), run_dir, env=env)
        update_steps = run_breakdown(home)
        if not (full.ok and update.ok):
            print("a run failed; see the .stderr files in the run folder", file=sys.stderr)
            return 2
        full_events = event_stage_seconds(full_steps)
        update_events = event_stage_seconds(update_steps)
        print()
        print(f"machine: {machine()}; load average after: {loadavg()}")
        print(f"new events: {rows} ({args.fraction:.1%} of all), into {args.instance}")
        print(f"full refresh (--select '*'):      {full.wall:8.1f} s")
        print(f"update ({selection}): {update.wall:8.1f} s, {len(update_steps['steps'])} steps")
        print(f"update / full:                    {update.wall / full.wall:8.1%}")
        print(f"event stage, full:                {full_events:8.1f} s")
        print(f"event stage, update:              {update_events:8.1f} s")
        print(f"event stage update / full:        {update_events / full_events:8.1%}")
        print("loads:", "; ".join(activity_loads(warehouse)))
        print("slowest update steps:")
        for step in update_steps["steps"][:8]:
            print(f"  {step.seconds:7.1f} s  {step.key}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
