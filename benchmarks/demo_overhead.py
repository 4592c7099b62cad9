#!/usr/bin/env python
"""What the demo graph costs against a one-asset Dagster project, round by round in one run.

    python benchmarks/demo_overhead.py [--rounds 5] [--keep] [--dagster-yaml FILE]

Each round runs three subprocesses with the same Python and the same command,
`dagster asset materialize -m MODULE --select '*'`:
- the demo graph: `b2b_assets.definitions` on data/ as of 2026-11-15, into a fresh warehouse
  and outbox;
- a one-asset project: a definitions module this script writes to a temporary folder, with
  one asset that writes one row into a DuckDB file, run by the in-process executor as the
  demo's steps are;
- the demo's shape with no work: a module this script writes with the demo graph's steps,
  assets (keys and dependencies) and checks, whose steps report every selected asset and a
  passing result for each check and do nothing else. What it costs over the one-asset run is
  what Dagster charges for the graph's shape alone (events, steps, planning), before any table
  is built: the least any graph with one asset per table and one check per check can cost.

Both get the same treatment: a fresh DAGSTER_HOME holding the repository's scripts/dagster.yaml
(or --dagster-yaml, to compare instance settings), their own warehouse and outbox, the same
B2B_* variables. The order alternates (the demo first in odd rounds, last in even ones), so a
noisy machine weighs on all of them.

Prints, per round and run, wall time, CPU time and peak RSS of the process, and from the run's
event log in its DAGSTER_HOME: start-up (process start to RUN_START: imports, loading the
definitions, the instance, the run's creation with its planned events), the sum of the step
durations (STEP_START to STEP_SUCCESS), the rest of the run (RUN_START to its end, less the
steps), the exit (the run's end to the process's end) and how many entries the run wrote to
the event log (each one a write to the instance's SQLite storage). Then the median, min and
max of the ratio demo / one-asset, of wall time and of CPU time (which a busy machine moves
less), the same for the shape with no work, and the median of each part. Figures only: nothing is asserted on them. Exits 2 if a
run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from b2b_assets.settings import INSTANCE_YAML

if not __package__:  # run as a file (`python benchmarks/demo_overhead.py`): import from the root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import DEMO_AS_OF, DEMO_DATA, REPO_ROOT, dagster_command, run_breakdown

DEMO_MODULE = "b2b_assets.definitions"
ONE_ASSET_MODULE = "one_asset_definitions"
ONE_ASSET_SOURCE = '''"""One asset that writes one row into a DuckDB file: Dagster's fixed cost of a run."""

import os

import duckdb
from dagster import Definitions, asset, in_process_executor


@asset
def one_row() -> None:
    con = duckdb.connect(os.environ["B2B_WAREHOUSE"])
    try:
        con.execute("CREATE OR REPLACE TABLE one_row AS SELECT 1 AS id, now() AS written_at")
    finally:
        con.close()


defs = Definitions(assets=[one_row], executor=in_process_executor)
'''
SHAPE_MODULE = "demo_shape_definitions"
SHAPE_SOURCE = '''"""The demo graph's steps, assets and checks, with steps that do no work."""

import json
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    Definitions,
    MaterializeResult,
    in_process_executor,
    multi_asset,
)

SHAPE = json.loads((Path(__file__).parent / "shape.json").read_text())


def step(shape: dict):
    checks = {}
    for path, name, blocking in shape["checks"]:
        checks.setdefault(tuple(path), []).append((name, blocking))

    @multi_asset(
        name=shape["name"],
        specs=[
            AssetSpec(AssetKey(a["key"]), deps=[AssetKey(d) for d in a["deps"]])
            for a in shape["assets"]
        ],
        check_specs=[
            AssetCheckSpec(name, asset=AssetKey(list(path)), blocking=blocking)
            for path, named in checks.items()
            for name, blocking in named
        ],
        can_subset=True,
    )
    def _step(context):
        for a in shape["assets"]:
            key = AssetKey(a["key"])
            if key in context.selected_asset_keys:
                yield MaterializeResult(
                    asset_key=key,
                    check_results=[
                        AssetCheckResult(asset_key=key, check_name=name, passed=True)
                        for name, _ in checks.get(tuple(a["key"]), [])
                    ],
                )

    return _step


