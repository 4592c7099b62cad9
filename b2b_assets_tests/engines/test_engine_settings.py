"""The contract's engine settings (section 6), read without starting Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2b_assets.engines.spark import SparkSettings, engine_name
from b2b_assets.settings import SettingsError


def test_duckdb_is_the_default_engine_and_spark_the_other():
    assert engine_name({}) == "duckdb"
    assert engine_name({"B2B_ENGINE": " Spark "}) == "spark"
    with pytest.raises(SettingsError, match="B2B_ENGINE='flink'"):
        engine_name({"B2B_ENGINE": "flink"})


def test_spark_settings_default_to_the_contract(tmp_path: Path):
    settings = SparkSettings.from_env(tmp_path, {})
    assert settings.master == "local[*]" and settings.remote is None
    assert settings.warehouse == (tmp_path / "spark-warehouse").resolve()
    given = SparkSettings.from_env(
        tmp_path,
        {
            "B2B_SPARK_MASTER": "spark://host:7077",
            "B2B_SPARK_REMOTE": "sc://host:15002",
            "B2B_SPARK_WAREHOUSE": str(tmp_path / "lake"),
        },
    )
    assert (given.master, given.remote) == ("spark://host:7077", "sc://host:15002")
    assert given.warehouse == (tmp_path / "lake").resolve()
    with pytest.raises(SettingsError, match="not a Spark Connect URL"):
        SparkSettings.from_env(tmp_path, {"B2B_SPARK_REMOTE": "http://host"})
