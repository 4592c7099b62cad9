"""Recover a Dagster instance from runs whose process died (SIGKILL, OOM, machine reboot).

A run executed by `dagster asset materialize` (or a run worker launched by `dagster dev`)
records the pid of its process in its RUN_START event. When that process is killed, the run
stays STARTED and keeps the `duckdb` pool slot of the step it was in; without a daemon (whose run
monitoring would eventually notice), every later run of the same DAGSTER_HOME waits for that
slot forever. This module finds such runs and

- marks them failed (a CANCELING run: canceled), and
- frees every pool slot and pending step they hold, and those of runs that already ended.

A run is only touched when its process is certainly gone on this machine: no process has its
pid, the process is a zombie, or the process with that pid started after the run did (the pid
was reused). Runs without a recorded pid (queued, starting) are left alone, so it is safe to
run at any time, also while other runs are in progress:

    DAGSTER_HOME=... python -m b2b_assets.recover [--dry-run]

The instance must be one used from this machine (the default SQLite storage of a DAGSTER_HOME):
Dagster does not record the host of a run, so a pid can only be checked here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import FINISHED_STATUSES, DagsterRunStatus, RunsFilter

# A process's start time (from /proc) is known to a clock tick, boot time to the second.
START_TOLERANCE_SECONDS = 2.0
ACTIVE = (DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)


@dataclass(frozen=True)
class Recovered:
    """What was done for one run."""

    run_id: str
    job_name: str
    pid: int | None
    previous_status: str
    new_status: str  # FAILURE, CANCELED, or the unchanged status of a run that had ended
    freed_slots: list[str]  # "<pool>:<step key>" of the slots and pending steps released

    def describe(self) -> str:
        process = f"process {self.pid} gone" if self.pid is not None else "run had ended"
        slots = ", ".join(self.freed_slots) or "none"
        return (
            f"run {self.run_id} ({self.job_name}, {process}): "
            f"{self.previous_status} -> {self.new_status}; slots: {slots}"
        )


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _proc_stat(pid: int) -> tuple[str, float | None] | None:
    """(state, start time as a Unix timestamp) of a process from /proc; None without /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return ("gone", None)
    except OSError:
        return None
    # Fields after the command name (which may hold spaces and parentheses): state is field 3,
    # starttime (clock ticks after boot) field 22.
    fields = text[text.rindex(")") + 2 :].split()
    state = fields[0]
    boot = _boot_time()
    if boot is None:
        return (state, None)
    return (state, boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"))


def process_alive(pid: int, run_started_at: float | None = None) -> bool:
    """Whether the process of a run that started at `run_started_at` (Unix time) still lives.

    False when no process has the pid, when it is a zombie, or when the process now holding the
    pid started after the run (the run's process died and the pid was reused)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a process of another user holds the pid
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    if state in ("gone", "Z", "X"):
        return False
    return not (
        started is not None
        and run_started_at is not None
        and started > run_started_at + START_TOLERANCE_SECONDS
    )


def run_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The pid of the process that executes a run, from its RUN_START event."""
    events = instance.all_logs(run_id, of_type=DagsterEventType.RUN_START)
    for entry in reversed(events):
        if entry.dagster_event is not None and entry.dagster_event.pid is not None:
            return entry.dagster_event.pid
    return None


def _held(instance: DagsterInstance, run_id: str) -> list[str]:
    """The pool slots and pending steps a run holds, as "<pool>:<step key>"."""
    storage = instance.event_log_storage
    held: list[str] = []
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        steps = {slot.step_key for slot in info.claimed_slots if slot.run_id == run_id}
        steps |= {step.step_key for step in info.pending_steps if step.run_id == run_id}
        held += [f"{pool}:{step}" for step in sorted(steps)]
    return held


def recover(instance: DagsterInstance, *, dry_run: bool = False) -> list[Recovered]:
    """Mark the runs whose process is gone as failed and free the slots of every ended run."""
    done: list[Recovered] = []
    dead: set[str] = set()
    for record in instance.get_run_records(filters=RunsFilter(statuses=list(ACTIVE))):
        run = record.dagster_run
        pid = run_pid(instance, run.run_id)
        if pid is None or process_alive(pid, record.start_time):
            continue
        dead.add(run.run_id)
        new_status = (
            DagsterRunStatus.CANCELED
            if run.status == DagsterRunStatus.CANCELING
            else DagsterRunStatus.FAILURE
        )
        held = _held(instance, run.run_id)
        if not dry_run:
            message = (
                f"The process of this run (pid {pid}) is gone; marked by b2b_assets.recover "
                f"at {datetime.now(UTC).isoformat(timespec='seconds')}."
            )
            if new_status == DagsterRunStatus.CANCELED:
                instance.report_run_canceled(run, message=message)
            else:
                instance.report_run_failed(run, message=message)
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        done.append(
            Recovered(run.run_id, run.job_name, pid, run.status.value, new_status.value, held)
        )

    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = sorted(storage.get_concurrency_run_ids() - dead)
        if holders:
            ended = instance.get_run_records(
                filters=RunsFilter(run_ids=holders, statuses=list(FINISHED_STATUSES))
            )
            for record in ended:
                run = record.dagster_run
                held = _held(instance, run.run_id)
                if not dry_run:
                    storage.free_concurrency_slots_for_run(run.run_id)
                done.append(
                    Recovered(
                        run.run_id, run.job_name, None, run.status.value, run.status.value, held
                    )
                )
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m b2b_assets.recover",
        description="Mark the runs of $DAGSTER_HOME whose process is gone as failed and free "
        "the pool slots they hold, so that the next run does not wait for them.",
    )
    parser.add_argument("--dry-run", action="store_true", help="only list what would be recovered")
    parser.add_argument(
        "--quiet", action="store_true", help="say nothing when there is nothing to recover"
    )
    args = parser.parse_args(argv)
    if not os.environ.get("DAGSTER_HOME"):
        print("DAGSTER_HOME is not set: nothing to recover", file=sys.stderr)
        return 2
    with DagsterInstance.get() as instance:
        done = recover(instance, dry_run=args.dry_run)
    prefix = "would recover: " if args.dry_run else "recovered: "
    for item in done:
        print(prefix + item.describe())
    if not done and not args.quiet:
        print("no dead runs and no slots held by ended runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
