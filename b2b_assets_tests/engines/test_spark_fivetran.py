"""Sources in Fivetran's shapes read on Spark give the tables they give on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2b_assets_tests.conftest import materialize_env
from b2b_assets_tests.engines.test_spark_graph import assert_same_on_spark
from b2b_assets_tests.sources.fivetran_landing import fivetran_demo

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.slow]  # the whole graph on Spark: minutes


def test_fivetran_shapes_give_the_same_tables_on_spark(spark, tmp_path: Path):
    data = fivetran_demo(tmp_path)
    run = materialize_env(data, tmp_path / "warehouse.duckdb", "2026-11-15")
    assert run.result.success
    (tmp_path / "spark").mkdir()
    assert_same_on_spark(run, tmp_path / "spark")
