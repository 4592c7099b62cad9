"""The Spark steps through a Spark Connect server (`B2B_SPARK_REMOTE`): the same tests as in
local mode, on a session that has only the DataFrame API and SQL (no RDDs, no JVM)."""

from __future__ import annotations

import pytest

from b2b_assets_tests.engines import test_spark_reader, test_spark_tables

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark


@pytest.mark.parametrize(
    "step",
    [
        test_spark_tables.test_a_failed_check_keeps_the_last_good_table,
        test_spark_tables.test_components_by_label_propagation,
        test_spark_tables.test_a_pandera_check_blocks_a_bad_table_on_spark,
    ],
    ids=lambda step: step.__name__.removeprefix("test_"),
)
def test_tables_through_spark_connect(step, connect):
    step(connect)


def test_records_are_numbered_through_spark_connect(connect, tmp_path):
    test_spark_reader.test_records_are_numbered_in_file_order_across_partitions(connect, tmp_path)
