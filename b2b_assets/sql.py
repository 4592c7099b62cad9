"""Small helpers for running SQL on a DuckDB connection."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import duckdb
import polars as pl


def literal(text: str) -> str:
    """A SQL string literal of `text` (quotes doubled), for values from code or config."""
    return "'" + text.replace("'", "''") + "'"


def quoted(table: str) -> str:
    """`schema.table` as SQL names it, the table's name quoted."""
    schema, name = table.split(".", 1)
    return f'{schema}."{name}"'


def relation_kind(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    """ "table" or "view" for `schema.name` (`schema` "temp" for this connection's temporary
    ones), None when there is none."""
    query = """SELECT any_value(kind) FROM (
                   SELECT 'table' AS kind, schema_name, table_name AS name, temporary
                   FROM duckdb_tables()
                   UNION ALL
                   SELECT 'view', schema_name, view_name, temporary
                   FROM duckdb_views() WHERE NOT internal)
               WHERE name = $n
               AND (schema_name = $s AND NOT temporary OR $s = 'temp' AND temporary)"""
    return scalar(con, query, {"s": schema, "n": name})


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists, as a table or a view (`schema` "temp" for this
    connection's temporary tables)."""
    return relation_kind(con, schema, table) is not None


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: Any = None) -> Any:
    """The first value of the first row (the whole result is fetched)."""
    rows = con.execute(query, params).fetchall() if params else con.execute(query).fetchall()
    return rows[0][0] if rows else None


def frame(con: duckdb.DuckDBPyConnection, query: str, params: Any = None) -> pl.DataFrame:
    """A query's result as a Polars frame, through Arrow."""
    relation = con.sql(query, params=params) if params else con.sql(query)
    return utc_frame(pl.from_arrow(relation.to_arrow_table()))  # type: ignore[arg-type]


def utc_frame(result: pl.DataFrame) -> pl.DataFrame:
    """DuckDB names the session zone as it was set ("UTC" or "Etc/UTC"); all times are UTC."""
    return result.with_columns(
        pl.col(name).dt.replace_time_zone(None).dt.replace_time_zone("UTC")
        for name, dtype in result.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC")
    )


def compact_json(value: Any) -> str:
    """A value as JSON on one line, without spaces (dates and other values as text)."""
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def _json_container(text: str) -> list | dict | None:
    """The list or object a string holds as JSON, else None."""
    stripped = text.strip()
    if stripped[:1] + stripped[-1:] not in ("{}", "[]"):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return parsed if isinstance(parsed, list | dict) else None


def markdown_cell(value: Any, width: int | None = 60) -> str:
    """One value on one line: lists, dicts and JSON text whole, as compact JSON; other text
    longer than `width` characters (None: no limit) ends in "…"."""
    if isinstance(value, list | tuple | dict):
        return compact_json(value)
    parsed = _json_container(value) if isinstance(value, str) else None
    if parsed is not None:
        return compact_json(parsed)
    text = " ".join(str(value).splitlines())
    if width is not None and len(text) > width:
        return text[: max(width - 1, 0)] + "…"
    return text


def markdown_table(
    columns: list[str], rows: Iterable[Iterable[Any]], width: int | None = 60
) -> str:
    """Rows as a Markdown table for metadata, each cell on one line (see `markdown_cell`)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = (markdown_cell(value, width).replace("|", "\\|") for value in row)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
