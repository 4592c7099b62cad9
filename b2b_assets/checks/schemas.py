"""The columns of the raw objects, generated from the catalog; the other layers declare theirs
beside their queries (see `b2b_assets.columns`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from b2b_assets import columns as c
from b2b_assets.columns import KEY_FORMAT, Column, Rule
from b2b_assets.sources.catalog import ObjectSpec

if TYPE_CHECKING:
    import pandera.polars as pa

__all__ = ["KEY_FORMAT", "raw_columns", "raw_schema"]

# The catalog's kinds of value -> the kinds of column they are read as.
RAW_KINDS: dict[str, c.Kind] = {
    "string": "text",
    "id": "text",
    "sfid": "text",
    "bool": "flag",
    "timestamp": "timestamp",
    "date": "date",
    "double": "number",
    "int": "integer",
    "json": "json",
}


def raw_columns(spec: ObjectSpec) -> list[Column]:
    """A raw object's typed columns (a key or a defaulted column is never null), then where
    each row came from."""
    return [
        *(
            Column(
                column.field,
                RAW_KINDS[column.kind],
                f"{column.name} ({column.kind})",
                nullable=column.name not in spec.key and column.default is None,
            )
            for column in spec.columns
        ),
        c.text("_source_instance", "the source instance", nullable=False),
        c.text("_file_name", "the landing file the row came from", nullable=False),
        Column(
            "_row_number",
            "integer",
            "the row in that file (1 = first data row)",
            nullable=False,
            checks=(Rule("ge", (1,)),),
        ),
        c.moment("_loaded_at", "when it was read", nullable=False),
    ]


def raw_schema(spec: ObjectSpec, table: str) -> pa.DataFrameSchema:
    """The schema of a raw object: typed columns, keys present and unique."""
    key_fields = [spec.column(name).field for name in spec.key]
    return c.table_schema(table, raw_columns(spec), unique=key_fields)
