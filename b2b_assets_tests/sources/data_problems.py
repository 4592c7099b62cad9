"""Shared by the tests of data problems a person must be told about, and how far each one
reaches:

* misnamed landing files: the object they probably mean (`landing_names`,
  test_landing_names.py), the non-blocking `landing_files` check, one warning per run
  (test_problems_run.py);
* quarantined rows and malformed Salesforce references (test_problems_run.py): the
  `quarantine` check (WARN), its examples, `raw.quarantine`, the run's summary; above
  `max_quarantined` (ERROR, test_max_quarantined.py) the load is not published and nothing
  below it is built;
* a structural problem, a required column missing in several files
  (test_structural_problem.py): one failure naming every file, and nothing below it built;
* the shapes of Salesforce ids at the reader (test_salesforce_id_shapes.py).

The CLI scenarios run `dagster asset materialize` once each (`run_cli`, module-scoped) and
read what the run printed, its Dagster instance's event log and its warehouse.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import DagsterInstance

from b2b_assets.settings import INSTANCE_YAML
from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets_tests.conftest import REPO_ROOT, query

AS_OF = "2026-11-15T00:00:00Z"
ID_REASON = "Id: not a 15- or 18-character Salesforce id"
AMOUNT_REASON = "Amount: not a number below 10^15"
MISNAMED = "Opportunities.csv: not a salesforce object; did you mean Opportunity?"
# `17:42:45 WARNING raw/crm_2__opportunity ...`: a line of the concise console logger.
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL)\s")


def object_spec(source_type: str, name: str):
    return next(spec for spec in OBJECTS_BY_TYPE[source_type] if spec.name == name)


OPPORTUNITY = object_spec("salesforce", "Opportunity")
CONTACT = object_spec("salesforce", "Contact")
BASE64_ACCOUNT = "aGVsbG8gd29ybGQhIQ=="


# --------------------------------------------------------------------------------------------
# CLI runs: what they print, their event log, their warehouse
# --------------------------------------------------------------------------------------------


def metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


@dataclass
class CliRun:
    """One `dagster asset materialize` of an environment, and what its instance recorded."""

    data_dir: Path
    warehouse: Path
    returncode: int
    output: str
    checks: dict[tuple[str, str], Any] = field(default_factory=dict)
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    succeeded: set[str] = field(default_factory=set)

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    def log_lines(self) -> list[str]:
        return [line for line in self.lines if LOG_LINE.match(line)]

    def split_at_summary(self) -> tuple[list[str], list[str]]:
        """The run's log lines before the summary line, and from it on."""
        lines = self.log_lines()
        index = next(i for i, line in enumerate(lines) if " summary: " in line)
        return lines[:index], lines[index:]

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        return query(self.warehouse, sql, params)


def _error_text(event) -> str:
    parts = []
    error = event.step_failure_data.error
    while error is not None:
        parts.append(error.message)
        error = error.cause
    user = event.step_failure_data.user_failure_data
    if user is not None and user.description:
        parts.append(user.description)
    return "\n".join(parts)


def run_cli(root: Path, data_dir: Path) -> CliRun:
    """Materialize every asset of `data_dir` with the CLI, as scripts/demo.sh does."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    warehouse = root / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B2B_", "DAGSTER_"))}
    env.update(
        B2B_DATA_DIR=str(data_dir),
        B2B_WAREHOUSE=str(warehouse),
        B2B_OUTBOX=str(root / "outbox"),
        B2B_AS_OF=AS_OF,
        DAGSTER_HOME=str(home),
    )
    process = subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster")),
            "asset",
            "materialize",
            "-m",
            "b2b_assets.definitions",
            "--select",
            "*",
            "--config-json",
            '{"loggers": {"console": {"config": {"log_level": "INFO"}}}}',
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    run = CliRun(data_dir, warehouse, process.returncode, process.stdout + process.stderr)
    with DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_runs()
        assert len(records) == 1, run.output[-3000:]
        for entry in instance.all_logs(records[0].run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "ASSET_CHECK_EVALUATION":
                data = event.asset_check_evaluation_data
                run.checks[(data.asset_key.to_user_string(), data.check_name)] = data
            elif event.is_step_materialization:
                materialization = event.step_materialization_data.materialization
                run.materializations[materialization.asset_key.to_user_string()] = {
                    name: metadata_value(value) for name, value in materialization.metadata.items()
                }
            elif event.is_step_failure:
                run.failures[event.step_key] = _error_text(event)
            elif event.is_step_success:
                run.succeeded.add(event.step_key)
    return run


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
