"""Account matching with `B2B_ENGINE=spark`: Splink's Spark backend gives the pairs, decisions
and unified accounts that its DuckDB backend gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2b_assets_tests.conftest import Landing, materialize_env
from b2b_assets_tests.engines.test_spark_graph import differing_tables, on_spark
from b2b_assets_tests.identity.test_account_matching import AS_OF, build

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.slow]  # the whole graph on Spark: minutes

COMPARED = ("identity.account_match", "identity.account", "identity.lead_account")


def test_matching_gives_the_same_tables_on_spark(spark, tmp_path: Path):
    env = Landing(tmp_path / "env")
    build(env)
    run = materialize_env(env.root, tmp_path / "warehouse.duckdb", AS_OF)
    assert run.result.success
    (tmp_path / "spark").mkdir()
    spark_run, warehouse = on_spark(run, tmp_path / "spark")
    assert spark_run.failed_steps() == set()
    differing, names = differing_tables(run, warehouse)
    assert set(COMPARED) <= set(names)
    assert not {name: rows for name, rows in differing.items() if name in COMPARED}
    assert not differing, sorted(differing)
