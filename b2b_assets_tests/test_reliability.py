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
from dagster import AssetKey, AssetSelection

from b2b_assets_tests.conftest import REPO_ROOT, copy_demo, materialize_env

AS_OF = "2026-11-15"
SCHEMAS = ("raw", "b2b", "identity", "profile", "audience", "activation", "ops")
VOLATILE = frozenset(
    {"_loaded_at", "loaded_at", "run_id", "delivered_at", "logged_at", "changed_at"}
)
LOGS = frozenset({"ops.row_accounting", "ops.audience_history", "ops.activation_log"})
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


def snapshot(warehouse: Path) -> Snapshot:
    """Every table's rows (sorted), without the columns that record when/which run wrote them."""
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
    assert set(failures) == {"raw__crm_1__contact"}
    assert str(contact) in failures["raw__crm_1__contact"]
    assert "Email" in failures["raw__crm_1__contact"]
    succeeded = run.succeeded_steps()
    assert "b2b__person" not in succeeded and "profile__person" not in succeeded
    assert_same(snapshot(warehouse), demo.state)


def test_failed_check_and_error_mid_build_change_nothing(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """profile.account is built invalid (its blocking Pandera check fails) and profile.person
    raises after building its table: both roll back, their downstream does not run."""
    import b2b_assets.profiles.tables as profiles

    build_account, build_person = profiles._account_build, profiles._person_build

    def invalid_account(con, context):
        result = build_account(con, context)
        # account_id may not be null: the blocking Pandera check fails.
        con.execute("UPDATE profile.account SET account_id = NULL")
        return result

    def exploding_person(con, context):
        build_person(con, context)
        con.execute("DELETE FROM profile.person")
        raise RuntimeError("injected failure after rebuilding profile.person")

    monkeypatch.setattr(profiles, "_account_build", invalid_account)
    monkeypatch.setattr(profiles, "_person_build", exploding_person)
    warehouse = demo.copy_reference("failed_check")
    selection = AssetSelection.keys(
        AssetKey(["profile", "account"]), AssetKey(["profile", "person"])
    ).downstream()
    run = materialize_env(demo.data, warehouse, AS_OF, selection=selection, raise_on_error=False)
    assert not run.result.success
    checks = {
        e.asset_key.to_user_string(): e.passed for e in run.result.get_asset_check_evaluations()
    }
    assert checks.get("profile/account") is False
    failures = _failure_messages(run)
    assert "injected failure" in failures["profile__person"]
    assert not {s for s in run.succeeded_steps() if s.startswith(("audience__", "activation__"))}
    assert_same(snapshot(warehouse), demo.state)


# --------------------------------------------------------------------------------------------
# Real processes: killed mid-run, and two at once
# --------------------------------------------------------------------------------------------


def cli_env(demo: Demo, warehouse: Path, name: str, outbox: Path | None = None) -> dict[str, str]:
    """The contract's variables, and a Dagster instance (DAGSTER_HOME holding the project's
    dagster.yaml, as README.md sets it up) of its own."""
    home = demo.root / name / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
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
    """`dagster asset materialize --select '*'` in its own process group, its output kept.

    A watchdog kills it when no step starts or finishes for `stall_seconds` (`stalled`), or
    when it runs longer than CLI_TIMEOUT."""

    process: subprocess.Popen
    stall_seconds: float
    lines: list[str] = field(default_factory=list)
    last_progress: float = field(default_factory=time.monotonic)
    stalled: bool = False

    @classmethod
    def start(cls, env: dict[str, str], stall_seconds: float = 90.0) -> Materialization:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "asset",
                "materialize",
                "-m",
                "b2b_assets.definitions",
                "--select",
                "*",
            ],
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
    pool slot stays claimed until the daemon's run monitoring (`dagster dev`) marks the dead run
    failed and frees it (dagster.yaml `run_monitoring`)."""
    warehouse = demo.copy_reference("killed")
    env = cli_env(demo, warehouse, "killed")
    run = Materialization.start(env)
    killed_at = None
    started = committed = 0
    try:
        for line in run.output():
            committed += "STEP_SUCCESS" in line
            started += "STEP_START" in line
            # Kill while the 16th asset is being built (staged, or inside its transaction):
            # 15 tables were rewritten by this run, the others were not reached.
            if started == 16:
                threading.Event().wait(random.uniform(0.0, 0.4))
                killed_at = line.split(" - ")[-3]
                run.kill()
                break
    finally:
        run.kill()
    assert killed_at, f"the run ended before its 16th step:\n{run.tail()}"
    assert run.process.returncode == -signal.SIGKILL
    assert committed >= 15, f"only {committed} steps had finished when killed"

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
