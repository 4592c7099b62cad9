"""End to end under a running `dagster-daemon`: a changed extract reaches the audience and outbox.

The daemon runs on a copy of the demo with its own DAGSTER_HOME (the repository's dagster.yaml)
and nothing else: its landing, reference-data and automation sensors build the warehouse from the
landing folders. Then Marketo 1's activities are rewritten (write, then rename) with a visit of the
new product page by p1@townsend.com (Townsend is above $1M; p1 had not visited), and the test
waits until p1 is in the audience and in both destinations' outbox, with no manual step, then
stops the daemon and everything it started. Minutes on a 2-core machine, most of it the first
build: marked slow.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from b2b_assets.activation.outbox import outbox_adds
from b2b_assets.settings import INSTANCE_YAML
from b2b_assets_tests.conftest import copy_demo

AS_OF = "2026-11-15T00:00:00Z"
SEGMENT = "new_product_upsell"
AUDIENCE = AssetKey(["audience", SEGMENT])
SEED = "p2@townsend.com"
PERSON, LEAD = "p1@townsend.com", "48211"  # a Townsend contact and her Marketo 1 lead
FIRST_BUILD_TIMEOUT = 900.0  # the whole graph through the sensors, on a loaded machine
DROP_TIMEOUT = 240.0
ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
VISIT = [
    "990101",
    LEAD,
    "2026-11-14T09:30:00Z",
    "1",
    "",
    "4102",
    "www.bodea.com/products/new-software",
    json.dumps({"Webpage URL": "/products/new-software"}),
]


class Daemon:
    """`dagster-daemon run` in its own process group, with its log in a file."""

    def __init__(self, root: Path, environ: dict[str, str]):
        self.root = root
        self.environ = environ
        self.log = root / "daemon.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        daemon = Path(sys.executable).parent / "dagster-daemon"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(daemon), "run", "-m", "b2b_assets.definitions"],
                cwd=self.root,  # not the repository: its workspace.yaml is not picked up
                env=self.environ,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def group_alive(self) -> bool:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """SIGINT (the daemon shuts its threads and code server down), then SIGTERM and SIGKILL to
        whatever is left of its process group."""
        if self.process is None:
            return
        pid = self.process.pid
        for send, grace in (
            (lambda: os.kill(pid, signal.SIGINT), 60.0),
            (lambda: os.killpg(pid, signal.SIGTERM), 15.0),
            (lambda: os.killpg(pid, signal.SIGKILL), 10.0),
        ):
            with contextlib.suppress(ProcessLookupError):
                send()
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if self.process.poll() is not None and not self.group_alive():
                    return
                time.sleep(0.2)

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def members(warehouse: Path) -> set[str]:
    """The audience's emails; empty while the table is missing or a writer holds the file."""
    if not warehouse.exists():
        return set()
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return set()
    try:
        return {row[0] for row in con.execute(f"SELECT email FROM audience.{SEGMENT}").fetchall()}
    except duckdb.Error:
        return set()
    finally:
        con.close()


def wait_for(daemon: Daemon, what: str, timeout: float, done: Callable[[], bool]) -> float:
    """Poll until `done()`; the seconds it took. Fails with the daemon's log on a timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert daemon.alive(), f"the daemon exited:\n{daemon.tail()}"
        if done():
            return time.monotonic() - started
        time.sleep(1.0)
    pytest.fail(f"{what}: not within {timeout:.0f}s\n{daemon.tail()}")


@pytest.mark.slow
def test_a_changed_extract_reaches_the_audience_and_outbox_under_the_daemon(tmp_path: Path):
    data = copy_demo(tmp_path / "data")
    warehouse, outbox, home = tmp_path / "warehouse.duckdb", tmp_path / "outbox", tmp_path / "home"
    home.mkdir()
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    environ = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "B2B_DATA_DIR": str(data),
        "B2B_WAREHOUSE": str(warehouse),
        "B2B_OUTBOX": str(outbox),
        "B2B_AS_OF": AS_OF,
    }
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    daemon = Daemon(tmp_path, environ)
    quiet_since: list[float] = []

    def idle() -> bool:
        """No run queued or in progress for 15 s in a row (across sensor ticks)."""
        if instance.get_runs_count(RunsFilter(statuses=ACTIVE)):
            quiet_since.clear()
            return False
        quiet_since[:] = quiet_since or [time.monotonic()]
        return time.monotonic() - quiet_since[0] >= 15

    def built() -> bool:
        launched = {run.tags.get("dagster/sensor_name") for run in instance.get_runs(RunsFilter())}
        return "landing" in launched and SEED in members(warehouse) and idle()

    try:
        with running(daemon):
            wait_for(daemon, "the first build by the sensors", FIRST_BUILD_TIMEOUT, built)
            assert PERSON not in members(warehouse)
            assert not outbox_adds(outbox / "marketo_1_new_product" / SEGMENT, LEAD)

            activities = data / "landing" / "marketo_1" / "activities.csv"
            partial = activities.with_name(".activities.csv")  # never read: a hidden name
            shutil.copy(activities, partial)
            with partial.open("a", encoding="utf-8", newline="") as handle:
                csv.writer(handle, lineterminator="\r\n").writerow(VISIT)
            dropped = time.time()
            os.replace(partial, activities)

            digest = hashlib.sha256(PERSON.encode()).hexdigest()
            in_audience = wait_for(
                daemon,
                f"{PERSON} in the audience",
                DROP_TIMEOUT,
                lambda: PERSON in members(warehouse),
            )
            in_outbox = wait_for(
                daemon,
                f"{PERSON} in the outbox",
                DROP_TIMEOUT - in_audience,
                lambda: (
                    outbox_adds(outbox / "linkedin_new_product" / SEGMENT, digest)
                    and outbox_adds(outbox / "marketo_1_new_product" / SEGMENT, LEAD)
                ),
            )
            quiet_since.clear()
            wait_for(daemon, "the runs after the drop to end", DROP_TIMEOUT, idle)
            print(f"audience after {in_audience:.1f}s, outbox {in_outbox:.1f}s later")

            runs = instance.get_runs(
                RunsFilter(created_after=datetime.fromtimestamp(dropped, tz=UTC))
            )
            landing = [r for r in runs if r.tags.get("dagster/sensor_name") == "landing"]
            assert len(landing) == 1, [r.tags for r in runs]
            assert AUDIENCE in landing[0].asset_selection  # one run from the file to the outbox
            again = [
                r
                for r in runs
                if AUDIENCE in (r.asset_selection or ()) and "dagster/schedule_name" not in r.tags
            ]
            assert [r.run_id for r in again] == [landing[0].run_id], "audience built twice"
            every_run = instance.get_runs(RunsFilter())
            failed = [r.run_id for r in every_run if r.status != DagsterRunStatus.SUCCESS]
            assert not failed, daemon.tail()
        assert not daemon.group_alive(), "a process of the daemon is still running"
    finally:
        instance.dispose()
