"""Tables derived row by row from append-only raw objects, brought up to date load by load.

The raw reader records every file it reads in `ops.loaded_files` with the id of its load. A
derived table remembers in `ops.derived_loads` which loads it has taken in. When its raw
tables only gained loads since (new files appended), just the rows of those loads are
transformed: rows with the same key are replaced, the others added. Anything else (a raw table
read again in full, a first build) rebuilds the table from all rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from b2b_assets import generations
from b2b_assets.model.sql_parts import union
from b2b_assets.sql import quoted, scalar, table_exists

STATE_DDL = """
CREATE TABLE IF NOT EXISTS ops.derived_loads (
    asset VARCHAR, raw_table VARCHAR, load_id VARCHAR, built_at TIMESTAMPTZ
)"""
FULL_BUILD = ""  # the raw_table of the row that marks a table as built from tracked loads
ADDED = "_added_keys"
CHANGED = "_changed_values"


@dataclass(frozen=True)
class RawPart:
    """The rows one raw table contributes: `select` reads them from `{rows}`."""

    raw_table: str  # as ops.loaded_files names it, e.g. raw.marketo_1__activities
    select: str


def _loads(con: duckdb.DuckDBPyConnection, raw_table: str) -> set[str]:
    if not table_exists(con, "ops", "loaded_files"):
        return set()
    rows = con.execute(
        "SELECT DISTINCT load_id FROM ops.loaded_files WHERE raw_table = $t", {"t": raw_table}
    ).fetchall()
    return {row[0] for row in rows}


def _taken_in(con: duckdb.DuckDBPyConnection, asset: str) -> dict[str, set[str]] | None:
    """The loads each raw table gave the table, or None if it was not built from tracked loads."""
    rows = con.execute(
        "SELECT raw_table, load_id FROM ops.derived_loads WHERE asset = $a", {"a": asset}
    ).fetchall()
    if not any(raw_table == FULL_BUILD for raw_table, _ in rows):
        return None
    taken: dict[str, set[str]] = {}
    for raw_table, load_id in rows:
        if raw_table != FULL_BUILD:
            taken.setdefault(raw_table, set()).add(load_id)
    return taken


def _rows_of_loads(quoted: str) -> str:
    """The rows of a raw table read by the loads `$loads` of `$raw_table` (parameters)."""
    return (
        f"(SELECT * FROM {quoted} WHERE _file_name IN (SELECT file_name FROM ops.loaded_files "
        "WHERE raw_table = $raw_table AND list_contains($loads, load_id)))"
    )


def whole_select(parts: Sequence[RawPart], empty_select: str) -> str:
    """The table built whole from its raw parts, as one query."""
    return union([part.select.format(rows=quoted(part.raw_table)) for part in parts], empty_select)


def build_by_load(
    con: duckdb.DuckDBPyConnection,
    target: str,
    key_column: str,
    parts: Sequence[RawPart],
    empty_select: str,
    changed_column: str | None = None,
) -> dict[str, Any]:
    """Bring `target` (`schema.table`, also its name in `ops.derived_loads`) up to date with its
    raw parts; returns what was done, as metadata. Each build is a generation of `target`
    (see `b2b_assets.generations`); an appending one records the values of `changed_column`
    of the rows it replaced and added, so the tables read from it can follow in place."""
    con.execute(STATE_DDL)
    con.execute(f"DROP TABLE IF EXISTS {ADDED}")
    con.execute(f"DROP TABLE IF EXISTS {CHANGED}")
    schema, table = target.split(".", 1)
    now = {part.raw_table: _loads(con, part.raw_table) for part in parts}
    taken = _taken_in(con, target) if table_exists(con, schema, table) else None
    appendable = taken is not None and all(
        taken.get(name, set()) <= loads for name, loads in now.items()
    )
    if not appendable:
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {whole_select(parts, empty_select)}")
        _remember(con, target, now, replace=True)
        generations.record(con, target)
        return {"build": "full", "loads_taken_in": sum(len(v) for v in now.values())}
    assert taken is not None
    new = {name: sorted(loads - taken.get(name, set())) for name, loads in now.items()}
    con.execute(f"CREATE TEMP TABLE {ADDED} AS SELECT {key_column} FROM {target} WHERE FALSE")
    changed = changed_column or key_column
    con.execute(f"CREATE TEMP TABLE {CHANGED} AS SELECT {changed} AS v FROM {target} WHERE FALSE")
    for part in parts:
        if not new[part.raw_table]:
            continue
        rows = _rows_of_loads(quoted(part.raw_table))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _slice AS {part.select.format(rows=rows)}",
            {"loads": new[part.raw_table], "raw_table": part.raw_table},
        )
        con.execute(
            f"INSERT INTO {CHANGED} SELECT t.{changed} FROM {target} AS t "
            f"SEMI JOIN _slice AS s ON t.{key_column} = s.{key_column}"
        )
        con.execute(
            f"DELETE FROM {target} AS t USING _slice AS s WHERE t.{key_column} = s.{key_column}"
        )
        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM _slice")
        con.execute(f"INSERT INTO {ADDED} SELECT {key_column} FROM _slice")
        con.execute(f"INSERT INTO {CHANGED} SELECT {changed} FROM _slice")
        con.execute("DROP TABLE _slice")
    _remember(con, target, new, replace=False)
    generations.record(con, target, f"SELECT v FROM {CHANGED}")
    return {
        "build": "append",
        "loads_taken_in": sum(len(v) for v in new.values()),
        "rows_added": scalar(con, f"SELECT count(*) FROM {ADDED}"),
    }


def _remember(
    con: duckdb.DuckDBPyConnection, asset: str, loads: dict[str, Any], replace: bool
) -> None:
    if replace:
        con.execute("DELETE FROM ops.derived_loads WHERE asset = $a", {"a": asset})
        con.execute(
            "INSERT INTO ops.derived_loads VALUES ($a, $t, '', now())",
            {"a": asset, "t": FULL_BUILD},
        )
    rows = [(asset, name, load_id) for name, ids in loads.items() for load_id in ids]
    if rows:
        con.executemany("INSERT INTO ops.derived_loads VALUES (?, ?, ?, now())", rows)


def added_rows_scope(key_column: str):
    """The validation scope of an appending build: only the rows it added (None after a full
    build, which is checked whole)."""

    def scope(con: duckdb.DuckDBPyConnection) -> str | None:
        if not table_exists(con, "temp", ADDED):
            return None
        return f"{key_column} IN (SELECT {key_column} FROM {ADDED})"

    return scope
