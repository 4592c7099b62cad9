"""Fault injection: materialize the whole graph again and again on a copy of the demo data while
killing runs and appending bad rows, and check that the warehouse always ends where a clean run
on the same inputs would.

Each of the N rounds:

1. appends 0-3 random bad rows to random landing files (a row with too many or too few cells,
   a row without its key, a row with a value that does not parse, an old duplicate of a row);
   every such row must be quarantined, so the expectation is recorded as: the profile.* and
   audience.* tables as on the clean inputs, every raw table with the clean row count, and
   raw.quarantine holding exactly the bad rows still in the files;
2. runs `dagster asset materialize -m b2b_assets.definitions --select '*'` and, at random,
   SIGKILLs it after a random delay; after a kill the warehouse must still open, and
   `python -m b2b_assets.recover` marks the dead run failed and frees the `duckdb` pool slot
   it held in the shared Dagster instance (else the next run would wait for it forever);
3. at random removes this round's bad rows again (or keeps them for the next rounds);
4. when the run was killed or the inputs changed, runs the graph once more, cleanly;
5. compares the warehouse with the recorded expectation.

It prints what it did and the counts: runs, kills, recovered runs, bad-row cases, mismatches;
it exits 1 on any mismatch. The baseline is a clean run on a fresh warehouse over the unmodified demo data.

    .venv/bin/python scripts/fault_injection.py [-n 5] [--seed 7] [--workdir DIR]
        [--instance-per-run]

By default all runs share one DAGSTER_HOME holding the project's dagster.yaml, as README.md sets
it up, and the recovery command runs on it after every kill; a run that still stops making
progress for STALL_SECONDS is killed and reported as stalled.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from b2b_assets.settings import INSTANCE_YAML  # noqa: E402
from b2b_assets.sources.catalog import OBJECTS_BY_TYPE, ObjectSpec, normalize_column_name  # noqa: E402
from benchmarks.bench import materialize_command  # noqa: E402

DEMO = REPO_ROOT / "data"
AS_OF = "2026-11-15T00:00:00Z"
VOLATILE = {"_loaded_at", "loaded_at", "run_id", "delivered_at", "logged_at", "changed_at"}
RUN_TIMEOUT = 600
STALL_SECONDS = 120
BAD_KINDS = ("too_many_cells", "too_few_cells", "missing_key", "unparsable_value", "old_duplicate")


# --------------------------------------------------------------------------------------------
# Warehouse state
# --------------------------------------------------------------------------------------------


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, list | tuple):
        return tuple(_normal(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normal(v)) for k, v in value.items()))
    return value


@dataclass
class State:
    """What is compared: profile.* and audience.* contents, raw row counts, quarantine size."""

    contents: dict[str, list[tuple]]
    raw_counts: dict[str, int]
    quarantined: list[str]  # the reasons of raw.quarantine's rows

    def differences(self, want: State, reasons: list[str]) -> list[str]:
        """What differs from `want`; `reasons`: a fragment of each quarantined row's reason."""
        problems = []
        for name in sorted(set(self.contents) | set(want.contents)):
            if self.contents.get(name) != want.contents.get(name):
                problems.append(f"{name} differs")
        for name in sorted(set(self.raw_counts) | set(want.raw_counts)):
            if self.raw_counts.get(name) != want.raw_counts.get(name):
                problems.append(
                    f"{name}: {self.raw_counts.get(name)} rows, expected {want.raw_counts.get(name)}"
                )
        unmatched = list(self.quarantined)
        for fragment in reasons:
            match = next((r for r in unmatched if fragment in r), None)
            if match is None:
                problems.append(f"raw.quarantine: no row quarantined for {fragment!r}")
            else:
                unmatched.remove(match)
        if unmatched:
            problems.append(f"raw.quarantine: unexpected rows {unmatched}")
        return problems


