"""Benchmark the platform against the hand-written DuckDB floor and plain pandas.

    python -m benchmarks.bench --scale S [--data DIR] [--seed N] [--format csv|parquet]
                               [--skip-pandas] [--lower-bounds] [--keep] [--markdown FILE]

1. Generates a synthetic environment (`python -m benchmarks.synth`) in a cache folder (default
   /tmp/b2b_bench/scale-<S>), unless the folder already holds a matching expected.json.
2. Measures, each as its own subprocess, wall time and peak memory of
   - the platform, run as users run it: `dagster asset materialize -m b2b_assets.definitions
     --select '*'` on a fresh warehouse with a temporary DAGSTER_HOME (the repository's
     dagster.yaml), Dagster's start-up included;
   - the floor, `benchmarks/floor.py`;
   - pandas, `benchmarks/pandas_audience.py` (unless --skip-pandas).
   Peak memory: with psutil importable, the largest sum of RSS over the process tree (polled);
   otherwise `getrusage(RUSAGE_CHILDREN).ru_maxrss` of a small wrapper process, i.e. the
   peak RSS of the largest process of the tree (the platform uses the in-process executor, so
   that is the whole run).
   With --lower-bounds, also two costs no run of this graph on this machine can go below:
   - `benchmarks/raw_copy.py`: the landing files copied into a DuckDB file as they are (the
     cheapest persisted raw layer: no typing, row numbers, quarantine, checks or Dagster);
   - the same `dagster asset materialize` on the repository's demo data (`data/`, a few rows
     per object): the fixed cost of Dagster's start-up and of the graph's steps.
3. Reads the per-asset breakdown from the run's events (STEP_START / STEP_SUCCESS and the
   `build_seconds` / `validation_seconds` materialization metadata) in that DAGSTER_HOME.
4. Reads the platform's audience (read-only) and checks that all audiences are identical and
   equal to expected.json's `seed_audience`; exits 1 if not (2 if a measured command failed).

Prints a table, the ratios platform/floor and pandas/platform, the machine, the per-asset
breakdown, and a Markdown block for the README (to stdout, or to --markdown FILE).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from b2b_assets.settings import INSTANCE_YAML, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_ROOT = Path("/tmp/b2b_bench")
BENCHMARKS = REPO_ROOT / "benchmarks"
DEMO_DATA = REPO_ROOT / "data"
DEMO_AS_OF = "2026-11-15T00:00:00Z"
TOP_ASSETS_IN_MARKDOWN = 10

# The wrapper every measurement runs in: it runs the command, waits, and reports wall time and
# the peak memory of its children. Its own start-up is not part of the wall time.
MEASURE = r"""
import json, resource, subprocess, sys, time
out, stdout_path, stderr_path, cwd, *cmd = sys.argv[1:]
try:
    import psutil
except ImportError:
    psutil = None
start_epoch = time.time()
t0 = time.perf_counter()
tree_peak = 0
with open(stdout_path, "wb") as so, open(stderr_path, "wb") as se:
    proc = subprocess.Popen(cmd, stdout=so, stderr=se, cwd=cwd)
    if psutil is None:
        rc = proc.wait()
    else:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            total = 0
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            tree_peak = max(tree_peak, total)
            time.sleep(0.05)
        rc = proc.returncode
wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as h:
    json.dump({
        "rc": rc, "wall": wall, "start_epoch": start_epoch,
        "maxrss_kib": usage.ru_maxrss, "tree_peak_bytes": tree_peak,
        "user": usage.ru_utime, "sys": usage.ru_stime,
        "method": "psutil" if psutil is not None else "getrusage",
    }, h)
