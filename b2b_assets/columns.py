"""A table's columns, declared once beside its query.

From the declarations come the table's Pandera schema (its blocking check), the column schema
shown in the UI, the SQL types of its empty form, and the fields a segment may use (see
`b2b_assets.segments.schema`), so a column's type and meaning are written one time. Pandera
is imported only to check a table: loading the definitions (every run's process) does not pay
for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from dagster import TableColumn, TableSchema

if TYPE_CHECKING:
    import pandera.polars as pa

Kind = Literal["text", "key", "number", "integer", "flag", "timestamp", "date", "text_list", "json"]
KEY_FORMAT = r"(?s)^.+@[a-z][a-z0-9_]*$"  # `<id>@<instance>`: ids kept as the source wrote them

# kind -> (Polars type, SQL type, the type a segment sees: None if a segment cannot use it)
KINDS: dict[str, tuple[pl.DataType, str, str | None]] = {
    "text": (pl.String(), "VARCHAR", "text"),
    "key": (pl.String(), "VARCHAR", "text"),
    "json": (pl.String(), "VARCHAR", None),
    "number": (pl.Float64(), "DOUBLE", "number"),
    "integer": (pl.Int64(), "BIGINT", "number"),
    "flag": (pl.Boolean(), "BOOLEAN", "bool"),
    "timestamp": (pl.Datetime("us", "UTC"), "TIMESTAMPTZ", "timestamp"),
    "date": (pl.Date(), "DATE", "date"),
    "text_list": (pl.List(pl.String()), "VARCHAR[]", None),
}


@dataclass(frozen=True)
class Rule:
    """A value check of a column: Pandera's built-in check of that name with these arguments,
    e.g. `Rule("isin", (values,))`, `Rule("ge", (0,))`, `Rule("str_length", (1, 5))`. Checks
    with a SQL form (not null, `isin`, `str_matches`, `ge`, ...) run in the warehouse."""

    name: str
    args: tuple[Any, ...] = ()

    def to_pandera(self) -> pa.Check:
        import pandera.polars as pa

        return getattr(pa.Check, self.name)(*self.args)


@dataclass(frozen=True)
class Column:
    """One column: its name, kind, meaning and checks."""

    name: str
    kind: Kind
    meaning: str = ""
    nullable: bool = True
    unique: bool = False
    checks: tuple[Rule, ...] = ()

    @property
    def sql_type(self) -> str:
        return KINDS[self.kind][1]

    @property
    def field_type(self) -> str | None:
        """The type a segment compares it as (None: not usable in a condition)."""
        return KINDS[self.kind][2]

    def to_pandera(self) -> pa.Column:
        import pandera.polars as pa

        return pa.Column(
            KINDS[self.kind][0],
            [rule.to_pandera() for rule in self.checks] or None,
            nullable=self.nullable,
            unique=self.unique,
            description=self.meaning or None,
        )


def text(
    name: str,
    meaning: str = "",
    nullable: bool = True,
    unique: bool = False,
    one_of: Iterable[str] | None = None,
    pattern: str | None = None,
) -> Column:
    checks = (Rule("isin", (tuple(one_of),)),) if one_of is not None else ()
    checks += (Rule("str_matches", (pattern,)),) if pattern else ()
    return Column(name, "text", meaning, nullable, unique, checks)


def key(name: str, meaning: str, unique: bool = True, nullable: bool = False) -> Column:
    """A `<id>@<instance>` source key."""
    return Column(name, "key", meaning, nullable, unique, (Rule("str_matches", (KEY_FORMAT,)),))


def number(name: str, meaning: str = "", nullable: bool = True) -> Column:
    return Column(name, "number", meaning, nullable)


def integer(
    name: str, meaning: str = "", nullable: bool = True, minimum: int | None = None
) -> Column:
    checks = (Rule("ge", (minimum,)),) if minimum is not None else ()
    return Column(name, "integer", meaning, nullable, checks=checks)


def count(name: str, meaning: str) -> Column:
    """How many of something: never negative, never missing."""
    return integer(name, meaning, nullable=False, minimum=0)


def flag(name: str, meaning: str, nullable: bool = False) -> Column:
    return Column(name, "flag", meaning, nullable)


def moment(name: str, meaning: str, nullable: bool = True) -> Column:
    return Column(name, "timestamp", meaning, nullable)


def day(name: str, meaning: str) -> Column:
    return Column(name, "date", meaning)


def text_list(name: str, meaning: str, nullable: bool = False) -> Column:
    return Column(name, "text_list", meaning, nullable)


def table_schema(
    table: str, columns: Sequence[Column], unique: Sequence[str] | None = None
) -> pa.DataFrameSchema:
    """The table's Pandera schema: exactly these columns, in this order."""
    import pandera.polars as pa

    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        raise ValueError(f"{table}: a column is declared twice in {names}")
    return pa.DataFrameSchema(
        {column.name: column.to_pandera() for column in columns},
        name=table,
        strict=True,
        unique=list(unique) if unique else None,
    )


def sql_types(columns: Sequence[Column], until: str | None = None) -> dict[str, str]:
    """Name -> SQL type of the columns (those before `until`, if given): the shape of an
    empty table of them."""
    types: dict[str, str] = {}
    for column in columns:
        if column.name == until:
            break
        types[column.name] = column.sql_type
    return types


def by_name(columns: Sequence[Column]) -> dict[str, Column]:
    return {column.name: column for column in columns}


def column_metadata(columns: Sequence[Column]) -> TableSchema:
    """The columns as Dagster column metadata, so the UI shows them."""
    return TableSchema(
        columns=[
            TableColumn(
                name=column.name,
                type=str(KINDS[column.kind][0]),
                description=column.meaning or None,
            )
            for column in columns
        ]
    )
