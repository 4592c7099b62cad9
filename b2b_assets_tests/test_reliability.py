"""Reliability of the warehouse: a failed run changes nothing, a killed run leaves every table as
it was and the next clean run recovers, and two processes materializing at once take turns.

Every test starts from one reference: the demo materialized once on a fresh warehouse
(`demo`). Tables are compared by content; columns that only record when or in which run a row
was written are left out, and the append-only logs of `ops` are compared as sets of rows (a run
over the same inputs appends rows equal to those already there).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, DagsterRunStatus
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.test_utils import create_run_for_test

from b2b_assets.recover import main as recover_main
from b2b_assets.recover import process_alive, recover
from b2b_assets.settings import INSTANCE_YAML
from b2b_assets.sources.parts import PARTS_SUFFIX
from b2b_assets_tests.conftest import REPO_ROOT, copy_demo, materialize_env, query
from benchmarks.bench import materialize_command

AS_OF = "2026-11-15"
SCHEMAS = ("raw", "b2b", "identity", "profile", "audience", "activation", "ops")
VOLATILE = frozenset(
    {
        "_loaded_at",
        "loaded_at",
        "run_id",
        "delivered_at",
        "logged_at",
        "changed_at",
        "load_id",
        "part",  # where a load wrote its rows: beside its own warehouse
        "built_at",
        "mtime_ns",
        "generation",  # which build of a table, and whether whole: a killed run may have
        "whole",  # committed some tables, and the next run may then append
    }
)
LOGS = frozenset(
    {
        "ops.row_accounting",
        "ops.audience_history",
        "ops.activation_log",
        "ops.generations",
        "ops.built_from",
        "ops.changed_keys",
    }
)
CLI_TIMEOUT = 300

Snapshot = dict[str, list[tuple]]


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, list | tuple):
        return tuple(_normal(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normal(v)) for k, v in value.items()))
    return value


def unread_loads(warehouse: Path) -> list[str]:
    """Folders of raw parts beside the warehouse that no raw view reads."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("SELECT part FROM ops.loaded_files WHERE part IS NOT NULL").fetchall()
    finally:
        con.close()
    read = {str(Path(row[0]).parent) for row in rows}
    root = Path(f"{warehouse}{PARTS_SUFFIX}")
    return sorted(str(load) for load in root.glob("*/*") if str(load) not in read)


def snapshot(warehouse: Path) -> Snapshot:
    """Every published table's rows (sorted), without the columns that record when/which run
    wrote them (tables and views; a raw load's parts are read through its view)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            f"""SELECT schema_name, table_name, list(column_name ORDER BY column_index)
                FROM duckdb_columns()
                WHERE schema_name IN ({", ".join(f"'{s}'" for s in SCHEMAS)})
                  AND database_name = current_database()
                GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
        result: Snapshot = {}
        for schema, table, columns in tables:
            name = f"{schema}.{table}"
            kept = ", ".join(f'"{c}"' for c in columns if c not in VOLATILE)
            distinct = "DISTINCT " if name in LOGS else ""
            rows = con.execute(f'SELECT {distinct}{kept} FROM {schema}."{table}"').fetchall()
            result[name] = sorted((_normal(row) for row in rows), key=repr)
        return result
    finally:
        con.close()


def assert_same(got: Snapshot, want: Snapshot) -> None:
    assert sorted(got) == sorted(want), "the warehouse does not have the same tables"
    changed = [name for name in want if got[name] != want[name]]
    assert not changed, (
        f"tables changed: {changed}; first: {got[changed[0]][:3]} vs {want[changed[0]][:3]}"
    )


@dataclass
class Demo:
    root: Path
    data: Path
    reference: Path
    state: Snapshot

    def copy_reference(self, name: str) -> Path:
        """The reference warehouse (cleanly closed, no WAL) copied into its own folder."""
        folder = self.root / name
        folder.mkdir()
        target = folder / "warehouse.duckdb"
        shutil.copyfile(self.reference, target)
        return target


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("reliability")
    data = copy_demo(root / "data")
    (root / "reference").mkdir()
    reference = root / "reference" / "warehouse.duckdb"
    run = materialize_env(data, reference, AS_OF)
    assert run.result.success
    state = snapshot(reference)
    assert state["audience.new_product_upsell"], "the demo audience is empty"
    return Demo(root, data, reference, state)