"""


@dataclass
class Measurement:
    name: str
    command: str
    rc: int = -1
    wall: float = float("nan")
    cpu: float = float("nan")
    peak_mib: float = float("nan")
    method: str = ""
    start_epoch: float = 0.0
    stdout: Path | None = None
    stderr: Path | None = None
    audience: list[str] | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0


def measure(
    name: str,
    cmd: list[str],
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path = REPO_ROOT,
    shown: str | None = None,
) -> Measurement:
    """Run `cmd` in the wrapper process; stdout and stderr go to files in workdir."""
    out = workdir / f"{name}.measure.json"
    stdout, stderr = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
    wrapper = [sys.executable, "-c", MEASURE, str(out), str(stdout), str(stderr), str(cwd), *cmd]
    print(f"  running {name}: {shown or ' '.join(cmd)}", flush=True)
    subprocess.run(wrapper, env=env, check=True)
    data = json.loads(out.read_text())
    if data["method"] == "psutil":
        peak = data["tree_peak_bytes"] / 2**20
        method = "psutil: peak sum of RSS over the process tree"
    else:
        peak = data["maxrss_kib"] / 1024
        method = "getrusage(RUSAGE_CHILDREN).ru_maxrss: peak RSS of the largest process"
    m = Measurement(
        name=name,
        command=shown or " ".join(cmd),
        rc=data["rc"],
        wall=data["wall"],
        cpu=data["user"] + data["sys"],
        peak_mib=peak,
        method=method,
        start_epoch=data["start_epoch"],
        stdout=stdout,
        stderr=stderr,
    )
    print(f"    exit {m.rc}, {m.wall:.2f} s, peak {m.peak_mib:.0f} MiB", flush=True)
    return m


def tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ------------------------------------------------------------------------------ data
def cache_folder(scale: float, seed: int, fmt: str) -> Path:
    name = f"scale-{scale:g}"
    if seed != 1:
        name += f"-seed{seed}"
    if fmt != "csv":
        name += f"-{fmt}"
    return CACHE_ROOT / name


def matching_expected(data: Path, scale: float, seed: int, fmt: str) -> dict | None:
    path = data / "expected.json"
    if not path.is_file() or not (data / "landing").is_dir():
        return None
    try:
        expected = json.loads(path.read_text())
    except ValueError:
        return None
    same = (
        expected.get("generator") == "benchmarks.synth"
        and abs(float(expected.get("scale", -1)) - scale) < 1e-12
        and expected.get("seed") == seed
        and expected.get("format") == fmt
        and not expected.get("bad_rows_fraction")
    )
    return expected if same else None


def ensure_data(data: Path, scale: float, seed: int, fmt: str) -> tuple[dict, float | None]:
    """expected.json of the environment, generating it first if needed (and the time that took)."""
    expected = matching_expected(data, scale, seed, fmt)
    if expected is not None:
        print(f"data: reusing {data} (expected.json matches)", flush=True)
        return expected, None
    print(f"data: generating scale {scale:g} ({fmt}, seed {seed}) into {data}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.synth",
            "--scale",
            repr(scale),
            "--out",
            str(data),
            "--seed",
            str(seed),
            "--format",
            fmt,
            "--overwrite",
            "--quiet",
        ],
        cwd=REPO_ROOT,
        check=True,
    )
    took = time.perf_counter() - t0
    expected = matching_expected(data, scale, seed, fmt)
    if expected is None:
        raise SystemExit(f"{data}/expected.json does not match after generating")
    return expected, took


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------ machine
def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = cpus
    info["cpu"] = f"{cpus} × {model or platform.processor() or 'unknown CPU'}" + (
        f" ({usable} usable)" if usable != cpus else ""
    )
    mem = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, value = line.partition(":")
            mem[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if "MemTotal" in mem:
        info["memory"] = f"{mem['MemTotal'] / 2**30:.1f} GiB" + (
            f" ({mem['MemAvailable'] / 2**30:.1f} GiB available)" if "MemAvailable" in mem else ""
        )
    info["os"] = platform.platform()
    versions = [f"Python {platform.python_version()}"]
    for dist, label in (("duckdb", "DuckDB"), ("dagster", "Dagster"), ("pandas", "pandas")):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{label} {metadata.version(dist)}")
    info["versions"] = ", ".join(versions)
    return info


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# ------------------------------------------------------------------------------ platform run
def dagster_command() -> list[str]:
    exe = Path(sys.executable).parent / "dagster"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("dagster")
    if found:
        return [found]
    return [sys.executable, "-m", "dagster"]


def materialize_command(select: str) -> list[str]:
    """`dagster asset materialize` of the project's definitions, for an asset selection."""
    return [
        *dagster_command(),
        "asset",
        "materialize",
        "-m",
        "b2b_assets.definitions",
        "--select",
        select,
    ]