defs = Definitions(assets=[step(s) for s in SHAPE], executor=in_process_executor)
'''
RUNS = ("demo", "one-asset", "shape")


@dataclass
class RunFigures:
    """One measured `dagster asset materialize` process and the parts of its run."""

    name: str
    rc: int
    wall: float
    cpu: float
    peak_mib: float
    startup: float | None = None
    steps: float | None = None
    step_count: int = 0
    in_run: float | None = None
    teardown: float | None = None
    events: int | None = None
    stderr: Path | None = None


def write_one_asset_project(folder: Path) -> Path:
    """The one-asset definitions module in `folder`; returns the folder."""
    folder.mkdir(parents=True)
    (folder / f"{ONE_ASSET_MODULE}.py").write_text(ONE_ASSET_SOURCE)
    return folder


def demo_shape() -> list[dict]:
    """The demo graph's steps: each with its assets (key path, dependencies) and checks."""
    from dagster import AssetsDefinition

    from b2b_assets.definitions import defs

    steps = []
    for definition in defs.assets or []:
        if not isinstance(definition, AssetsDefinition):
            continue
        assets = [
            {"key": list(spec.key.path), "deps": [list(d.asset_key.path) for d in spec.deps]}
            for spec in definition.specs
        ]
        checks = [[list(c.asset_key.path), c.name, c.blocking] for c in definition.check_specs]
        steps.append({"name": definition.node_def.name, "assets": assets, "checks": checks})
    return steps


def write_shape_project(folder: Path) -> Path:
    """The no-work module with the demo graph's shape in `folder`; returns the folder."""
    os.environ.setdefault("B2B_DATA_DIR", str(DEMO_DATA))
    folder.mkdir(parents=True)
    (folder / "shape.json").write_text(json.dumps(demo_shape()))
    (folder / f"{SHAPE_MODULE}.py").write_text(SHAPE_SOURCE)
    return folder


def run_environment(run_dir: Path, instance_yaml: Path) -> dict[str, str]:
    """A fresh DAGSTER_HOME (with `instance_yaml`), warehouse and outbox in `run_dir`."""
    home = run_dir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(instance_yaml, home / "dagster.yaml")
    return {
        **os.environ,
        "B2B_DATA_DIR": str(DEMO_DATA),
        "B2B_WAREHOUSE": str(run_dir / "warehouse.duckdb"),
        "B2B_OUTBOX": str(run_dir / "outbox"),
        "B2B_AS_OF": DEMO_AS_OF,
        "DAGSTER_HOME": str(home),
    }


def materialize(module: str, workdir: Path) -> list[str]:
    """`dagster asset materialize` of every asset of `module`, loaded from `workdir`."""
    return [*dagster_command(), "asset", "materialize", "-m", module, "-d", str(workdir)]


def timed_run(
    name: str, cmd: list[str], cwd: Path, run_dir: Path, instance_yaml: Path
) -> RunFigures:
    """Run `cmd` with its own environment in `run_dir`; wall, CPU and peak RSS of the process,
    and the parts of its run from the event log."""
    env = run_environment(run_dir, instance_yaml)
    stdout, stderr = run_dir / "stdout.log", run_dir / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        spawned = time.time()
        began = time.perf_counter()
        process = subprocess.Popen(
            [*cmd, "--select", "*"], cwd=cwd, env=env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
        ended = time.time()
    process.returncode = os.waitstatus_to_exitcode(status)
    figures = RunFigures(
        name=name,
        rc=process.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_mib=usage.ru_maxrss / 1024,
        stderr=stderr,
    )
    add_run_parts(figures, Path(env["DAGSTER_HOME"]), spawned, ended)
    return figures


def add_run_parts(figures: RunFigures, home: Path, spawned: float, ended: float) -> None:
    """Start-up, steps, the rest of the run and the exit, from the run's events in `home`."""
    try:
        breakdown = run_breakdown(home)
    except Exception as exc:  # the parts are informative only
        print(f"  ({figures.name}: no event log breakdown: {exc})", file=sys.stderr)
        return
    start, end = breakdown["run_start"], breakdown["run_end"]
    seconds = [step.seconds for step in breakdown["steps"] if step.seconds == step.seconds]
    figures.steps = sum(seconds)
    figures.step_count = len(breakdown["steps"])
    if start is not None:
        figures.startup = start - spawned
    if start is not None and end is not None:
        figures.in_run = (end - start) - figures.steps
        figures.teardown = ended - end
    figures.events = event_count(home)


def event_count(home: Path) -> int:
    """How many entries the (only) run in `home` wrote to its event log."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=1)
        return len(instance.all_logs(runs[0].run_id)) if runs else 0


def one_round(
    number: int, root: Path, projects: dict[str, Path], instance_yaml: Path
) -> dict[str, RunFigures]:
    """The runs of round `number`, the demo first in odd rounds and last in even ones."""
    order = RUNS if number % 2 else tuple(reversed(RUNS))
    commands = {
        "demo": (materialize(DEMO_MODULE, REPO_ROOT), REPO_ROOT),
        "one-asset": (materialize(ONE_ASSET_MODULE, projects["one-asset"]), projects["one-asset"]),
        "shape": (materialize(SHAPE_MODULE, projects["shape"]), projects["shape"]),
    }
    results = {}
    for name in order:
        cmd, cwd = commands[name]
        run_dir = root / f"round-{number}" / name
        results[name] = timed_run(name, cmd, cwd, run_dir, instance_yaml)
    return results


def seconds(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def round_table(number: int, results: dict[str, RunFigures]) -> str:
    """The figures of one round and its ratio."""
    first = RUNS[0] if number % 2 else RUNS[-1]
    header = (
        f"{'run':<10} {'wall s':>7} {'CPU s':>7} {'peak MiB':>9} {'start-up s':>11} "
        f"{'steps s':>8} {'(n)':>4} {'run-steps s':>12} {'exit s':>7} {'events':>7}"
    )
    lines = [f"round {number} ({first} first)", header]
    for name in RUNS:
        r = results[name]
        lines.append(
            f"{name:<10} {r.wall:>7.2f} {r.cpu:>7.2f} {r.peak_mib:>9.0f} {seconds(r.startup):>11} "
            f"{seconds(r.steps):>8} {r.step_count:>4} {seconds(r.in_run):>12} "
            f"{seconds(r.teardown):>7} {r.events if r.events is not None else '-':>7}"
            + ("" if r.rc == 0 else f"  FAILED (exit {r.rc})")
        )
    for name in ("demo", "shape"):
        lines.append(
            f"ratio {name} / one-asset: {ratio(results, 'wall', name):.2f}x wall, "
            f"{ratio(results, 'cpu', name):.2f}x CPU"
        )
    return "\n".join(lines)


def ratio(results: dict[str, RunFigures], part: str = "wall", run: str = "demo") -> float:
    """`run` / one-asset of `part` (wall or cpu)."""
    return getattr(results[run], part) / getattr(results["one-asset"], part)


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f}x, min {min(values):.2f}x, max {max(values):.2f}x"
    )


def median_of(rounds: list[dict[str, RunFigures]], name: str, part: str) -> str:
    values = [getattr(r[name], part) for r in rounds]
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.2f}" if values else "-"


def summary(rounds: list[dict[str, RunFigures]]) -> str:
    """Median, min and max of the ratio (wall, and CPU, which noise moves less), and the median
    of each part per run."""
    lines = []
    for run in ("demo", "shape"):
        lines += [
            f"ratio {run} / one-asset over {len(rounds)} rounds:",
            f"  wall: {spread([ratio(r, 'wall', run) for r in rounds])}",
            f"  CPU:  {spread([ratio(r, 'cpu', run) for r in rounds])}",
        ]
    lines += [
        f"{'medians':<10} {'wall s':>7} {'CPU s':>7} {'start-up s':>11} {'steps s':>8} "
        f"{'run-steps s':>12} {'exit s':>7}",
    ]
    for name in RUNS:
        parts = [median_of(rounds, name, p) for p in ("wall", "cpu", "startup", "steps")]
        rest = [median_of(rounds, name, p) for p in ("in_run", "teardown")]
        lines.append(
            f"{name:<10} {parts[0]:>7} {parts[1]:>7} {parts[2]:>11} {parts[3]:>8} "
            f"{rest[0]:>12} {rest[1]:>7}"
        )
    return "\n".join(lines)


def failures(results: dict[str, RunFigures]) -> list[str]:
    """A short account of each failed run of a round."""
    found = []
    for r in results.values():
        if r.rc != 0:
            tail = r.stderr.read_text(errors="replace").splitlines()[-15:] if r.stderr else []
            found.append(f"{r.name} failed (exit {r.rc}):\n" + "\n".join(tail))
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds of both runs (default 5)")
    ap.add_argument("--keep", action="store_true", help="keep the runs' folders and logs")
    ap.add_argument(
        "--dagster-yaml",
        type=Path,
        default=INSTANCE_YAML,
        help="instance settings of both runs (default scripts/dagster.yaml)",
    )
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="demobench-"))
    projects = {
        "one-asset": write_one_asset_project(root / "one_asset_project"),
        "shape": write_shape_project(root / "shape_project"),
    }
    print(
        f"python {sys.version.split()[0]} ({sys.executable}), {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}; instance settings {args.dagster_yaml}; runs in {root}",
        flush=True,
    )
    rounds: list[dict[str, RunFigures]] = []
    failed: list[str] = []
    try:
        for number in range(1, args.rounds + 1):
            results = one_round(number, root, projects, args.dagster_yaml)
            rounds.append(results)
            print(round_table(number, results) + "\n", flush=True)
            failed += failures(results)
        print(summary(rounds))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    for failure in failed:
        print(failure, file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
