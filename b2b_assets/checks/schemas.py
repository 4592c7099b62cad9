"""Pandera schemas: generated for raw objects, declared for the modelled layers."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from b2b_assets.sources.catalog import ObjectSpec

POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "id": pl.String(),
    "sfid": pl.String(),
    "bool": pl.Boolean(),
    "timestamp": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
    "double": pl.Float64(),
    "int": pl.Int64(),
    "json": pl.String(),
}

TEXT = pl.String()
KEY_FORMAT = r"(?s)^.+@[a-z][a-z0-9_]*$"  # ids are kept as the source wrote them


def raw_schema(spec: ObjectSpec, table: str) -> pa.DataFrameSchema:
    """The schema of a raw object: typed columns, keys present and unique."""
    columns = {
        column.field: pa.Column(
            POLARS_TYPES[column.kind],
            nullable=column.name not in spec.key and column.default is None,
            description=f"{column.name} ({column.kind})",
        )
        for column in spec.columns
    }
    columns["_source_instance"] = pa.Column(TEXT, description="the source instance")
    columns["_file_name"] = pa.Column(TEXT, description="the landing file the row came from")
    columns["_row_number"] = pa.Column(
        pl.Int64(), pa.Check.ge(1), description="the row in that file (1 = first data row)"
    )
    columns["_loaded_at"] = pa.Column(pl.Datetime("us", "UTC"), description="when it was read")
    key_fields = [spec.column(name).field for name in spec.key]
    return pa.DataFrameSchema(columns, unique=key_fields, name=table, strict=True)


def key_column(description: str, unique: bool = True, nullable: bool = False) -> pa.Column:
    """A `<id>@<instance>` source key."""
    return pa.Column(
        TEXT,
        pa.Check.str_matches(KEY_FORMAT),
        unique=unique,
        nullable=nullable,
        description=description,
    )


def text(description: str, nullable: bool = True, unique: bool = False) -> pa.Column:
    return pa.Column(TEXT, nullable=nullable, unique=unique, description=description)


def flag(description: str, nullable: bool = False) -> pa.Column:
    return pa.Column(pl.Boolean(), nullable=nullable, description=description)


def money(description: str, nullable: bool = True) -> pa.Column:
    return pa.Column(pl.Float64(), nullable=nullable, description=description)


def count(description: str) -> pa.Column:
    return pa.Column(pl.Int64(), pa.Check.ge(0), description=description)


def moment(description: str, nullable: bool = True) -> pa.Column:
    return pa.Column(pl.Datetime("us", "UTC"), nullable=nullable, description=description)


def day(description: str) -> pa.Column:
    return pa.Column(pl.Date(), nullable=True, description=description)


def text_list(description: str) -> pa.Column:
    return pa.Column(pl.List(pl.String()), nullable=False, description=description)