def read_state(warehouse: Path) -> State:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            """SELECT schema_name, table_name, list(column_name ORDER BY column_index)
               FROM duckdb_columns()
               WHERE schema_name IN ('raw', 'profile', 'audience')
                 AND database_name = current_database()
               GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
        contents: dict[str, list[tuple]] = {}
        raw_counts: dict[str, int] = {}
        quarantined: list[str] = []
        for schema, table, columns in tables:
            name = f'{schema}."{table}"'
            if schema == "raw":
                if table == "quarantine":
                    quarantined = [
                        r[0] for r in con.execute(f"SELECT reason FROM {name}").fetchall()
                    ]
                else:
                    (count,) = con.execute(f"SELECT count(*) FROM {name}").fetchone()
                    raw_counts[f"raw.{table}"] = count
                continue
            kept = ", ".join(f'"{c}"' for c in columns if c not in VOLATILE)
            rows = con.execute(f"SELECT {kept} FROM {name}").fetchall()
            contents[f"{schema}.{table}"] = sorted((_normal(r) for r in rows), key=repr)
        return State(contents, raw_counts, quarantined)
    finally:
        con.close()


def opens(warehouse: Path) -> str | None:
    """None if the warehouse opens read-write (replaying its WAL), else the error."""
    try:
        con = duckdb.connect(str(warehouse))
        con.execute("CHECKPOINT")
        con.close()
    except duckdb.Error as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


@dataclass
class Runner:
    """Starts the CLI runs. `shared_instance`: every run uses one DAGSTER_HOME with the
    project's dagster.yaml (as README.md tells users to); otherwise each run gets a fresh one."""

    data: Path
    warehouse: Path
    homes: Path
    outbox: Path
    shared_instance: bool = True
    processes: int = 0
    last_line: str = ""

    def home(self) -> Path:
        home = self.homes / ("shared" if self.shared_instance else f"run-{self.processes:03d}")
        if not home.exists():
            home.mkdir(parents=True)
            shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
        return home

    def log_path(self) -> Path:
        return self.homes / f"run-{self.processes:03d}.log"

    def recover(self) -> tuple[int, str | None]:
        """Run `python -m b2b_assets.recover` on the instance of the last run: how many runs it
        recovered (marked failed, slots freed), and its output if it failed."""
        env = {**os.environ, "DAGSTER_HOME": str(self.home())}
        done = subprocess.run(
            [sys.executable, "-m", "b2b_assets.recover"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        if done.returncode != 0:
            return 0, (done.stdout + done.stderr).strip()[-2000:]
        return sum("-> FAILURE" in line for line in done.stdout.splitlines()), None

    def run(self, kill_after: float | None = None) -> tuple[str, float]:
        """Materialize everything: 'ok', 'failed', 'killed' (SIGKILL after `kill_after`
        seconds), 'stalled' (no step started or finished for STALL_SECONDS) or 'timed out'."""
        self.processes += 1
        env = {
            **os.environ,
            "B2B_DATA_DIR": str(self.data),
            "B2B_WAREHOUSE": str(self.warehouse),
            "B2B_AS_OF": AS_OF,
            "B2B_OUTBOX": str(self.outbox),
            "DAGSTER_HOME": str(self.home()),
        }
        started = last_progress = time.monotonic()
        log_path = self.log_path()
        with log_path.open("w") as log:
            process = subprocess.Popen(
                materialize_command("*"),
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            outcome = None
            steps = 0
            try:
                while outcome is None:
                    code = process.poll()
                    now = time.monotonic()
                    if code is not None:
                        outcome = "ok" if code == 0 else "failed"
                        break
                    text = log_path.read_text(errors="replace")
                    progress = text.count("STEP_START") + text.count("STEP_SUCCESS")
                    if progress != steps:
                        steps, last_progress = progress, now
                    if kill_after is not None and now - started >= kill_after:
                        outcome = "killed"
                    elif now - last_progress > STALL_SECONDS:
                        outcome = "stalled"
                    elif now - started > RUN_TIMEOUT:
                        outcome = "timed out"
                    else:
                        time.sleep(0.2)
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        lines = log_path.read_text(errors="replace").strip().splitlines()
        self.last_line = lines[-1].split(" - ", 6)[-1] if lines else ""
        return outcome or "failed", time.monotonic() - started


# --------------------------------------------------------------------------------------------
# Bad rows
# --------------------------------------------------------------------------------------------


def spec_of(path: Path, data: Path) -> ObjectSpec:
    source_type = {"crm": "salesforce", "marketo": "marketo", "mdm": "mdm"}
    instance = path.parent.name
    kind = next(v for k, v in source_type.items() if instance.startswith(k))
    return next(s for s in OBJECTS_BY_TYPE[kind] if s.name.lower() == path.stem.lower())


def to_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


@dataclass
class LandingFile:
    path: Path
    spec: ObjectSpec
    original: bytes
    header: list[str]
    rows: list[list[str]]
    kept: list[str] = field(default_factory=list)  # bad lines kept from earlier rounds

    @classmethod
    def read(cls, path: Path, data: Path) -> LandingFile:
        original = path.read_bytes()
        table = list(csv.reader(io.StringIO(original.decode("utf-8-sig"))))
        return cls(path, spec_of(path, data), original, table[0], table[1:])

    def position(self, name: str) -> int | None:
        wanted = normalize_column_name(name)
        return next(
            (i for i, h in enumerate(self.header) if normalize_column_name(h) == wanted), None
        )

    def write(self, extra: list[str]) -> None:
        body = self.original if self.original.endswith(b"\n") else self.original + b"\n"
        self.path.write_bytes(body + "".join(self.kept + extra).encode("utf-8"))

    def bad_line(self, kind: str, rng: random.Random, serial: int) -> tuple[str, str] | None:
        """A line that must be quarantined, and the reason it must get (None: not applicable)."""
        width = len(self.header)
        keys = [self.position(k) for k in self.spec.key]
        if kind == "too_many_cells":
            return to_line(["fault"] * (width + 2)), "malformed row: too many columns"
        if kind == "too_few_cells" and width > 2:
            return to_line(["fault"] * (width - 2)), "malformed row: missing columns"
        if kind == "missing_key" and self.rows:
            row = list(rng.choice(self.rows))
            for index in keys:
                if index is not None:
                    row[index] = ""
            return to_line(row), "missing key"
        if kind == "unparsable_value" and self.rows:
            typed = [
                c
                for c in self.spec.columns
                if c.kind in ("bool", "timestamp", "date", "double", "int")
                and self.position(c.name) is not None
                and c.name not in self.spec.key
            ]
            if not typed:
                return None
            row = list(rng.choice(self.rows))
            for index in keys:
                if index is not None:
                    row[index] = f"FAULT{serial:010d}"  # a key no other row has
            column = rng.choice(typed)
            row[self.position(column.name)] = rng.choice(["not-a-value", "12abc", "2026-02-30"])
            return to_line(row), f"{column.name}: not"
        if kind == "old_duplicate" and self.spec.updated_at:
            updated = self.position(self.spec.updated_at)
            dated = [r for r in self.rows if updated is not None and r[updated].strip()]
            if not dated:
                return None
            row = list(rng.choice(dated))
            row[updated] = "1999-01-01T00:00:00Z"
            return to_line(row), "duplicate key"
        return None


# --------------------------------------------------------------------------------------------
# Main loop
# --------------------------------------------------------------------------------------------


def copy_demo(target: Path) -> None:
    shutil.copytree(
        DEMO,
        target,
        ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.*", "*.wal", "outbox", "*.tmp"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep everything here")
    parser.add_argument(
        "--instance-per-run",
        action="store_true",
        help="give every run a fresh DAGSTER_HOME (default: one shared instance, as README.md "
        "sets it up), to check the warehouse alone",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so a started run is killed too
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fault_injection_"))
    workdir.mkdir(parents=True, exist_ok=True)
    shared = not args.instance_per_run
    print(
        f"seed {seed}, work folder {workdir}, "
        f"{'one shared Dagster instance' if shared else 'a fresh Dagster instance per run'}",
        flush=True,
    )

    data = workdir / "data"
    copy_demo(data)
    homes = workdir / "dagster"
    baseline = Runner(data, workdir / "baseline.duckdb", homes, workdir / "baseline_outbox", shared)
    outcome, seconds = baseline.run()
    if outcome != "ok":
        print(f"the baseline run {outcome}: {baseline.last_line} ({baseline.log_path()})")
        return 2
    clean = read_state(baseline.warehouse)
    if clean.quarantined:
        print(f"the demo data quarantines rows already: {clean.quarantined}", flush=True)
        return 2
    print(f"baseline: a clean run on a fresh warehouse, {seconds:.0f}s", flush=True)

    runner = Runner(data, workdir / "warehouse.duckdb", homes, workdir / "outbox", shared)
    runner.processes = baseline.processes
    files = [LandingFile.read(path, data) for path in sorted((data / "landing").glob("*/*.csv"))]
    by_path = {f.path: f for f in files}
    rounds = kills = recovered = bad_cases = mismatches = 0
    kept_reasons: list[str] = []  # the reasons the bad rows still in the files must get
    for round_ in range(1, args.runs + 1):
        rounds += 1
        appended: dict[Path, list[str]] = {}
        reasons: list[str] = []
        notes = []
        for serial in range(rng.randint(0, 3)):
            for _ in range(20):  # draw until the kind applies to the file
                target = rng.choice(files)
                bad = target.bad_line(rng.choice(BAD_KINDS), rng, round_ * 10 + serial)
                if bad:
                    break
            else:
                continue
            line, reason = bad
            appended.setdefault(target.path, []).append(line)
            reasons.append(reason)
            bad_cases += 1
            notes.append(f"{target.path.parent.name}/{target.path.name} ({reason})")
        for path, lines in appended.items():
            by_path[path].write(lines)

        kill_after = rng.uniform(2.0, seconds) if rng.random() < 0.5 else None
        outcome, took = runner.run(kill_after)
        problems: list[str] = []
        notes_after: list[str] = []
        if outcome == "killed":
            kills += 1
            error = opens(runner.warehouse)
            if error:
                problems.append(f"the warehouse does not open after the kill: {error}")
            if shared:
                count, failure = runner.recover()
                recovered += count
                notes_after.append(f"{count} dead run(s) recovered")
                if failure:
                    problems.append(f"python -m b2b_assets.recover failed: {failure}")
        elif outcome != "ok":
            problems.append(f"the run {outcome}: {runner.last_line} ({runner.log_path()})")

        keep = rng.random() < 0.5
        for path, lines in appended.items():
            if keep:
                by_path[path].kept.extend(lines)
            by_path[path].write([])
        if keep:
            kept_reasons.extend(reasons)
        rerun = outcome == "killed" or bool(appended and not keep)
        if rerun and not problems:
            again, _ = runner.run()
            if again != "ok":
                problems.append(
                    f"the clean run after it {again}: {runner.last_line} ({runner.log_path()})"
                )
        if not problems:
            problems = read_state(runner.warehouse).differences(clean, kept_reasons)
        mismatches += bool(problems)
        bad_rows = f"{len(notes)} bad row(s)" + (
            f" {'kept' if keep else 'removed after the run'}: {', '.join(notes)}" if notes else ""
        )
        run = f"run {outcome}" + (f" after {kill_after:.1f}s" if outcome == "killed" else "")
        run += "".join(f", {note}" for note in notes_after)
        print(
            f"round {round_}: {bad_rows}; {run} ({took:.0f}s)"
            f"{'; clean rerun' if rerun else ''}; "
            + ("MISMATCH: " + "; ".join(problems) if problems else "warehouse as expected"),
            flush=True,
        )
        if shared and any(" stalled" in p for p in problems):
            print("stopping: every later run of this Dagster instance would stall the same way")
            break

    print(
        f"runs: {rounds}, kills: {kills}, recovered: {recovered}, bad-row cases: {bad_cases}, "
        f"mismatches: {mismatches} "
        f"(processes started: {runner.processes}, seed {seed})",
        flush=True,
    )
    if not args.workdir and not mismatches:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
