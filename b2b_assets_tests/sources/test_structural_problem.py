"""Data problems: a structural problem, Fivetran's column names in every activities file (one
CLI run): one failure naming every file, and nothing below it built.
"""

from __future__ import annotations

import csv

import pytest

from b2b_assets_tests.conftest import copy_demo, table_names
from b2b_assets_tests.sources.data_problems import CliRun, read_rows, run_cli

FIVETRAN = ["id", "lead_id", "activity_date", "activity_type_id", "primary_attribute_value"]
PARTS = ["part-0001.csv", "part-0002.csv", "part-0003.csv"]


@pytest.fixture(scope="module")
def structural_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    root = tmp_path_factory.mktemp("data_problems_structural")
    data_dir = copy_demo(root / "data")
    marketo_1 = data_dir / "landing" / "marketo_1"
    rows = read_rows(marketo_1 / "activities.csv")
    (marketo_1 / "activities.csv").unlink()
    folder = marketo_1 / "activities"
    folder.mkdir()
    for index, part in enumerate(PARTS):
        with (folder / part).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(FIVETRAN)
            for row in rows[index::3]:
                writer.writerow(
                    [
                        row["marketoGUID"],
                        row["leadId"],
                        row["activityDate"],
                        row["activityTypeId"],
                        row.get("primaryAttributeValue", ""),
                    ]
                )
    return run_cli(root, data_dir)


def test_structural_problem_fails_the_step_with_one_message(structural_run: CliRun) -> None:
    assert structural_run.returncode != 0
    assert set(structural_run.failures) == {"raw"}
    message = structural_run.failures["raw"]
    folder = structural_run.data_dir / "landing" / "marketo_1" / "activities"
    for part in PARTS:
        assert str(folder / part) in message, message
    assert message.count("marketoGUID") >= 3, message
    assert "3 files of activities" in message, message
    assert "Nothing below raw/marketo_1__activities is built until this is fixed." in message


def test_structural_problem_ends_the_output_with_the_cause_and_what_was_not_built(
    structural_run: CliRun,
) -> None:
    _, summary = structural_run.split_at_summary()
    failed = [line for line in summary if "failed raw/marketo_1__activities:" in line]
    assert len(failed) == 1, "\n".join(summary)
    assert " ERROR " in failed[0]
    for part in PARTS:
        assert part in failed[0]
    assert "marketoGUID" in failed[0]
    (not_built,) = [line for line in summary if "not built, because an input failed" in line]
    assert "audience/new_product_upsell" in not_built
    last = structural_run.lines[-8:]
    assert any(failed[0] == line for line in last), "\n".join(last)
    assert any(not_built == line for line in last), "\n".join(last)
    assert len(structural_run.lines) < 60, structural_run.output


def test_structural_problem_publishes_no_audience(structural_run: CliRun) -> None:
    assert "audience/new_product_upsell" not in structural_run.materializations
    assert "audience__new_product_upsell" not in structural_run.succeeded
    assert table_names(structural_run.warehouse, ["audience"]) == []
    assert table_names(structural_run.warehouse, ["raw"]), "the other raw tables are published"
    assert 'raw."marketo_1__activities"' not in table_names(structural_run.warehouse, ["raw"])
