"""The blocking schema check every table declares (Pandera runs it: `pandera_checks`)."""

from __future__ import annotations

from dagster import AssetCheckSpec, AssetKey

CHECK_NAME = "pandera_schema"


def schema_check_spec(key: AssetKey, table: str) -> AssetCheckSpec:
    """A blocking check: if the table breaks its schema, nothing downstream runs."""
    return AssetCheckSpec(
        name=CHECK_NAME,
        asset=key,
        blocking=True,
        description=f"Pandera schema {table}: column types, nullability, uniqueness and "
        "value checks.",
    )