def run_environment(data: Path, as_of: str, run_dir: Path) -> tuple[dict[str, str], Path, Path]:
    """The environment of runs on `data` with their own DAGSTER_HOME (the repository's
    dagster.yaml), warehouse and outbox in `run_dir`; also returns the home and the warehouse."""
    home = run_dir / "dagster_home"
    home.mkdir()
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    warehouse = run_dir / "warehouse.duckdb"
    env = {
        **os.environ,
        "B2B_DATA_DIR": str(data),
        "B2B_WAREHOUSE": str(warehouse),
        "B2B_AS_OF": as_of,
        "B2B_OUTBOX": str(run_dir / "outbox"),
        "DAGSTER_HOME": str(home),
    }
    return env, home, warehouse


SPARK_MASTER = "local[2]"


def spark_memory(duckdb_limit: str) -> str:
    """Spark's driver memory for DuckDB's memory limit (`4GB` -> `4g`), so that both engines
    have the same memory; `4g` when the limit is not in GB or MB."""
    match = re.fullmatch(r"\s*(\d+)\s*([GM])i?B\s*", duckdb_limit, re.IGNORECASE)
    return f"{match[1]}{match[2].lower()}" if match else "4g"


def run_platform(
    data: Path, as_of: str, run_dir: Path, engine: str = "duckdb"
) -> tuple[Measurement, Path, Path]:
    """The whole graph on `engine`; also its DAGSTER_HOME and where its audiences are (the
    DuckDB file, or Spark's warehouse folder). Spark gets the memory DuckDB is limited to."""
    run_dir.mkdir(parents=True, exist_ok=True)
    env, home, warehouse = run_environment(data, as_of, run_dir)
    shown = "dagster asset materialize -m b2b_assets.definitions --select '*'"
    name = "platform"
    if engine == "spark":
        warehouse = run_dir / "spark-warehouse"
        env |= {
            "B2B_ENGINE": "spark",
            "B2B_SPARK_MASTER": SPARK_MASTER,
            "B2B_SPARK_WAREHOUSE": str(warehouse),
            # local mode: the executors are threads of the driver, so this is Spark's memory
            "PYSPARK_SUBMIT_ARGS": (
                f"--driver-memory {spark_memory(load_settings().memory_limit)} pyspark-shell"
            ),
        }
        shown = f"B2B_ENGINE=spark B2B_SPARK_MASTER={SPARK_MASTER} {shown}"
        name = "spark"
    measured = measure(name, materialize_command("*"), run_dir, env=env, shown=shown)
    return measured, home, warehouse


def run_lower_bounds(data: Path, run_dir: Path) -> tuple[Measurement, Measurement, Path]:
    """The raw copy of `data` and the whole graph on the demo data; also the demo's home."""
    copy = measure(
        "raw_copy",
        [sys.executable, str(BENCHMARKS / "raw_copy.py"), str(data), str(run_dir / "copy.duckdb")],
        run_dir,
        shown="python benchmarks/raw_copy.py DATA",
    )
    demo_dir = run_dir / "demo"
    demo_dir.mkdir()
    env, home, _ = run_environment(DEMO_DATA, DEMO_AS_OF, demo_dir)
    graph = measure(
        "demo_graph",
        materialize_command("*"),
        run_dir,
        env=env,
        shown="dagster asset materialize -m b2b_assets.definitions --select '*' on data/",
    )
    return copy, graph, home


def lower_bound_lines(copy: Measurement, graph: Measurement, steps: int, floor: float) -> list[str]:
    """What the two lower bounds are, against the floor."""
    both = copy.wall + graph.wall
    return [
        f"raw copy (benchmarks/raw_copy.py): {copy.wall:.2f} s = {ratio(copy.wall, floor)} "
        "the floor",
        f"the graph on the demo data ({steps} steps): {graph.wall:.2f} s = "
        f"{ratio(graph.wall, floor)} the floor",
        f"together: {both:.2f} s = {ratio(both, floor)} the floor, before any typing, "
        "checking, modelling, identity or profiles",
    ]


@dataclass
class Step:
    key: str
    seconds: float
    assets: list[str]
    build: float | None
    validation: float | None
    status: str


def step_label(step: Step, limit: int = 3) -> str:
    names = step.assets or [step.key]
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _number(value) -> float | None:
    value = getattr(value, "value", value)
    return float(value) if isinstance(value, int | float) else None


