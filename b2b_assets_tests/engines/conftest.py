"""One Spark session (local[2]) for the Spark tests of this folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """A session and the tables of its own warehouse; stopped after the tests."""
    pytest.importorskip("pyspark")
    from b2b_assets.engines.spark import SparkSettings, SparkTables, spark_session

    warehouse = tmp_path_factory.mktemp("spark") / "spark-warehouse"
    session = spark_session(SparkSettings(warehouse=warehouse, master="local[2]"))
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield SparkTables(session, warehouse)
    session.stop()
