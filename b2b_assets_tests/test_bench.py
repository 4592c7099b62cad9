"""Smoke test of `python -m b2b_assets.bench`: generate, run the platform and the floor, compare.

Runs the whole graph through the dagster CLI once at a tiny scale, so it takes about as long as
one `dagster asset materialize` of the whole graph (mostly fixed start-up and per-step costs).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_end_to_end_at_a_tiny_scale(tmp_path):
    markdown = tmp_path / "bench.md"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "b2b_assets.bench",
            "--scale",
            "0.001",
            "--data",
            str(tmp_path / "env"),
            "--skip-pandas",
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
