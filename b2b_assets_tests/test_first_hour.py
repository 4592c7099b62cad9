"""A newcomer's first hour: the demo twice, then the suite's own environments; a short output;
no warning at definitions load; `dagster dev` after the demo rebuilds nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster
import pytest
from dagster import AssetKey, SkipReason, build_sensor_context

from b2b_assets.automation import environment_watch, landing_sensor
from b2b_assets.sources.config import load_sources
from b2b_assets_tests.conftest import REPO_ROOT, copy_demo, materialize_env, set_env

DEMO = REPO_ROOT / "scripts" / "demo.sh"


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        path.relative_to(folder).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


def run_demo(run_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B2B_", "DAGSTER_"))}
    env["B2B_RUN_DIR"] = str(run_dir)
    return subprocess.run(
        [str(DEMO), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def demo_twice(tmp_path_factory):
    """The demo run twice in a run folder of its own, and the data folder before and after."""
    run_dir = tmp_path_factory.mktemp("run")
    before = files_under(REPO_ROOT / "data")
    first, second = run_demo(run_dir), run_demo(run_dir)
    return run_dir, before, first, second


def test_the_demo_runs_twice_and_prints_a_screen(demo_twice):
    _, _, first, second = demo_twice
    for run in (first, second):
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-3000:]
        lines = output.splitlines()
        assert len(lines) < 60, output
        assert "summary: 59 of 59 assets built" in output
        assert "p2@townsend.com" in run.stdout
        assert "all[0].accounts: 1 match" in run.stdout and "all[1].events: 1 match" in run.stdout
        assert "Warning" not in output and "DEBUG" not in output, output


def test_the_demo_writes_only_into_its_run_folder(demo_twice):
    run_dir, before, _, _ = demo_twice
    assert files_under(REPO_ROOT / "data") == before
    assert (run_dir / "warehouse.duckdb").is_file()
    assert (run_dir / "dagster_home" / "dagster.yaml").is_file()
    sent = sorted(p.name for p in (run_dir / "outbox").rglob("*-requests.json"))
    assert len(sent) == 2, sent  # the first run's adds; the second run has no change to send


def test_the_suites_environments_after_the_demo(demo_twice, tmp_path):
    env = copy_demo(tmp_path / "env")
    assert not (env / "outbox").exists() and not list(env.rglob("*.duckdb"))
    run = materialize_env(env, tmp_path / "warehouse.duckdb")
    assert run.query("SELECT email FROM audience.new_product_upsell") == [("p2@townsend.com",)]


def test_verbose_demo_prints_dagsters_full_log(tmp_path):
    run = run_demo(tmp_path, "--verbose")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "STEP_SUCCESS" in run.stderr and "summary: 59 of 59 assets built" in run.stderr


def test_definitions_load_without_any_warning_or_the_libraries_only_runs_need(tmp_path):
    """Every run's process loads the definitions: Pandera (with pandas) and SciPy are imported
    only by the steps that check a table or find components."""
    env = {**os.environ, "B2B_DATA_DIR": str(copy_demo(tmp_path / "env"))}
    loaded = (
        "import sys, b2b_assets.definitions; "
        "assert not {'pandera', 'pandas', 'scipy'} & set(sys.modules), 'imported at load'"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", loaded],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""


def test_sensors_started_after_the_demo_do_not_load_what_is_loaded(tmp_path):
    data = copy_demo(tmp_path / "env")
    warehouse = tmp_path / "warehouse.duckdb"
    with dagster.instance_for_test() as instance, pytest.MonkeyPatch.context() as mp:
        set_env(mp, data, warehouse, "2026-11-15")
        from b2b_assets.definitions import build_definitions

        defs = build_definitions()
        dagster.materialize(
            list(defs.assets or []),
            resources={
                "warehouse": defs.resources["warehouse"],
                "settings": defs.resources["settings"],
            },
            instance=instance,
        )
        config = load_sources(data / "sources.yaml")
        sensor = landing_sensor(environment_watch(data, config))
        context = build_sensor_context(instance=instance, repository_def=None)
        assert isinstance(sensor(context), SkipReason)
        # A changed file is loaded again: only its object.
        leads = data / "landing" / "marketo_1" / "leads.csv"
        leads.write_text(leads.read_text() + "99999,new@townsend.com,,,,,,,,,,,,,\n")
        os.utime(leads, ns=(leads.stat().st_mtime_ns - 5 * 10**9,) * 2)
        request = sensor(
            build_sensor_context(instance=instance, repository_def=None, cursor=context.cursor)
        )
        assert not isinstance(request, SkipReason)
        assert request.asset_selection == [AssetKey(["raw", "marketo_1__leads"])]


def test_the_summary_names_each_problem_in_one_line():
    from b2b_assets.run_summary import RunReport, summary

    report = RunReport(
        planned={
            "raw/crm_1__opportunity": "raw__crm_1",
            "raw/marketo_1__activities": "raw__marketo_1",
            "b2b/experience_event": "b2b",
        }
    )
    report.built.add("raw/crm_1__opportunity")
    report.failed["raw/marketo_1__activities"] = "3 files of activities cannot be read: ..."
    report.loads["raw/crm_1__opportunity"] = {
        "rows_read": 10,
        "rows_kept": 6,
        "rows_quarantined": 5,
        "quarantine_reasons": {
            "Amount: not a number below 10^15": 4,
            "duplicate key: a later row wins": 1,
        },
        "malformed_references": {"AccountId": 2},
        "unknown_landing_files": [
            "Opportunities.csv: not a salesforce object; did you mean Opportunity?"
        ],
    }
    info, warnings, errors = summary(report)
    assert info[0].startswith("summary: 1 of 3 assets built") and "1 failed" in info[0]
    assert warnings[0].startswith("quarantined raw/crm_1__opportunity: read 10, kept 6")
    assert "Amount: not a number below 10^15: 4" in warnings[0]
    assert "duplicate key" not in warnings[0]
    assert warnings[1] == "malformed references raw/crm_1__opportunity: AccountId 2 (rows kept)"
    assert warnings[2].startswith("landing/crm_1: Opportunities.csv")
    assert errors == [
        "failed raw/marketo_1__activities: 3 files of activities cannot be read: ...",
        "not built, because an input failed (nothing below it was published): b2b/experience_event",
    ]
    assert report.finished_layers(final=True) == [
        "raw: 1 of 2 assets built, 1 failed",
        "b2b: 0 of 1 assets built, 1 not built",
    ]


def test_the_readme_orients_in_one_screenful_of_commands():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    opening = "\n".join(lines[:8])
    assert "./scripts/demo.sh" in opening and "./scripts/test.sh" in opening
    text = "\n".join(lines)
    # Benchmark history lives in docs/performance.md, without commit hashes.
    assert not re.search(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b", text)
    assert "load average" not in text and "docs/performance.md" in text


def test_a_landing_folder_no_source_reads_is_reported(tmp_path):
    from b2b_assets.sources.landing_names import unknown_source_folders

    landing = tmp_path / "landing"
    for name in ("crm_1", "CRM-2", "crm3", "_staging", ".hidden"):
        (landing / name).mkdir(parents=True)
    notes = unknown_source_folders(landing, [landing / "crm_1"], ["crm_1", "crm_2"])
    assert [note.message for note in notes] == [
        "landing/CRM-2/: not a source of sources.yaml; did you mean crm_2?",
        "landing/crm3/: not a source of sources.yaml; add it to sources.yaml to read it",
    ]