# --------------------------------------------------------------------------------------------
# A failed run changes nothing
# --------------------------------------------------------------------------------------------


def _failure_messages(run) -> dict[str, str]:
    return {
        event.step_key: event.step_failure_data.error.to_string()
        for event in run.result.all_events
        if event.is_step_failure
    }


def test_failed_run_on_a_broken_required_file_changes_nothing(demo: Demo) -> None:
    """crm_1's Contact.csv loses its required Email column: its raw asset fails (an
    ExtractError naming the file and the column), nothing downstream of it runs, and every
    table keeps its content."""
    warehouse = demo.copy_reference("broken_input")
    contact = demo.data / "landing" / "crm_1" / "Contact.csv"
    original = contact.read_bytes()
    lines = original.decode("utf-8").splitlines()
    email = lines[0].split(",").index("Email")
    broken = [",".join(c for i, c in enumerate(line.split(",")) if i != email) for line in lines]
    selection = AssetSelection.keys(AssetKey(["raw", "crm_1__contact"])).downstream()
    try:
        contact.write_text("\n".join(broken) + "\n", encoding="utf-8")
        run = materialize_env(
            demo.data, warehouse, AS_OF, selection=selection, raise_on_error=False
        )
    finally:
        contact.write_bytes(original)
    assert not run.result.success
    failures = _failure_messages(run)
    assert set(failures) == {"raw"}
    assert str(contact) in failures["raw"]
    assert "Email" in failures["raw"]
    succeeded = run.succeeded_steps()
    assert "b2b" not in succeeded and "profile" not in succeeded
    assert_same(snapshot(warehouse), demo.state)