def run_breakdown(home: Path) -> dict:
    """Steps of the (only) run in DAGSTER_HOME, from its event log."""
    from dagster import DagsterEventType, DagsterInstance

    wanted = {
        DagsterEventType.RUN_START,
        DagsterEventType.RUN_SUCCESS,
        DagsterEventType.RUN_FAILURE,
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return {"steps": [], "run_start": None, "run_end": None, "status": "no run"}
        run = runs[0]
        records = instance.all_logs(run.run_id, of_type=wanted)
        status = run.status.value
    starts: dict[str, float] = {}
    ends: dict[str, tuple[float, str]] = {}
    assets: dict[str, list[str]] = {}
    checks: dict[str, list[str]] = {}
    build: dict[str, float] = {}
    validation: dict[str, float] = {}
    asset_seconds: dict[str, float] = {}  # asset -> its build and check (a step builds several)
    run_start = run_end = None
    for entry in records:
        kind = entry.dagster_event.event_type
        step = entry.step_key
        if kind == DagsterEventType.RUN_START:
            run_start = entry.timestamp
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            run_end = entry.timestamp
        elif kind == DagsterEventType.STEP_START:
            starts[step] = entry.timestamp
        elif kind == DagsterEventType.STEP_SUCCESS:
            ends[step] = (entry.timestamp, "ok")
        elif kind == DagsterEventType.STEP_FAILURE:
            ends[step] = (entry.timestamp, "FAILED")
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = entry.dagster_event.event_specific_data
            asset = getattr(getattr(evaluation, "asset_key", None), "to_user_string", None)
            name = getattr(evaluation, "check_name", None)
            if asset is not None and name:
                checks.setdefault(step, []).append(f"check {asset()}:{name}")
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            mat = entry.asset_materialization
            if mat is None:
                continue
            assets.setdefault(step, []).append(mat.asset_key.to_user_string())
            b = _number(mat.metadata.get("build_seconds"))
            v = _number(mat.metadata.get("validation_seconds"))
            # A raw asset's files are read before its build, two at a time, in a pool its step
            # shares: counted for the asset (the seconds its files took), not for the step.
            r = _number(mat.metadata.get("read_seconds")) or 0.0
            if b is not None:
                build[step] = build.get(step, 0.0) + b
            if v is not None:
                validation[step] = validation.get(step, 0.0) + v
            asset_seconds[mat.asset_key.to_user_string()] = (b or 0.0) + (v or 0.0) + r
    steps = []
    for key, started in starts.items():
        ended, st = ends.get(key, (None, "not finished"))
        steps.append(
            Step(
                key=key,
                seconds=(ended - started) if ended is not None else float("nan"),
                assets=assets.get(key) or checks.get(key, []),
                build=build.get(key),
                validation=validation.get(key),
                status=st,
            )
        )
    steps.sort(key=lambda s: -(s.seconds if s.seconds == s.seconds else -1))
    return {
        "steps": steps,
        "assets": asset_seconds,
        "run_start": run_start,
        "run_end": run_end,
        "status": status,
    }


def _breakdown_or_error(home: Path) -> dict:
    try:
        return run_breakdown(home)
    except Exception as exc:  # the breakdown is informative only
        return {"steps": [], "run_start": None, "run_end": None, "status": f"error: {exc}"}


def step_lines(steps: list[Step]) -> list[str]:
    """The report's lines for a run's steps: time, build and check seconds, assets, status."""
    lines = [f"  {'step s':>8} {'build s':>8} {'check s':>8}  asset"]
    for s in steps:
        b = f"{s.build:.2f}" if s.build is not None else "-"
        v = f"{s.validation:.2f}" if s.validation is not None else "-"
        flag = "" if s.status == "ok" else f"  [{s.status}]"
        lines.append(f"  {s.seconds:8.2f} {b:>8} {v:>8}  {step_label(s)}{flag}")
    return lines


def slowest_tables(breakdown: dict, count: int = 15) -> list[str]:
    """The report's lines for the `count` slowest tables of a run's breakdown."""
    slowest = sorted(breakdown.get("assets", {}).items(), key=lambda kv: -kv[1])[:count]
    if not slowest:
        return []
    return [
        "  slowest tables (read, build and check, s):",
        *(f"  {seconds:8.2f}  {asset}" for asset, seconds in slowest),
    ]


def platform_audience(warehouse: Path, segment: str) -> list[str]:
    """The audience's emails, from the DuckDB file or (a folder) Spark's Parquet table."""
    import duckdb

    if warehouse.is_dir():
        files = warehouse / "audience.db" / segment / "*.parquet"
        with duckdb.connect() as con:
            rows = con.execute(
                "SELECT DISTINCT email FROM read_parquet($files) WHERE email IS NOT NULL "
                "ORDER BY 1",
                {"files": str(files)},
            ).fetchall()
        return [r[0] for r in rows]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            f'SELECT DISTINCT email FROM audience."{segment}" WHERE email IS NOT NULL ORDER BY 1'
        ).fetchall()
    return [r[0] for r in rows]


