"""Which version of its inputs a table was built from, so a small change is applied in place.

Every build of a table that takes part is a generation (`ops.generations`): built whole, or
changed in place, with the keys it changed (`ops.changed_keys`). A table maintained in place
records the generation of each input it read (`ops.built_from`). Its next build may update
only the rows of the keys its changing input changed since, if its other inputs are the same
generations and every generation of the changing input in between was itself a change in
place; anything else (a first build, an input rebuilt whole, another as-of) rebuilds it whole.
All of this is written in the build's transaction: a build that is not published leaves no
trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import duckdb

from b2b_assets.sql import scalar, table_exists

TABLE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")  # tables the platform names itself

STATE_DDL = (
    "CREATE TABLE IF NOT EXISTS ops.generations "
    "(table_name VARCHAR, generation BIGINT, whole BOOLEAN, built_at TIMESTAMPTZ)",
    "CREATE TABLE IF NOT EXISTS ops.changed_keys "
    "(table_name VARCHAR, generation BIGINT, key VARCHAR)",
    "CREATE TABLE IF NOT EXISTS ops.built_from "
    "(table_name VARCHAR, input VARCHAR, generation BIGINT, setting VARCHAR)",
)


def ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    """Create the bookkeeping tables (once per table build, before anything here is asked)."""
    for ddl in STATE_DDL:
        con.execute(ddl)


def current(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The table's latest generation (0: never recorded)."""
    return int(
        scalar(
            con,
            "SELECT coalesce(max(generation), 0) FROM ops.generations WHERE table_name = $t",
            {"t": table},
        )
    )


def record(con: duckdb.DuckDBPyConnection, table: str, changed_keys: str | None = None) -> int:
    """A new generation of `table`: built whole, or (with `changed_keys`, a query of one
    column) changed in place for those keys. Returns its number."""
    generation = current(con, table) + 1
    con.execute(
        "INSERT INTO ops.generations VALUES ($t, $g, $w, now())",
        {"t": table, "g": generation, "w": changed_keys is None},
    )
    if changed_keys is None:
        con.execute("DELETE FROM ops.changed_keys WHERE table_name = $t", {"t": table})
    else:
        con.execute(
            f"INSERT INTO ops.changed_keys SELECT DISTINCT $t, $g, k FROM ({changed_keys}) AS c(k) "
            "WHERE k IS NOT NULL",
            {"t": table, "g": generation},
        )
    return generation


def remember_inputs(
    con: duckdb.DuckDBPyConnection, table: str, inputs: Sequence[str], setting: str = ""
) -> None:
    """`table` was just built from the current generation of each input, with `setting`
    (e.g. the as-of instant)."""
    con.execute("DELETE FROM ops.built_from WHERE table_name = $t", {"t": table})
    for name in inputs:
        con.execute(
            "INSERT INTO ops.built_from VALUES ($t, $i, $g, $s)",
            {"t": table, "i": name, "g": current(con, name), "s": setting},
        )
        # The changes every reader of the input has taken in are not needed again.
        con.execute(
            """DELETE FROM ops.changed_keys WHERE table_name = $i AND generation <=
               (SELECT min(generation) FROM ops.built_from WHERE input = $i)""",
            {"i": name},
        )


def changes_since_built(
    con: duckdb.DuckDBPyConnection,
    table: str,
    changing: str,
    stable: Sequence[str],
    setting: str = "",
) -> str | None:
    """A query of the keys of `changing` that changed since `table` was built from it, or None
    if `table` must be built whole (see the module docstring)."""
    if not TABLE.match(changing):
        raise ValueError(f"not a table name: {changing!r}")
    schema, name = table.split(".", 1)
    if not table_exists(con, schema, name):
        return None
    rows = con.execute(
        "SELECT input, generation, setting FROM ops.built_from WHERE table_name = $t",
        {"t": table},
    ).fetchall()
    built: Mapping[str, int] = {row[0]: row[1] for row in rows}
    if not rows or any(row[2] != setting for row in rows):
        return None
    if set(built) != {changing, *stable}:
        return None
    if any(current(con, input_) != built[input_] for input_ in stable):
        return None
    since, now = built[changing], current(con, changing)
    whole = scalar(
        con,
        "SELECT count(*) FROM ops.generations WHERE table_name = $t AND generation > $a "
        "AND generation <= $b AND whole",
        {"t": changing, "a": since, "b": now},
    )
    if whole:
        return None
    return (
        "SELECT DISTINCT key FROM ops.changed_keys "
        f"WHERE table_name = '{changing}' AND generation > {int(since)} "
        f"AND generation <= {int(now)}"
    )


def follow_in_place(
    con: duckdb.DuckDBPyConnection,
    table: str,
    whole: str,
    changing: str,
    stable: Sequence[str],
    touched: str,
    apply: Callable[[str], None],
    setting: str = "",
    params: Mapping[str, Any] | None = None,
) -> int | None:
    """Build `table` whole from the query `whole` (with `params`), or in place when only
    `changing` changed since its last build (see `changes_since_built`): `touched`, a query
    with `{changed}` for the keys `changing` changed, gives the keys of `table` to bring up to
    date, and `apply` does it given a query of those keys. Records the generation and the
    inputs; returns how many keys were touched (None: built whole)."""
    temp = "_touched_" + table.replace(".", "_")
    con.execute(f"DROP TABLE IF EXISTS {temp}")
    changed = changes_since_built(con, table, changing, stable, setting)
    if changed is None:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {whole}", params)
        record(con, table)
        count = None
    else:
        con.execute(
            f"CREATE TEMP TABLE {temp} AS SELECT * FROM ({touched.format(changed=changed)}) "
            "AS t(key)"
        )
        keys = f"SELECT key FROM {temp}"
        apply(keys)
        record(con, table, keys)
        count = int(scalar(con, f"SELECT count(*) FROM {temp}"))
    remember_inputs(con, table, [changing, *stable], setting)
    return count