def test_failed_check_and_error_mid_build_change_nothing(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """profile.account is built invalid (its blocking Pandera check fails) and profile.person
    raises after building its table: both roll back, their downstream does not run."""
    from b2b_assets.profiles import accounts, people

    build_account, build_person = accounts._account_build, people._person_build

    def invalid_account(con, context):
        result = build_account(con, context)
        # account_id may not be null: the blocking Pandera check fails.
        con.execute("UPDATE profile.account SET account_id = NULL")
        return result

    def exploding_person(con, context):
        build_person(con, context)
        con.execute("DELETE FROM profile.person")
        raise RuntimeError("injected failure after rebuilding profile.person")

    warehouse = demo.copy_reference("failed_check")
    # profile.account reads profile.person: each failure gets a run of its own.
    monkeypatch.setattr(people, "_person_build", exploding_person)
    person_run = materialize_env(
        demo.data,
        warehouse,
        AS_OF,
        selection=AssetSelection.keys(AssetKey(["profile", "person"])).downstream(),
        raise_on_error=False,
    )
    assert not person_run.result.success
    assert "injected failure" in _failure_messages(person_run)["profile"]
    monkeypatch.setattr(people, "_person_build", build_person)
    monkeypatch.setattr(accounts, "_account_build", invalid_account)
    account_run = materialize_env(
        demo.data,
        warehouse,
        AS_OF,
        selection=AssetSelection.keys(AssetKey(["profile", "account"])).downstream(),
        raise_on_error=False,
    )
    assert not account_run.result.success
    checks = {
        e.asset_key.to_user_string(): e.passed
        for e in account_run.result.get_asset_check_evaluations()
    }
    assert checks.get("profile/account") is False
    for run in (person_run, account_run):
        assert not {
            s for s in run.succeeded_steps() if s.startswith(("audience__", "activation__"))
        }
    assert_same(snapshot(warehouse), demo.state)


# --------------------------------------------------------------------------------------------
# Real processes: killed mid-run, and two at once
# --------------------------------------------------------------------------------------------


def cli_env(demo: Demo, warehouse: Path, name: str, outbox: Path | None = None) -> dict[str, str]:
    """The contract's variables, and a Dagster instance (DAGSTER_HOME holding the project's
    dagster.yaml, as README.md sets it up) of its own."""
    home = demo.root / name / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    return {
        **os.environ,
        "B2B_DATA_DIR": str(demo.data),
        "B2B_WAREHOUSE": str(warehouse),
        "B2B_AS_OF": AS_OF,
        "B2B_OUTBOX": str(outbox or warehouse.parent / "outbox"),
        "DAGSTER_HOME": str(home),
    }


@dataclass
class Materialization:
    """`dagster asset materialize --select <selection>` in its own process group, its output kept.

    A watchdog kills it when no step starts or finishes for `stall_seconds` (`stalled`), or
    when it runs longer than CLI_TIMEOUT."""

    process: subprocess.Popen
    stall_seconds: float
    lines: list[str] = field(default_factory=list)
    last_progress: float = field(default_factory=time.monotonic)
    stalled: bool = False

    @classmethod
    def start(
        cls, env: dict[str, str], stall_seconds: float = 90.0, select: str = "*"
    ) -> Materialization:
        process = subprocess.Popen(
            materialize_command(select),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        run = cls(process, stall_seconds)
        threading.Thread(target=run._watch, daemon=True).start()
        return run

    def _watch(self) -> None:
        started = time.monotonic()
        while self.process.poll() is None:
            now = time.monotonic()
            if now - self.last_progress > self.stall_seconds:
                self.stalled = True
                self.kill()
            elif now - started > CLI_TIMEOUT:
                self.kill()
            time.sleep(0.5)

    def output(self) -> Iterator[str]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "STEP_START" in line or "STEP_SUCCESS" in line:
                self.last_progress = time.monotonic()
            yield line

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def finish(self) -> int:
        for _ in self.output():
            pass
        return self.process.wait(timeout=CLI_TIMEOUT)

    def tail(self) -> str:
        return "".join(self.lines[-12:])


def test_killed_run_leaves_every_table_as_before_and_a_clean_run_recovers(demo: Demo) -> None:
    """SIGKILL a CLI run in the middle of an asset; the warehouse opens with every table as
    before, and the next clean run gives what a run on a fresh warehouse gave.

    The next run uses a Dagster instance of its own: in the killed run's instance its `duckdb`
    pool slot stays claimed until `python -m b2b_assets.recover` or the daemon's run monitoring
    (`dagster dev`) marks the dead run failed and frees it (see the recovery tests below)."""
    warehouse = demo.copy_reference("killed")
    env = cli_env(demo, warehouse, "killed")
    run = Materialization.start(env)
    killed_at = None
    committed = 0
    try:
        for line in run.output():
            committed += "ASSET_MATERIALIZATION" in line
            # Kill while the 37th table is being built, inside the b2b layer's step (after the
            # raw layer's 32 tables and 4 of the model's): 36 tables were rewritten by this
            # run, the others were not reached.
            if committed == 36:
                threading.Event().wait(random.uniform(0.0, 0.4))
                killed_at = line.split(" - ")[-3]
                run.kill()
                break
    finally:
        run.kill()
    assert killed_at, f"the run ended before its 37th table:\n{run.tail()}"
    assert run.process.returncode == -signal.SIGKILL

    # The warehouse opens (replaying its WAL if it has one) and holds the state from before.
    con = duckdb.connect(str(warehouse))
    con.execute("CHECKPOINT")
    con.close()
    assert_same(snapshot(warehouse), demo.state)

    # The next clean run, started the same way, gives what a run on a fresh warehouse gave.
    env = {
        **env,
        **{k: v for k, v in cli_env(demo, warehouse, "after_kill").items() if k == "DAGSTER_HOME"},
    }
    clean = Materialization.start(env, stall_seconds=40.0)
    code = clean.finish()
    assert not clean.stalled, (
        f"the run after the killed one ({killed_at}) made no progress for 40s:\n{clean.tail()}"
    )
    assert code == 0, f"the run after the killed one failed:\n{clean.tail()}"
    assert_same(snapshot(warehouse), demo.state)
    assert unread_loads(warehouse) == []


def _outbox(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_two_processes_materializing_at_once_take_turns(demo: Demo) -> None:
    """Two processes (each its own Dagster instance, so nothing but the DuckDB file lock makes
    them take turns) materialize the whole graph on one fresh warehouse at the same time."""
    folder = demo.root / "concurrent"
    folder.mkdir()
    warehouse = folder / "warehouse.duckdb"
    outbox = folder / "outbox"
    runs = [
        Materialization.start(cli_env(demo, warehouse, f"concurrent_{i}", outbox)) for i in (1, 2)
    ]
    results: dict[int, int] = {}
    try:
        threads = [
            threading.Thread(target=lambda i=i, r=r: results.__setitem__(i, r.finish()))
            for i, r in enumerate(runs)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CLI_TIMEOUT + 30)
    finally:
        for run in runs:
            run.kill()
    for i, run in enumerate(runs):
        assert not run.stalled, f"process {i + 1} made no progress for 90s:\n{run.tail()}"
        assert results.get(i) == 0, f"process {i + 1} failed:\n{run.tail()}"
        assert any("RUN_SUCCESS" in line for line in run.lines)

    assert_same(snapshot(warehouse), demo.state)
    # Each change reached its destination once, exactly as in a single run.
    sent = "SELECT destination, action, member_id, status FROM ops.activation_log ORDER BY ALL"
    con = duckdb.connect(str(warehouse), read_only=True)
    reference = duckdb.connect(str(demo.reference), read_only=True)
    try:
        assert con.execute(sent).fetchall() == reference.execute(sent).fetchall()
    finally:
        con.close()
        reference.close()
    assert _outbox(outbox) == _outbox(demo.reference.parent / "outbox")


# --------------------------------------------------------------------------------------------
# Recovering the Dagster instance of a killed run (python -m b2b_assets.recover)
# --------------------------------------------------------------------------------------------

CRM_1_RAW = ",".join(
    f"raw/crm_1__{name}"
    for name in (
        "account",
        "contact",
        "opportunity",
        "opportunity_contact_role",
        "account_contact_relation",
        "campaign",
        "campaign_member",
    )
)


def _instance(home: Path) -> DagsterInstance:
    if not (home / "dagster.yaml").exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    return DagsterInstance.from_config(str(home))


def _started_run(instance: DagsterInstance, pid: int) -> str:
    """A run whose RUN_START event names process `pid`, as a CLI run records it."""
    run = create_run_for_test(instance, job_name="__ASSET_JOB")
    event = DagsterEvent(
        event_type_value=DagsterEventType.RUN_START.value, job_name="__ASSET_JOB", pid=pid
    )
    instance.report_dagster_event(event, run_id=run.run_id)
    return run.run_id


def _status(instance: DagsterInstance, run_id: str) -> DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_process_alive_sees_dead_zombie_and_reused_pids() -> None:
    """A pid is a live run's process only if it exists, is no zombie and is older than the run."""
    assert process_alive(os.getpid(), time.time())
    sleeper = _sleeper()
    try:
        assert process_alive(sleeper.pid, time.time())
        # The process holding the pid started after the run did: the pid was reused.
        assert not process_alive(sleeper.pid, time.time() - 60)
        sleeper.kill()
        time.sleep(0.2)  # killed, not yet reaped: a zombie
        assert not process_alive(sleeper.pid, time.time())
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not process_alive(sleeper.pid, time.time())


def test_recover_frees_the_slot_of_a_dead_run_and_leaves_a_live_run(tmp_path: Path) -> None:
    """A dead run holding the `duckdb` slot blocks a waiting run until recover() marks it
    failed and frees the slot; a live run and a queued run are left alone; a run that had
    ended but still held a slot gives it back."""
    sleeper = _sleeper()
    gone = _sleeper()
    gone.kill()
    gone.wait()
    try:
        with _instance(tmp_path / "home") as instance:
            storage = instance.event_log_storage
            dead = _started_run(instance, gone.pid)
            live = _started_run(instance, sleeper.pid)
            queued = create_run_for_test(instance, job_name="__ASSET_JOB").run_id
            ended = create_run_for_test(
                instance, job_name="__ASSET_JOB", status=DagsterRunStatus.SUCCESS
            ).run_id
            for pool in ("duckdb", "other"):  # as a run does before its first claim
                storage.initialize_concurrency_limit_to_default(pool)
            assert storage.claim_concurrency_slot("duckdb", dead, "raw__a").is_claimed
            assert not storage.claim_concurrency_slot("duckdb", live, "raw__b").is_claimed
            assert storage.claim_concurrency_slot("other", ended, "raw__c").is_claimed

            assert recover(instance, dry_run=True)
            assert _status(instance, dead) == DagsterRunStatus.STARTED  # a dry run changes nothing

            done = {item.run_id: item for item in recover(instance)}
            assert set(done) == {dead, ended}
            assert done[dead].freed_slots == ["duckdb:raw__a"]
            assert done[ended].freed_slots == ["other:raw__c"]
            assert _status(instance, dead) == DagsterRunStatus.FAILURE
            assert _status(instance, live) == DagsterRunStatus.STARTED
            assert _status(instance, queued) == DagsterRunStatus.NOT_STARTED
            # The waiting step, claiming again as it polls, now gets the slot.
            assert storage.claim_concurrency_slot("duckdb", live, "raw__b").is_claimed
            assert storage.get_concurrency_run_ids() == {live}
            failure = instance.all_logs(dead, of_type=DagsterEventType.RUN_FAILURE)
            assert f"pid {gone.pid}" in (failure[0].message or "")
            assert recover(instance) == []  # nothing left to do
    finally:
        sleeper.kill()
        sleeper.wait()


def test_killed_cli_run_is_recovered_and_the_next_run_in_the_same_instance_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL `dagster asset materialize` while a step holds the `duckdb` pool slot; the run
    stays STARTED holding it. `python -m b2b_assets.recover` marks it failed and frees the
    slot, and the next CLI run in the same DAGSTER_HOME (no daemon) completes."""
    data = copy_demo(tmp_path / "data")
    home = tmp_path / "dagster_home"
    _instance(home).dispose()
    env = {
        **os.environ,
        "B2B_DATA_DIR": str(data),
        "B2B_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "B2B_AS_OF": AS_OF,
        "B2B_OUTBOX": str(tmp_path / "outbox"),
        "DAGSTER_HOME": str(home),
    }
    run = Materialization.start(env, select=CRM_1_RAW)
    try:
        for line in run.output():
            if "STEP_START" in line:
                run.kill()
                break
    finally:
        run.kill()
    assert run.process.returncode == -signal.SIGKILL, f"the run was not killed:\n{run.tail()}"
    with _instance(home) as instance:
        (record,) = instance.get_run_records()
        killed = record.dagster_run.run_id
        assert record.dagster_run.status == DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_run_ids() == {killed}

    # `python -m b2b_assets.recover`, called in this process to spare a Python start.
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert recover_main([]) == 0
    printed = capsys.readouterr().out
    assert f"run {killed}" in printed and "STARTED -> FAILURE" in printed, printed
    assert "duckdb:raw" in printed

    after = Materialization.start(env, stall_seconds=40.0, select=CRM_1_RAW)
    code = after.finish()
    assert not after.stalled, f"the run after recovery waited for the slot:\n{after.tail()}"
    assert code == 0, f"the run after recovery failed:\n{after.tail()}"
    with _instance(home) as instance:
        assert _status(instance, killed) == DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_run_ids() == set()
    assert query(env["B2B_WAREHOUSE"], "SELECT count(*) FROM raw.crm_1__account")[0][0] > 0