def lines_of(path: Path | None) -> list[str]:
    if path is None or not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------------ report
def fmt_mib(x: float) -> str:
    return f"{x:,.0f}" if x == x else "n/a"


def ratio(a: float, b: float) -> str:
    if not (a == a and b == b) or b <= 0:
        return "n/a"
    r = a / b
    return f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def audience_check(expected: list[str], got: list[str] | None) -> str:
    if got is None:
        return "not run"
    if got == expected:
        return "= expected"
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if extra:
        parts.append(f"{len(extra)} extra (e.g. {', '.join(extra[:3])})")
    if not parts:
        parts.append(f"{len(got)} emails, duplicates or order differ")
    return "DIFFERS: " + "; ".join(parts)


def data_summary(expected: dict, data: Path) -> str:
    counts = expected.get("row_counts", {})
    total = sum(counts.values())
    acts = sum(v for k, v in counts.items() if k.endswith("/activities"))
    return (
        f"{expected.get('companies', 0):,} companies, {expected.get('people_with_email', 0):,} "
        f"people with email, {acts:,} activities, {total:,} rows in {len(counts)} objects, "
        f"{folder_bytes(data / 'landing') / 2**20:,.0f} MiB of {expected.get('format')}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Benchmark the platform (dagster CLI) against the DuckDB floor and pandas.",
    )
    ap.add_argument("--scale", type=float, required=True, help="synthetic scale (1 = full size)")
    ap.add_argument(
        "--data", type=Path, default=None, help="environment folder (default /tmp/b2b_bench/...)"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ap.add_argument("--skip-pandas", action="store_true", help="do not run the pandas baseline")
    ap.add_argument(
        "--lower-bounds",
        action="store_true",
        help="also measure the raw copy and the graph on the demo data (see above)",
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the run folder (warehouse, DAGSTER_HOME, logs)"
    )
    ap.add_argument("--markdown", type=Path, default=None, help="write the Markdown block here")
    ap.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help=f"spark: also run the graph with B2B_ENGINE=spark on {SPARK_MASTER}",
    )
    args = ap.parse_args(argv)
    if args.scale <= 0:
        ap.error("--scale must be positive")

    data = (args.data or cache_folder(args.scale, args.seed, args.format)).resolve()
    expected, generated_in = ensure_data(data, args.scale, args.seed, args.format)
    seed_audience = sorted(expected["seed_audience"])
    segment = expected.get("seed_segment", "new_product_upsell")
    as_of = expected["as_of"]

    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=CACHE_ROOT))
    load_before = loadavg()
    memory_limit = load_settings().memory_limit  # the platform's, from B2B_MEMORY_LIMIT
    info = machine()
    print(f"run folder: {run_dir}; load average before: {load_before}", flush=True)

    # --- the measurements, one subprocess each
    plat, home, warehouse = run_platform(data, as_of, run_dir)
    spark = spark_warehouse = spark_home = None
    if args.engine == "spark":
        spark, spark_home, spark_warehouse = run_platform(data, as_of, run_dir / "spark", "spark")
    floor = measure(
        "floor",
        [sys.executable, str(BENCHMARKS / "floor.py"), str(data), "--as-of", as_of],
        run_dir,
        shown="python benchmarks/floor.py DATA",
    )
    pand = None
    if not args.skip_pandas:
        pand = measure(
            "pandas",
            [sys.executable, str(BENCHMARKS / "pandas_audience.py"), str(data), "--as-of", as_of],
            run_dir,
            shown="python benchmarks/pandas_audience.py DATA",
        )
    bounds = run_lower_bounds(data, run_dir) if args.lower_bounds else None
    load_after = loadavg()

    # --- audiences
    failed = [m for m in (plat, spark, floor, pand) if m is not None and not m.ok]
    bound_lines: list[str] = []
    if bounds is not None:
        copy, graph, demo_home = bounds
        failed.extend(m for m in (copy, graph) if not m.ok)
        if copy.ok and graph.ok:
            demo_steps = len(_breakdown_or_error(demo_home)["steps"])
            bound_lines = lower_bound_lines(copy, graph, demo_steps, floor.wall)
    if plat.ok:
        try:
            plat.audience = platform_audience(warehouse, segment)
        except Exception as exc:  # reported, then exit non-zero
            plat.note = f"cannot read audience.{segment}: {exc}"
            failed.append(plat)
    if spark is not None and spark.ok and spark_warehouse is not None:
        spark.audience = platform_audience(spark_warehouse, segment)
    for m in (floor, pand):
        if m is not None and m.ok:
            m.audience = lines_of(m.stdout)

    # --- per-asset breakdown
    breakdown = _breakdown_or_error(home)
    steps: list[Step] = breakdown["steps"]
    step_total = sum(s.seconds for s in steps if s.seconds == s.seconds)
    startup = (
        breakdown["run_start"] - plat.start_epoch if breakdown["run_start"] is not None else None
    )

    measured = [m for m in (plat, spark, floor, pand) if m is not None]
    checks = {m.name: audience_check(seed_audience, m.audience) for m in measured}
    identical = all(m.audience == seed_audience for m in measured)

    # --- text report
    out = []
    out.append("")
    out.append(f"== bench of b2b_assets: scale {args.scale:g}, {args.format}, seed {args.seed} ==")
    out.append(f"data: {data}" + (f" (generated in {generated_in:.1f} s)" if generated_in else ""))
    out.append(f"      {data_summary(expected, data)}")
    out.append(f"machine: {info['cpu']}; {info.get('memory', 'memory n/a')}")
    out.append(f"         {info['os']}; {info['versions']}")
    out.append(f"load average: before {load_before}, after {load_after}")
    out.append(f"peak memory: {plat.method}")
    out.append(
        f"platform's DuckDB memory limit: {memory_limit} (B2B_MEMORY_LIMIT)"
        + (f"; Spark's driver memory {spark_memory(memory_limit)}" if spark else "")
    )
    out.append("")
    out.append(f"{'':10} {'wall s':>9} {'cpu s':>9} {'peak MiB':>9} {'emails':>7}  audience")
    for m in measured:
        n = len(m.audience) if m.audience is not None else "-"
        state = checks[m.name] if m.ok else f"FAILED (exit {m.rc})"
        out.append(
            f"{m.name:10} {m.wall:9.2f} {m.cpu:9.2f} {fmt_mib(m.peak_mib):>9} {n!s:>7}  {state}"
        )
    out.append(f"{'expected':10} {'':9} {'':9} {'':9} {len(seed_audience):>7}  seed_audience")
    out.append("")
    out.append(
        f"ratio platform/floor: wall {ratio(plat.wall, floor.wall)}, "
        f"peak memory {ratio(plat.peak_mib, floor.peak_mib)}"
    )
    if spark is not None:
        out.append(
            f"ratio spark/platform: wall {ratio(spark.wall, plat.wall)}; "
            f"spark/floor: wall {ratio(spark.wall, floor.wall)} (spark's peak memory is its "
            "Python process's: its JVM, given the driver memory above, is not counted)"
        )
    if pand is not None:
        out.append(
            f"ratio pandas/platform: wall {ratio(pand.wall, plat.wall)}, "
            f"peak memory {ratio(pand.peak_mib, plat.peak_mib)}"
        )
    out.append(
        "audiences: "
        + (
            f"all identical and equal to expected.json's seed_audience ({len(seed_audience)})"
            if identical
            else "DIFFER"
        )
    )
    if bound_lines:
        out.append("lower bounds of any run of this graph here:")
        out.extend(f"  {line}" for line in bound_lines)
    out.append("")
    out.append(
        f"platform breakdown (run {breakdown['status']}): {len(steps)} steps, "
        f"{step_total:.2f} s in steps"
        + (f", {startup:.2f} s from process start to RUN_START" if startup is not None else "")
        + f", {plat.wall - step_total - (startup or 0):.2f} s other"
    )
    out.extend(step_lines(steps))
    out.extend(slowest_tables(breakdown))
    if spark_home is not None:
        spark_breakdown = _breakdown_or_error(spark_home)
        spark_steps = spark_breakdown["steps"]
        out.append(
            f"spark breakdown (run {spark_breakdown['status']}): {len(spark_steps)} steps, "
            f"{sum(s.seconds for s in spark_steps if s.seconds == s.seconds):.2f} s in steps"
        )
        out.extend(step_lines(spark_steps))
        out.extend(slowest_tables(spark_breakdown))
    for m in failed:
        out.append("")
        out.append(f"--- {m.name} failed (exit {m.rc}) {m.note}; stderr tail:")
        out.append(tail(m.stderr))
    print("\n".join(out), flush=True)

    # --- markdown
    md = []
    md.append(f"### Benchmark: scale {args.scale:g} ({args.format}, seed {args.seed})")
    md.append("")
    md.append(f"Data: {data_summary(expected, data)}.  ")
    md.append(f"Machine: {info['cpu']}, {info.get('memory', 'memory n/a')}; {info['versions']}; ")
    md.append(f"load average before the run {load_before}; the platform's DuckDB memory limit ")
    md.append(f"{memory_limit} (`B2B_MEMORY_LIMIT`).")
    md.append("")
    md.append("| | wall (s) | CPU (s) | peak RSS (MiB) | audience |")
    md.append("|---|---:|---:|---:|---|")
    labels = {
        "platform": "platform: `dagster asset materialize --select '*'`",
        "spark": f"platform on Spark `{SPARK_MASTER}`: `B2B_ENGINE=spark ...`",
        "floor": "floor: `benchmarks/floor.py`",
        "pandas": "pandas: `benchmarks/pandas_audience.py`",
    }
    for m in measured:
        state = checks[m.name] if m.ok else f"failed (exit {m.rc})"
        n = len(m.audience) if m.audience is not None else 0
        md.append(
            f"| {labels[m.name]} | {m.wall:.2f} | {m.cpu:.2f} | {fmt_mib(m.peak_mib)} | "
            f"{n} {state.replace('= expected', '(= expected)')} |"
        )
    md.append("")
    line = f"platform / floor: **{ratio(plat.wall, floor.wall)}** wall time, "
    line += f"{ratio(plat.peak_mib, floor.peak_mib)} peak memory"
    if pand is not None:
        line += f"; pandas / platform: **{ratio(pand.wall, plat.wall)}** wall time, "
        line += f"{ratio(pand.peak_mib, plat.peak_mib)} peak memory"
    md.append(line + ".")
    md.append(
        "Wall times include interpreter and Dagster start-up"
        + (f" ({startup:.1f} s to the run's start)" if startup is not None else "")
        + f"; the platform's {len(steps)} steps take {step_total:.1f} s. Peak memory: "
        + (
            "peak RSS of the largest process (getrusage)."
            if plat.method.startswith("getrusage")
            else "peak RSS summed over the process tree (psutil)."
        )
    )
    if bound_lines:
        md.append("")
        md.append("Lower bounds of any run of this graph here (`--lower-bounds`):")
        md.append("")
        md.extend(f"- {line}" for line in bound_lines)
    if steps:
        md.append("")
        md.append(f"Slowest assets (of {len(steps)}):")
        md.append("")
        md.append("| asset | step (s) | build (s) | check (s) |")
        md.append("|---|---:|---:|---:|")
        for s in steps[:TOP_ASSETS_IN_MARKDOWN]:
            b = f"{s.build:.2f}" if s.build is not None else "-"
            v = f"{s.validation:.2f}" if s.validation is not None else "-"
            md.append(f"| `{step_label(s)}` | {s.seconds:.2f} | {b} | {v} |")
    markdown = "\n".join(md) + "\n"
    if args.markdown:
        args.markdown.write_text(markdown)
        print(f"\nmarkdown written to {args.markdown}")
    else:
        print("\n----- markdown -----\n" + markdown + "----- end markdown -----")

    if args.keep or failed or not identical:
        print(f"\nrun folder kept: {run_dir}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)

    if failed:
        return 2
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
