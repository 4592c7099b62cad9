"""Smoke test of `python -m benchmarks.bench`: generate, run the platform and the floor, compare.

Runs the whole graph through the dagster CLI at a tiny scale and, for the lower bounds, on the
demo data, so it takes about as long as two `dagster asset materialize` runs of the whole graph
(mostly fixed start-up and per-step costs).
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys

import duckdb
import pytest

from b2b_assets.sources.catalog import snake_case
from b2b_assets_tests.conftest import REPO_ROOT, copy_demo


@pytest.mark.slow
def test_bench_end_to_end_at_a_tiny_scale(tmp_path):
    markdown = tmp_path / "bench.md"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench",
            "--scale",
            "0.001",
            "--data",
            str(tmp_path / "env"),
            "--skip-pandas",
            "--lower-bounds",
            "--markdown",
            str(markdown),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    ratio_lines = [line for line in result.stdout.splitlines() if "platform/floor" in line]
    assert ratio_lines and "wall" in ratio_lines[0], output[-5000:]
    assert "all identical and equal to expected.json's seed_audience" in result.stdout
    assert "| platform: `dagster asset materialize --select '*'`" in markdown.read_text()
    bounds = result.stdout.split("lower bounds of any run of this graph here:", 1)[-1]
    assert "raw copy (benchmarks/raw_copy.py)" in bounds, output[-5000:]
    assert re.search(r"the graph on the demo data \([1-9][0-9]* steps\)", bounds), output[-5000:]
    assert "- together:" in markdown.read_text()


def test_raw_copy_copies_every_object_of_the_environment_as_it_is(tmp_path):
    env = copy_demo(tmp_path / "env")
    database = tmp_path / "copy.duckdb"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "raw_copy.py"), str(env), str(database)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = {}
    for path in env.glob("**/*.csv"):
        object_table = snake_case(path.stem)
        table = object_table if path.parent == env else f"{path.parent.name}__{object_table}"
        with path.open(newline="", encoding="utf-8-sig") as handle:
            expected[table.lower()] = sum(1 for _ in csv.reader(handle)) - 1
    with duckdb.connect(str(database), read_only=True) as con:
        tables = {name for (name,) in con.execute("SHOW TABLES").fetchall()}
        copied = {
            name.lower(): con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
            for name in tables
        }
    assert copied == expected
    assert f"copied {len(expected)} objects" in result.stdout
